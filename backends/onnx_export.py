"""Export an IR graph (usually the optimized one) to an ONNX model, by walking the op registry.

The walk mirrors `fourier.backends.jax_lowering`: values known at export time stay numpy arrays,
and an op whose operands are all known is evaluated with its numpy reference (the IR's semantics
source), so shape arithmetic and constant subgraphs never reach ONNX. Everything else goes through
one converter per op (`CONVERTERS`), which emits standard ONNX ops (default domain) with
TensorFlow's semantics as Fourier's reference defines them:

- ``GatherV2`` / ``EmbeddingBag``: an id outside ``[0, rows)`` gives a row of zeros (ONNX's Gather
  wraps negative ids and fails on large ones). A constant table only ever gathered from is stored
  with one extra zero row that out-of-range ids are sent to; other gathers mask their rows.
- ``FloorDiv`` / ``FloorMod``: floor semantics (ONNX's integer ``Div`` truncates); an integer
  divisor of zero gives 0, as numpy does. ``OneHot``: out-of-range ids are all off.
- NHWC convolutions and pooling are transposed around ONNX's NCHW ``Conv`` (ONNX Runtime's
  transpose optimizer cancels the transposes between neighbouring convolutions). A 1x1
  convolution that the ``conv-algorithm`` pass marked ``matmul`` is a ``MatMul`` over the channel
  axis, unless the graph also has windowed convolutions (then one NCHW layout is cheaper).
- Fourier's fused ops are expanded: ``FusedDense`` to ``Gemm`` (between two reshapes for rank > 2)
  or ``MatMul`` + ``Add``, then the activation; ``LayerNorm`` to ``LayerNormalization`` (opset >=
  17); ``Gelu`` to the exact erf form (``Gelu`` itself at opset >= 20); ``BatchBroadcast`` to an
  ``Expand`` to the batch of its ``like`` input; ``FusedElementwise`` to its body's steps.

Some forms are chosen for what ONNX Runtime runs fast, each from local facts: a two-operand
``Einsum`` is one ``MatMul`` between transposes/reshapes; a ``ConcatV2`` of one tensor repeated is a
``Tile``; a ``Pack`` of every unit slice of one ``Split`` is a ``Transpose``; a matmul of a transposed
input that keeps the last axis is taken before the transpose. Nodes left unused are pruned.

ONNX Runtime's own graph optimizer fuses the standard patterns into its contrib kernels
(``Gemm`` + activation, ``FusedMatMul`` for transposed operands, ``Gelu`` / ``BiasGelu``,
``SkipLayerNormalization``), so the exported model stays portable (TensorRT, other runtimes) and
loses nothing on ORT; ``contrib_ops=True`` emits ``com.microsoft`` ``Gelu`` / ``FusedMatMul``
directly instead.

Shapes: the batch dimension ``N`` and sequence symbols (``S``) become ``dim_param`` s, or fixed
sizes with ``batch=`` / ``dims=``. Large constants become initializers, identical ones stored once.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from fourier.backends.onnxruntime_exec import PACKED_INPUTS
from fourier.errors import CompileError, FourierError
from fourier.ir.core import Graph
from fourier.ir.types import BATCH, TensorType, dim_to_sym, numpy_dtype
from fourier.ops.registry import InferContext, get_op

__all__ = ["ExportError", "export_onnx", "supported_ops", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 13
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
_MS = "com.microsoft"

# An operand as a converter sees it: a value known at export time, or the name of an ONNX tensor.
Operand = Union[np.ndarray, str]


class ExportError(CompileError):
    """The graph cannot be exported to ONNX; the message names the node(s) and op(s)."""


@dataclass
class _Op:
    """What a converter sees of one node (or of one step of a FusedElementwise body)."""

    op: str
    name: str
    attrs: Mapping[str, Any]
    in_types: list[TensorType]
    out_types: list[TensorType]


Converter = Callable[..., Union[Operand, Sequence[Operand]]]
CONVERTERS: dict[str, Converter] = {}


def _converts(*ops: str) -> Callable[[Converter], Converter]:
    def deco(fn: Converter) -> Converter:
        for op in ops:
            CONVERTERS[op] = fn
        return fn

    return deco


def supported_ops() -> list[str]:
    """The IR ops the exporter converts (any pure op also exports when its operands are constant)."""
    return sorted(CONVERTERS)


def _onnx_dtype(dtype: str | np.dtype) -> int:
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(numpy_dtype(dtype) if isinstance(dtype, str) else dtype))


# -- the model under construction -----------------------------------------------------------------


class _Builder:
    """Nodes, initializers and unique names of the ONNX graph being built."""

    def __init__(self, opset: int, sizes: Mapping[str, int], contrib_ops: bool) -> None:
        self.opset = opset
        self.sizes = dict(sizes)
        self.contrib_ops = contrib_ops
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used_domains: set[str] = set()
        self._names: set[str] = set()
        self._node_names: set[str] = set()
        self._by_digest: dict[str, str] = {}
        self.const_names: dict[int, str] = {}  # id(a Const node's array) -> the node's name
        # Const nodes used only as the table of axis-0 gathers, and their copies with a zero row
        self.gather_tables: set[str] = set()
        self.padded_tables: dict[str, str] = {}
        # ONNX names of ids already bounds-checked in the graph (`_guarded_ids`): (largest valid
        # id, the id out-of-range entries get)
        self.guarded_ids: dict[str, tuple[int, int]] = {}
        # Whether the graph has convolutions that need ONNX's NCHW Conv (a window over H and W,
        # or depthwise): then its 1x1 convolutions are Convs too, so that ONNX Runtime keeps one
        # layout between them (MobileNetV2: 2.3x faster than a MatMul between transposes).
        self.spatial_convs = False
        # What some tensors were made from, for converters that rewrite across ops:
        # Transpose output -> (input, perm); Unsqueeze output (of ExpandDims) -> (input, axes).
        self.transposed_from: dict[str, tuple[str, list[int]]] = {}
        self.unsqueezed_from: dict[str, tuple[str, list[int]]] = {}
        # Split output with size 1 -> (input, axis, index, number of pieces).
        self.unit_split_from: dict[str, tuple[str, int, int, int]] = {}

    def prune(self, keep: Sequence[str]) -> None:
        """Drop the nodes and initializers nothing that ``keep`` needs reads (a converter that
        rewrote across ops leaves the nodes it bypassed unused)."""
        needed = set(keep)
        live = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                live.append(node)
                needed.update(i for i in node.input if i)
        self.nodes = live[::-1]
        self.initializers = [t for t in self.initializers if t.name in needed]

    def reserve(self, name: str) -> None:
        self._names.add(name)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def const(self, value: np.ndarray, base: str) -> str:
        """An initializer holding ``value``; identical values share one."""
        from onnx import numpy_helper

        value = np.asarray(value)
        if not value.flags.c_contiguous:  # (not ascontiguousarray: it makes scalars vectors)
            value = value.copy(order="C")
        if value.dtype == object:
            raise TypeError("a symbolic value cannot be a constant")
        digest = hashlib.sha256(
            value.dtype.str.encode() + str(value.shape).encode() + value.tobytes()
        ).hexdigest()
        if digest not in self._by_digest:
            name = self.fresh(base)
            self.initializers.append(numpy_helper.from_array(value, name))
            self._by_digest[digest] = name
        return self._by_digest[digest]

    def emit(
        self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], domain: str = "", **attrs: Any
    ) -> None:
        from onnx import helper

        base = outputs[0] if outputs else op_type
        name, i = base, 1
        while name in self._node_names:
            name, i = f"{base}_{i}", i + 1
        self._node_names.add(name)
        if domain:
            self.used_domains.add(domain)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(
            helper.make_node(op_type, list(inputs), list(outputs), name=name, domain=domain, **attrs)
        )


class _Ctx:
    """A converter's view: the op being converted and helpers that emit ONNX nodes for it."""

    def __init__(self, b: _Builder, op: _Op) -> None:
        self.b = b
        self.op = op
        self.attrs = op.attrs

    @property
    def opset(self) -> int:
        return self.b.opset

    def fail(self, message: str) -> ExportError:
        return ExportError(f"node {self.op.name!r} ({self.op.op}): {message}")

    # -- operands --

    def t(self, x: Operand, dtype: str | None = None) -> str:
        """``x`` as an ONNX tensor name (a known value becomes an initializer)."""
        if isinstance(x, str):
            return x
        base = self.b.const_names.get(id(x), f"{self.op.name}/const")
        arr = np.asarray(x)
        if dtype is not None:
            arr = arr.astype(numpy_dtype(dtype))
        return self.b.const(arr, base)

    def ints(self, x: Operand, what: str) -> list[int]:
        if isinstance(x, str) or np.asarray(x).dtype == object:
            raise self.fail(f"{what} must be known at export time, but it is computed at run time")
        return [int(v) for v in np.asarray(x).reshape(-1)]

    def i64(self, values: Sequence[int] | int) -> str:
        return self.b.const(np.asarray(values, dtype=np.int64), f"{self.op.name}/i64")

    def scalar(self, value: float | int, dtype: str) -> str:
        return self.b.const(np.asarray(value, dtype=numpy_dtype(dtype)), f"{self.op.name}/scalar")

    # -- types --

    def rank(self, i: int) -> int:
        shape = self.op.in_types[i].shape
        if shape is None:
            raise self.fail(f"input {i} has unknown rank ({self.op.in_types[i]})")
        return len(shape)

    def dim(self, t: TensorType, axis: int) -> int | None:
        """A dimension as a static size (with the export's batch / dims bound), or None."""
        assert t.shape is not None
        s = dim_to_sym(t.shape[axis])
        if s is None or isinstance(s, int):
            return s
        if all(n in self.b.sizes for n in s.names):
            return s.value(self.b.sizes)
        return None

    def static_shape(self, t: TensorType) -> list[int] | None:
        if t.shape is None:
            return None
        dims = [self.dim(t, i) for i in range(len(t.shape))]
        return None if any(d is None for d in dims) else [int(d) for d in dims]  # type: ignore[arg-type]

    def in_dtype(self, i: int) -> str:
        return self.op.in_types[i].dtype

    def out_dtype(self, i: int = 0) -> str:
        return self.op.out_types[i].dtype

    # -- emitting --

    def node(self, op_type: str, *inputs: Operand, domain: str = "", **attrs: Any) -> str:
        return self.nodes(op_type, inputs, 1, domain=domain, **attrs)[0]

    def nodes(
        self, op_type: str, inputs: Sequence[Operand], n: int, domain: str = "", **attrs: Any
    ) -> list[str]:
        names = [self.t(x) if not (isinstance(x, str) and x == "") else "" for x in inputs]
        outs = [self.b.fresh(f"{self.op.name}/{op_type}") for _ in range(n)]
        self.b.emit(op_type, names, outs, domain=domain, **attrs)
        return outs

    def cast(self, x: Operand, dtype: str) -> str:
        return self.node("Cast", x, to=_onnx_dtype(dtype))

    def unsqueeze(self, x: Operand, axes: Sequence[int]) -> str:
        return self.node("Unsqueeze", x, self.i64(list(axes)))

    def squeeze(self, x: Operand, axes: Sequence[int]) -> str:
        return self.node("Squeeze", x, self.i64(list(axes)))

    def reduce(self, kind: str, x: Operand, axes: Sequence[int], keep: bool) -> str:
        """``Reduce<kind>`` over ``axes`` (axes as an input from opset 18, 13 for ReduceSum)."""
        if kind == "Sum" or self.opset >= 18:
            return self.node(f"Reduce{kind}", x, self.i64(list(axes)), keepdims=int(keep))
        return self.node(f"Reduce{kind}", x, axes=list(axes), keepdims=int(keep))

    def shape_of(self, x: Operand, t: TensorType) -> str:
        """The runtime shape of ``x`` (int64 vector), a constant where the type is static."""
        static = self.static_shape(t)
        if static is not None:
            return self.i64(static)
        return self.node("Shape", x)

    def slice(
        self,
        x: Operand,
        starts: Sequence[int],
        ends: Sequence[int],
        axes: Sequence[int],
        steps: Sequence[int],
    ) -> str:
        return self.node("Slice", x, self.i64(starts), self.i64(ends), self.i64(axes), self.i64(steps))

    def where_zero(self, cond: Operand, x: Operand, dtype: str) -> str:
        """``x`` where ``cond``, else 0."""
        return self.node("Where", cond, x, self.scalar(0, dtype))


def _axis(cx: _Ctx, a: int, rank: int, what: str = "axis") -> int:
    if not -rank <= a < max(rank, 1):
        raise cx.fail(f"{what} {a} is out of range for rank {rank}")
    return a % max(rank, 1)


# -- elementwise ----------------------------------------------------------------------------------

_SIMPLE_UNARY = {
    "Abs": "Abs",
    "Ceil": "Ceil",
    "Cos": "Cos",
    "Sin": "Sin",
    "Exp": "Exp",
    "Floor": "Floor",
    "Log": "Log",
    "Neg": "Neg",
    "Reciprocal": "Reciprocal",
    "Inv": "Reciprocal",
    "Sigmoid": "Sigmoid",
    "Sign": "Sign",
    "Sqrt": "Sqrt",
    "Tanh": "Tanh",
    "Erf": "Erf",
    "Softsign": "Softsign",
    "Softplus": "Softplus",
    "Round": "Round",  # half to even, as TensorFlow
    "IsNan": "IsNaN",
    "IsInf": "IsInf",
    "LogicalNot": "Not",
    "Elu": "Elu",
    "Selu": "Selu",  # ONNX's default alpha and gamma are TensorFlow's constants
    "Acos": "Acos",
    "Acosh": "Acosh",
    "Asin": "Asin",
    "Asinh": "Asinh",
    "Atan": "Atan",
    "Atanh": "Atanh",
    "Cosh": "Cosh",
    "Sinh": "Sinh",
    "Tan": "Tan",
    "Rint": "Round",
}


@_converts(*_SIMPLE_UNARY)
def _unary(cx: _Ctx, x: Operand) -> Operand:
    return cx.node(_SIMPLE_UNARY[cx.op.op], x)


_SIMPLE_BINARY = {
    "Add": "Add",
    "AddV2": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "Maximum": "Max",
    "Minimum": "Min",
    "Pow": "Pow",
    "Equal": "Equal",
    "Less": "Less",
    "LessEqual": "LessOrEqual",
    "Greater": "Greater",
    "GreaterEqual": "GreaterOrEqual",
    "LogicalAnd": "And",
    "LogicalOr": "Or",
}


@_converts(*_SIMPLE_BINARY)
def _binary(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    return cx.node(_SIMPLE_BINARY[cx.op.op], x, y)


@_converts("Identity", "Snapshot", "StopGradient", "PreventGradient")
def _identity(cx: _Ctx, x: Operand) -> Operand:
    return x


@_converts("IdentityN")
def _identity_n(cx: _Ctx, *xs: Operand) -> list[Operand]:
    return list(xs)


@_converts("NotEqual")
def _not_equal(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    return cx.node("Not", cx.node("Equal", x, y))


@_converts("IsFinite")
def _is_finite(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("Not", cx.node("Or", cx.node("IsNaN", x), cx.node("IsInf", x)))


@_converts("RealDiv")
def _real_div(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    return cx.node("Div", x, y)  # integer operands truncate, as the reference's astype does


def _is_float(dtype: str) -> bool:
    return dtype in ("float16", "bfloat16", "float32", "float64")


def _nonzero_divisor(cx: _Ctx, y: Operand, dtype: str) -> tuple[str, str]:
    """(y == 0, y with its zeros replaced by 1): an integer division by zero would trap."""
    zero = cx.node("Equal", y, cx.scalar(0, dtype))
    return zero, cx.node("Where", zero, cx.scalar(1, dtype), y)


@_converts("FloorDiv")
def _floor_div(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    dtype = cx.out_dtype()
    if _is_float(dtype):
        return cx.node("Floor", cx.node("Div", x, y))
    # Integer: Div truncates toward zero; step down where the remainder's sign differs from y's.
    zero, safe = _nonzero_divisor(cx, y, dtype)
    q = cx.node("Div", x, safe)
    r = cx.node("Sub", x, cx.node("Mul", q, safe))
    z = cx.scalar(0, dtype)
    adjust = cx.node(
        "And",
        cx.node("Not", cx.node("Equal", r, z)),
        cx.node("Xor", cx.node("Less", r, z), cx.node("Less", safe, z)),
    )
    floor = cx.node("Sub", q, cx.cast(adjust, dtype))
    return cx.node("Where", zero, z, floor)


@_converts("FloorMod")
def _floor_mod(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    dtype = cx.out_dtype()
    if not _is_float(dtype):  # ONNX's integer Mod (fmod=0) takes the divisor's sign: floor mod
        zero, safe = _nonzero_divisor(cx, y, dtype)
        return cx.node("Where", zero, cx.scalar(0, dtype), cx.node("Mod", x, safe))
    # numpy's float mod: fmod, then moved into the divisor's sign.
    r = cx.node("Mod", x, y, fmod=1)
    z = cx.scalar(0, dtype)
    fix = cx.node(
        "And",
        cx.node("Not", cx.node("Equal", r, z)),
        cx.node("Xor", cx.node("Less", r, z), cx.node("Less", y, z)),
    )
    return cx.node("Where", fix, cx.node("Add", r, y), r)


@_converts("DivNoNan")
def _div_no_nan(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    zero, safe = _nonzero_divisor(cx, y, cx.in_dtype(1))
    return cx.node("Where", zero, cx.scalar(0, cx.out_dtype()), cx.node("Div", x, safe))


@_converts("SquaredDifference")
def _squared_difference(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    d = cx.node("Sub", x, y)
    return cx.node("Mul", d, d)


@_converts("Square")
def _square(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("Mul", x, x)


@_converts("Rsqrt")
def _rsqrt(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("Reciprocal", cx.node("Sqrt", x))


@_converts("Expm1")
def _expm1(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("Sub", cx.node("Exp", x), cx.scalar(1, cx.out_dtype()))


@_converts("Log1p")
def _log1p(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("Log", cx.node("Add", x, cx.scalar(1, cx.out_dtype())))


@_converts("Erfc")
def _erfc(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("Sub", cx.scalar(1, cx.out_dtype()), cx.node("Erf", x))


@_converts("Relu")
def _relu(cx: _Ctx, x: Operand) -> Operand:
    return _activate(cx, "Relu", x, cx.out_dtype())


@_converts("Relu6")
def _relu6(cx: _Ctx, x: Operand) -> Operand:
    return _activate(cx, "Relu6", x, cx.out_dtype())


@_converts("LeakyRelu")
def _leaky_relu(cx: _Ctx, x: Operand) -> Operand:
    return cx.node("LeakyRelu", x, alpha=float(cx.attrs["alpha"]))


@_converts("Gelu")
def _gelu_op(cx: _Ctx, x: Operand) -> Operand:
    return _activate(cx, "Gelu", x, cx.out_dtype())


@_converts("Swish")
def _swish_op(cx: _Ctx, x: Operand) -> Operand:
    return _activate(cx, "Swish", x, cx.out_dtype())


def _activate(cx: _Ctx, name: str, x: Operand, dtype: str) -> Operand:
    """A fused activation by name (`fourier.ops.fused.ACTIVATIONS`)."""
    if name == "":
        return x
    if name == "Relu":
        return cx.node("Relu", x) if _is_float(dtype) else cx.node("Max", x, cx.scalar(0, dtype))
    if name == "Relu6":
        if _is_float(dtype):
            return cx.node("Clip", x, cx.scalar(0, dtype), cx.scalar(6, dtype))
        return cx.node("Min", cx.node("Max", x, cx.scalar(0, dtype)), cx.scalar(6, dtype))
    if name == "Sigmoid":
        return cx.node("Sigmoid", x)
    if name == "Tanh":
        return cx.node("Tanh", x)
    if name == "Gelu":  # exact: x * Phi(x)
        if cx.opset >= 20:
            return cx.node("Gelu", x, approximate="none")
        if cx.b.contrib_ops:
            return cx.node("Gelu", x, domain=_MS)
        # The form ONNX Runtime's GeluFusion recognizes: ((x / sqrt 2) -> Erf + 1) * x * 0.5.
        erf = cx.node("Erf", cx.node("Div", x, cx.scalar(math.sqrt(2.0), dtype)))
        return cx.node(
            "Mul", cx.node("Mul", x, cx.node("Add", erf, cx.scalar(1, dtype))), cx.scalar(0.5, dtype)
        )
    if name == "Swish":
        return cx.node("Mul", x, cx.node("Sigmoid", x))
    raise cx.fail(f"activation {name!r} has no ONNX form")


@_converts("AddN")
def _add_n(cx: _Ctx, *xs: Operand) -> Operand:
    return xs[0] if len(xs) == 1 else cx.node("Sum", *xs)


@_converts("BiasAdd")
def _bias_add(cx: _Ctx, x: Operand, b: Operand) -> Operand:
    if cx.attrs.get("data_format", "NHWC") in ("NHWC", "NDHWC") or cx.rank(0) <= 2:
        return cx.node("Add", x, b)
    # NCHW: the bias runs along axis 1.
    return cx.node("Add", x, cx.unsqueeze(b, list(range(1, cx.rank(0) - 1))))


@_converts("Cast")
def _cast_op(cx: _Ctx, x: Operand) -> Operand:
    if cx.in_dtype(0) == cx.out_dtype():
        return x
    return cx.cast(x, cx.out_dtype())  # float to int truncates toward zero, as TensorFlow


@_converts("SelectV2")
def _select_v2(cx: _Ctx, c: Operand, t: Operand, e: Operand) -> Operand:
    return cx.node("Where", c, t, e)  # numpy broadcasting, as ONNX's Where


@_converts("Select")
def _select(cx: _Ctx, c: Operand, t: Operand, e: Operand) -> Operand:
    if cx.rank(0) == 1 and cx.rank(1) > 1:  # a vector condition picks rows
        c = cx.unsqueeze(c, list(range(1, cx.rank(1))))
    return cx.node("Where", c, t, e)


@_converts("ZerosLike", "OnesLike")
def _fill_like(cx: _Ctx, x: Operand) -> Operand:
    from onnx import numpy_helper

    value = np.full((1,), 0 if cx.op.op == "ZerosLike" else 1, dtype=numpy_dtype(cx.out_dtype()))
    shape = cx.shape_of(x, cx.op.in_types[0])
    return cx.node("ConstantOfShape", shape, value=numpy_helper.from_array(value))


# -- reductions -----------------------------------------------------------------------------------


def _reduce_axes(cx: _Ctx, axes: Operand) -> list[int]:
    rank = cx.rank(0)
    return sorted({_axis(cx, a, rank) for a in cx.ints(axes, "the reduction axes")})


@_converts("Sum", "Max", "Min", "Prod", "Mean")
def _reduce(cx: _Ctx, x: Operand, axes: Operand) -> Operand:
    ax = _reduce_axes(cx, axes)
    keep = bool(cx.attrs["keep_dims"])
    if not ax:  # reducing over no axis returns the input (ONNX would reduce over all)
        return x
    kind = cx.op.op
    dtype = cx.in_dtype(0)
    if kind == "Mean" and not _is_float(dtype):  # an integer mean truncates, as TensorFlow
        t = cx.op.in_types[0]
        count = 1
        for a in ax:
            size = cx.dim(t, a)
            if size is None:
                raise cx.fail(f"an integer mean over a symbolic dimension of {t} is not supported")
            count *= size
        total = cx.reduce("Sum", x, ax, keep)
        return cx.node("Div", total, cx.scalar(count, dtype))
    if (
        kind in ("Mean", "Max")
        and ax == [1, 2]
        and cx.rank(0) == 4
        and cx.b.spatial_convs
        and isinstance(x, str)
    ):
        # A global pool over H, W of an NHWC tensor in a graph of NCHW convolutions: ONNX's
        # GlobalAveragePool / GlobalMaxPool in NCHW, so ONNX Runtime's transpose optimizer cancels
        # the transposes back to the convolution before it (and fuses its activation into it).
        pool = "GlobalAveragePool" if kind == "Mean" else "GlobalMaxPool"
        y = cx.node(pool, cx.node("Transpose", x, perm=[0, 3, 1, 2]))  # [N, C, 1, 1]
        return cx.node("Transpose", y, perm=[0, 2, 3, 1]) if keep else cx.squeeze(y, [2, 3])
    return cx.reduce(kind, x, ax, keep)


@_converts("All", "Any")
def _reduce_bool(cx: _Ctx, x: Operand, axes: Operand) -> Operand:
    ax = _reduce_axes(cx, axes)
    if not ax:
        return x
    as_int = cx.cast(x, "int32")
    out = cx.reduce("Min" if cx.op.op == "All" else "Max", as_int, ax, bool(cx.attrs["keep_dims"]))
    return cx.cast(out, "bool")


@_converts("ArgMax", "ArgMin")
def _arg_reduce(cx: _Ctx, x: Operand, axis: Operand) -> Operand:
    ax = _axis(cx, cx.ints(axis, "the arg-reduction axis")[0], cx.rank(0))
    out = cx.node(cx.op.op, x, axis=ax, keepdims=0, select_last_index=0)
    return out if cx.out_dtype() == "int64" else cx.cast(out, cx.out_dtype())


@_converts("Cumsum")
def _cumsum(cx: _Ctx, x: Operand, axis: Operand) -> Operand:
    ax = _axis(cx, cx.ints(axis, "Cumsum's axis")[0], cx.rank(0))
    return cx.node(
        "CumSum", x, cx.i64(ax), exclusive=int(cx.attrs["exclusive"]), reverse=int(cx.attrs["reverse"])
    )


@_converts("TopKV2")
def _top_k(cx: _Ctx, x: Operand, k: Operand) -> list[Operand]:
    kk = cx.ints(k, "TopKV2's k")
    values, indices = cx.nodes("TopK", [x, cx.i64(kk)], 2, axis=-1, largest=1, sorted=1)
    if cx.out_dtype(1) != "int64":
        indices = cx.cast(indices, cx.out_dtype(1))
    return [values, indices]


@_converts("Softmax", "LogSoftmax")
def _softmax(cx: _Ctx, x: Operand) -> Operand:
    return cx.node(cx.op.op, x, axis=-1)


# -- matrix products ------------------------------------------------------------------------------


def _swap_last(cx: _Ctx, x: Operand, rank: int) -> str:
    perm = [*range(rank - 2), rank - 1, rank - 2]
    return cx.node("Transpose", x, perm=perm)


def _matmul(cx: _Ctx, x: Operand, y: Operand, tx: bool, ty: bool, rx: int, ry: int) -> str:
    if cx.b.contrib_ops and (tx or ty) and cx.out_dtype() == "float32":
        return cx.node("FusedMatMul", x, y, domain=_MS, transA=int(tx), transB=int(ty), alpha=1.0)
    if tx:
        x = _swap_last(cx, x, rx)
    if ty:
        y = _swap_last(cx, y, ry)
    return cx.node("MatMul", x, y)


@_converts("MatMul")
def _mat_mul(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    tx, ty = bool(cx.attrs["transpose_a"]), bool(cx.attrs["transpose_b"])
    if _is_float(cx.out_dtype()) and cx.out_dtype() != "bfloat16":
        return cx.node("Gemm", x, y, transA=int(tx), transB=int(ty))
    return _matmul(cx, x, y, tx, ty, 2, 2)


@_converts("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_mat_mul(cx: _Ctx, x: Operand, y: Operand) -> Operand:
    out = _matmul(cx, x, y, bool(cx.attrs["adj_x"]), bool(cx.attrs["adj_y"]), cx.rank(0), cx.rank(1))
    # BatchMatMulV3 may name an output type other than the operands'.
    return out if cx.out_dtype() == cx.in_dtype(0) else cx.cast(out, cx.out_dtype())


@_converts("Einsum")
def _einsum(cx: _Ctx, *xs: Operand) -> Operand:
    equation = str(cx.attrs["equation"]).replace(" ", "")
    if len(xs) == 2:
        out = _einsum_as_matmul(cx, equation, xs[0], xs[1])
        if out is not None:
            return out
    return cx.node("Einsum", *xs, equation=equation)


def _einsum_as_matmul(cx: _Ctx, equation: str, a: Operand, b: Operand) -> Operand | None:
    """A two-operand einsum as Transpose / Reshape around one batched MatMul (ONNX Runtime's
    Einsum runs attention's ``aecd,abcd->acbe`` several times slower than MatMul); None when the
    equation has an ellipsis, a repeated label, or shapes the reshapes cannot state."""
    if "->" not in equation or "." in equation:
        return None
    inputs, out = equation.split("->")
    if inputs.count(",") != 1:
        return None
    la, lb = inputs.split(",")
    if any(len(set(x)) != len(x) for x in (la, lb, out)) or not set(out) <= set(la) | set(lb):
        return None
    ta, tb = cx.op.in_types
    if ta.shape is None or tb.shape is None or len(ta.shape) != len(la) or len(tb.shape) != len(lb):
        return None
    # MatMul puts the first operand's free axes before the second's: take the operands in the
    # order that leaves the product in the output's order (attention's ``aecd,abcd->acbe``
    # would otherwise transpose its [N,heads,S,S] scores).
    ends_in_a = [x for x in out if x in la and x not in lb][-1:] == [out[-1]]
    if ends_in_a and [x for x in out if x in lb and x not in la]:
        a, b, la, lb, ta, tb = b, a, lb, la, tb, ta
    sizes: dict[str, int | None] = {}
    for labels, t in ((la, ta), (lb, tb)):
        for i, label in enumerate(labels):
            d = cx.dim(t, i)
            if label not in sizes or sizes[label] in (None, 1):
                sizes[label] = d
    # Labels in one operand only, and not in the output, are summed out first.
    for which in (0, 1):
        labels, other = (la, lb) if which == 0 else (lb, la)
        lone = [i for i, label in enumerate(labels) if label not in other and label not in out]
        if lone:
            reduced = cx.reduce("Sum", a if which == 0 else b, lone, False)
            kept = "".join(label for label in labels if label in other or label in out)
            if which == 0:
                a, la = reduced, kept
            else:
                b, lb = reduced, kept
    batch = [x for x in out if x in la and x in lb]
    left = [x for x in out if x in la and x not in lb]
    right = [x for x in out if x in lb and x not in la]
    contracted = [x for x in la if x in lb and x not in out]
    if len(batch) + len(left) + len(right) != len(out):
        return None

    def group(labels: list[str]) -> int | None:
        total = 1
        for label in labels:
            size = sizes[label]
            if size is None:
                return None
            total *= size
        return total

    def arrange(x: Operand, labels: str, order: list[str], groups: list[list[str]]) -> Operand | None:
        perm = [labels.index(label) for label in order]
        if perm != list(range(len(perm))):
            x = cx.node("Transpose", x, perm=perm)
        if all(len(g) == 1 for g in groups):
            return x
        target = [0] * (len(order) - sum(len(g) for g in groups))  # leading batch axes: copied
        unknown = 0
        for g in groups:
            size = group(g)
            unknown += size is None
            target.append(-1 if size is None else size)
        if unknown > 1:
            return None
        return cx.node("Reshape", x, cx.i64(target))

    # Without batch labels the second operand is a matrix, which MatMul broadcasts over every
    # leading axis of the first: its free axes need no merging ([N,S,64] @ [64,192]).
    a_groups = [left, contracted] if batch else [contracted]
    a2 = arrange(a, la, batch + left + contracted, a_groups)
    b2 = arrange(b, lb, batch + contracted + right, [contracted, right])
    if a2 is None or b2 is None:
        return None
    y: Operand = cx.node("MatMul", a2, b2)
    produced = batch + left + right
    lead = batch if batch else left  # the product's leading axes, as they are
    merged = left + right if batch else right
    if len(merged) != (2 if batch else 1) or (batch and len(left) != 1):
        dims = [-1 if sizes[x] is None else sizes[x] for x in merged]
        if sum(1 for d in dims if d == -1) > 1:
            return None
        y = cx.node("Reshape", y, cx.i64([0] * len(lead) + [int(d) for d in dims]))  # type: ignore[arg-type]
    perm = [produced.index(x) for x in out]
    if perm != list(range(len(perm))):
        y = cx.node("Transpose", y, perm=perm)
    return y


@_converts("FusedDense")
def _fused_dense(cx: _Ctx, x: Operand, w: Operand, b: Operand | None = None) -> Operand:
    dtype = cx.out_dtype()
    y: Operand
    gemm = dtype in ("float32", "float64", "float16")
    out_dims = _reshape_target(cx, cx.op.out_types[0])
    if gemm and cx.rank(0) == 2:
        y = cx.node("Gemm", x, w, *([b] if b is not None else []))
    elif gemm and cx.rank(0) > 2 and out_dims is not None and not _sinks_transpose(cx, x):
        # [..., K] -> [-1, K] -> Gemm -> [..., N]: ONNX Runtime fuses Gemm with its bias and
        # activation, and not MatMul with a following Add (both reshapes are views).
        k = cx.dim(cx.op.in_types[1], 0)
        flat = cx.node("Reshape", x, cx.i64([-1, -1 if k is None else k]))
        y = cx.node("Gemm", flat, w, *([b] if b is not None else []))
        y = _activate(cx, str(cx.attrs["activation"]), y, dtype)
        return cx.node("Reshape", y, cx.i64(out_dims))
    else:  # rank 1, or a transposed input (see _matmul_last_axis): MatMul over the leading axes
        y = _matmul_last_axis(cx, x, w)
        if b is not None:
            y = cx.node("Add", y, b)
    return _activate(cx, str(cx.attrs["activation"]), y, dtype)


def _reshape_target(cx: _Ctx, t: TensorType) -> list[int] | None:
    """``t``'s shape as a Reshape target: static sizes and at most one -1; else None."""
    if t.shape is None:
        return None
    dims = [cx.dim(t, i) for i in range(len(t.shape))]
    if sum(d is None for d in dims) > 1 or 0 in dims:
        return None
    return [-1 if d is None else int(d) for d in dims]


def _sinks_transpose(cx: _Ctx, x: Operand) -> bool:
    """Whether `_matmul_last_axis` would take the product before a transpose of ``x``."""
    if not isinstance(x, str):
        return False
    base, _ = cx.b.unsqueezed_from.get(x, (x, []))
    perm = cx.b.transposed_from.get(base, ("", []))[1]
    return bool(perm) and perm[-1] == len(perm) - 1


# -- convolution and pooling ----------------------------------------------------------------------


def _spatial_pads(
    cx: _Ctx, t: TensorType, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> tuple[list[int] | None, str | None]:
    """ONNX ``pads`` (begins then ends over H, W) for TF's padding of an NHWC input; with SAME
    padding of a symbolic spatial size, ``auto_pad`` SAME_UPPER (TF puts the odd pad at the end)."""
    padding = cx.attrs["padding"]
    if padding == "VALID":
        return [0, 0, 0, 0], None
    if padding == "EXPLICIT":
        p = [int(v) for v in cx.attrs["explicit_paddings"]]
        if len(p) != 8 or any(p[:2]) or any(p[6:]):
            raise cx.fail(f"explicit_paddings {p} must pad H and W of an NHWC input only")
        return [p[2], p[4], p[3], p[5]], None
    if padding != "SAME":
        raise cx.fail(f"padding {padding!r} is not VALID, SAME or EXPLICIT")
    begins, ends = [], []
    for i in range(2):
        size = cx.dim(t, 1 + i)
        if size is None:
            return None, "SAME_UPPER"
        out = -(-size // strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends, None


def _check_nhwc(cx: _Ctx) -> None:
    fmt = cx.attrs.get("data_format", "NHWC")
    if fmt != "NHWC":
        raise cx.fail(f"data_format {fmt!r} is not supported (NHWC only)")


def _conv(cx: _Ctx, x: Operand, w: Operand, b: Operand | None, depthwise: bool) -> str:
    _check_nhwc(cx)
    strides = [int(s) for s in cx.attrs["strides"]][1:3]
    dilations = [int(d) for d in cx.attrs.get("dilations", [1, 1, 1, 1])][1:3]
    wt = cx.op.in_types[1]
    if wt.shape is None or not all(isinstance(d, int) for d in wt.shape):
        raise cx.fail(f"the filter's shape must be static, got {wt}")
    kh, kw, cin, cout = (int(d) for d in wt.shape)  # type: ignore[arg-type]
    pads, auto_pad = _spatial_pads(cx, cx.op.in_types[0], (kh, kw), strides, dilations)
    # HWIO -> OIHW; depthwise [kh, kw, C, M] -> [C * M, 1, kh, kw] with group C.
    if isinstance(w, str):
        if depthwise:
            w = cx.node(
                "Reshape", cx.node("Transpose", w, perm=[2, 3, 0, 1]), cx.i64([cin * cout, 1, kh, kw])
            )
        else:
            w = cx.node("Transpose", w, perm=[3, 2, 0, 1])
    elif depthwise:
        w = np.asarray(w).transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw)
    else:
        w = np.asarray(w).transpose(3, 2, 0, 1)
    nchw = cx.node("Transpose", x, perm=[0, 3, 1, 2])
    inputs: list[Operand] = [nchw, w] + ([b] if b is not None else [])
    y = cx.node(
        "Conv",
        *inputs,
        kernel_shape=[kh, kw],
        strides=strides,
        dilations=dilations,
        group=cin if depthwise else 1,
        pads=pads,
        auto_pad=auto_pad,
    )
    return cx.node("Transpose", y, perm=[0, 2, 3, 1])


@_converts("Conv2D")
def _conv2d(cx: _Ctx, x: Operand, w: Operand) -> Operand:
    return _conv(cx, x, w, None, False)


@_converts("DepthwiseConv2dNative")
def _depthwise_conv2d(cx: _Ctx, x: Operand, w: Operand) -> Operand:
    return _conv(cx, x, w, None, True)


@_converts("FusedConv2D")
def _fused_conv2d(cx: _Ctx, x: Operand, w: Operand, b: Operand | None = None) -> Operand:
    depthwise = bool(cx.attrs["depthwise"])
    wt = cx.op.in_types[1]
    pointwise = (
        cx.attrs["algorithm"] == "matmul"
        and not depthwise
        and wt.shape is not None
        and tuple(wt.shape[:2]) == (1, 1)
        and all(int(s) == 1 for s in cx.attrs["strides"])
        and cx.attrs["padding"] in ("SAME", "VALID")
        and cx.attrs.get("data_format", "NHWC") == "NHWC"
        and not cx.b.spatial_convs
    )
    if pointwise:  # 1x1, stride 1: a matmul over the channel axis
        w2 = cx.squeeze(w, [0, 1]) if isinstance(w, str) else np.asarray(w)[0, 0]
        y: Operand = _matmul_last_axis(cx, x, w2)
        if b is not None:
            y = cx.node("Add", y, b)
    else:
        y = _conv(cx, x, w, b, depthwise)
    return _activate(cx, str(cx.attrs["activation"]), y, cx.out_dtype())


@_converts("MaxPool", "AvgPool")
def _pool(cx: _Ctx, x: Operand) -> Operand:
    _check_nhwc(cx)
    ksize = [int(k) for k in cx.attrs["ksize"]]
    strides = [int(s) for s in cx.attrs["strides"]]
    if ksize[0] != 1 or ksize[3] != 1 or strides[0] != 1 or strides[3] != 1:
        raise cx.fail(f"pooling over the batch or channel axis (ksize {ksize}, strides {strides})")
    pads, auto_pad = _spatial_pads(cx, cx.op.in_types[0], ksize[1:3], strides[1:3], (1, 1))
    nchw = cx.node("Transpose", x, perm=[0, 3, 1, 2])
    attrs: dict[str, Any] = {
        "kernel_shape": ksize[1:3],
        "strides": strides[1:3],
        "pads": pads,
        "auto_pad": auto_pad,
    }
    if cx.op.op == "MaxPool":
        y = cx.node("MaxPool", nchw, **attrs)
    else:  # SAME padding averages over the real elements only, as TensorFlow
        y = cx.node("AveragePool", nchw, count_include_pad=0, **attrs)
    return cx.node("Transpose", y, perm=[0, 2, 3, 1])


@_converts("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _batch_norm(
    cx: _Ctx, x: Operand, scale: Operand, offset: Operand, mean: Operand, var: Operand
) -> list[Operand]:
    _check_nhwc(cx)
    if cx.attrs.get("is_training"):
        raise cx.fail("training-mode batch normalization is not supported")
    eps = float(cx.attrs["epsilon"])
    dtype = cx.in_dtype(1)
    if not any(isinstance(v, str) for v in (scale, offset, mean, var)):
        s, o, m, v = (np.asarray(a) for a in (scale, offset, mean, var))
        inv = (s * (1 / np.sqrt(v + np.asarray(eps, dtype=v.dtype)))).astype(s.dtype)
        y = cx.node("Add", cx.node("Mul", x, inv), (o - m * inv).astype(s.dtype))
    else:
        inv = cx.node(
            "Mul", scale, cx.node("Reciprocal", cx.node("Sqrt", cx.node("Add", var, cx.scalar(eps, dtype))))
        )
        y = cx.node("Add", cx.node("Mul", x, inv), cx.node("Sub", offset, cx.node("Mul", mean, inv)))
    n_out = len(cx.op.out_types)
    rest: list[Operand] = [mean, var, mean, var, np.zeros((0,), dtype=numpy_dtype(dtype))]
    return [y, *rest][:n_out]


@_converts("LayerNorm")
def _layer_norm(cx: _Ctx, x: Operand, gamma: Operand, beta: Operand) -> Operand:
    eps = float(cx.attrs["epsilon"])
    if cx.opset >= 17:
        return cx.node("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)
    dtype = cx.out_dtype()
    mean = (
        cx.reduce("Mean", x, [-1], True)
        if cx.opset >= 18
        else cx.node("ReduceMean", x, axes=[-1], keepdims=1)
    )
    d = cx.node("Sub", x, mean)
    var = cx.node("ReduceMean", cx.node("Mul", d, d), axes=[-1], keepdims=1)
    inv = cx.node("Reciprocal", cx.node("Sqrt", cx.node("Add", var, cx.scalar(eps, dtype))))
    return cx.node("Add", cx.node("Mul", cx.node("Mul", d, inv), gamma), beta)


# -- shapes and layout ----------------------------------------------------------------------------


@_converts("Shape")
def _shape(cx: _Ctx, x: Operand) -> Operand:
    static = cx.static_shape(cx.op.in_types[0])
    if static is not None:
        return np.asarray(static, dtype=numpy_dtype(cx.out_dtype()))
    out = cx.node("Shape", x)
    return out if cx.out_dtype() == "int64" else cx.cast(out, cx.out_dtype())


@_converts("Size")
def _size(cx: _Ctx, x: Operand) -> Operand:
    static = cx.static_shape(cx.op.in_types[0])
    if static is not None:
        return np.asarray(int(np.prod(static)), dtype=numpy_dtype(cx.out_dtype()))
    out = cx.node("Size", x)
    return out if cx.out_dtype() == "int64" else cx.cast(out, cx.out_dtype())


@_converts("Rank")
def _rank(cx: _Ctx, x: Operand) -> Operand:
    return np.asarray(cx.rank(0), dtype=np.int32)


@_converts("Reshape")
def _reshape(cx: _Ctx, x: Operand, shape: Operand) -> Operand:
    out = cx.op.out_types[0]
    if out.shape is not None:
        dims = [cx.dim(out, i) for i in range(len(out.shape))]
        unknown = [i for i, d in enumerate(dims) if d is None]
        if not unknown or (len(unknown) == 1 and 0 not in dims):
            target = [-1 if d is None else int(d) for d in dims]
            return cx.node("Reshape", x, cx.i64(target), allowzero=int(0 in target) or None)
    if not isinstance(shape, str):
        target = cx.ints(shape, "Reshape's shape")
        if 0 in target and -1 in target:
            raise cx.fail(f"shape {target} holds both 0 and -1, which ONNX cannot express")
        return cx.node("Reshape", x, cx.i64(target), allowzero=int(0 in target) or None)
    s = shape if cx.in_dtype(1) == "int64" else cx.cast(shape, "int64")
    return cx.node("Reshape", x, s, allowzero=1)


@_converts("ExpandDims")
def _expand_dims(cx: _Ctx, x: Operand, axis: Operand) -> Operand:
    rank = cx.rank(0) + 1
    a = _axis(cx, cx.ints(axis, "ExpandDims' axis")[0], rank)
    out = cx.unsqueeze(x, [a])
    if isinstance(x, str):
        cx.b.unsqueezed_from[out] = (x, [a])
    return out


@_converts("Squeeze")
def _squeeze(cx: _Ctx, x: Operand) -> Operand:
    t = cx.op.in_types[0]
    rank = cx.rank(0)
    dims = [int(d) for d in cx.attrs.get("squeeze_dims", [])]
    if dims:
        axes = sorted({_axis(cx, d, rank, "squeeze axis") for d in dims})
    else:  # the axes the IR knows to be 1 (a symbolic batch of 1 stays, as the IR's type says)
        assert t.shape is not None
        if any(cx.dim(t, i) is None and t.shape[i] == "?" for i in range(rank)):
            raise cx.fail(f"squeezing every size-1 axis of {t} needs its dimensions known")
        axes = [i for i in range(rank) if cx.dim(t, i) == 1 and t.shape[i] == 1]
    return cx.squeeze(x, axes) if axes else x


@_converts("Transpose")
def _transpose(cx: _Ctx, x: Operand, perm: Operand) -> Operand:
    p = [a % max(len(cx.ints(perm, "Transpose's perm")), 1) for a in cx.ints(perm, "Transpose's perm")]
    out = cx.node("Transpose", x, perm=p)
    if isinstance(x, str):
        cx.b.transposed_from[out] = (x, p)
    return out


def _matmul_last_axis(cx: _Ctx, x: Operand, w: Operand) -> Operand:
    """``x @ w`` over x's last axis. Where x is a transpose (then maybe an unsqueeze) that keeps
    the last axis in place, the product is taken before the transpose and the (narrower) product
    transposed instead: ONNX Runtime runs a Transpose as a copy it does not fuse (xDeepFM's CIN
    transposes [16,N,676] before its 676 -> 64 product)."""
    if isinstance(x, str) and _sinks_transpose(cx, x):
        base, axes = cx.b.unsqueezed_from.get(x, (x, []))
        src, perm = cx.b.transposed_from[base]
        y = cx.node("Transpose", cx.node("MatMul", src, w), perm=perm)
        return cx.unsqueeze(y, axes) if axes else y
    return cx.node("MatMul", x, w)


@_converts("ConcatV2")
def _concat(cx: _Ctx, *args: Operand) -> Operand:
    *xs, axis = args
    rank = cx.rank(0)
    a = _axis(cx, cx.ints(axis, "ConcatV2's axis")[0], rank)
    # A run of one tensor repeated (DIN's attention repeats its query 50 times) is one Tile:
    # ONNX Runtime's Concat of 50 inputs costs several times more.
    parts: list[Operand] = []
    i = 0
    while i < len(xs):
        j = i + 1
        while j < len(xs) and isinstance(xs[i], str) and xs[j] is xs[i]:
            j += 1
        parts.append(
            xs[i]
            if j - i == 1
            else cx.node("Tile", xs[i], cx.i64([j - i if d == a else 1 for d in range(rank)]))
        )
        i = j
    return parts[0] if len(parts) == 1 else cx.node("Concat", *parts, axis=a)


@_converts("Pack")
def _pack(cx: _Ctx, *xs: Operand) -> Operand:
    rank = cx.rank(0)
    a = _axis(cx, int(cx.attrs["axis"]), rank + 1)
    whole = _whole_unit_split(cx, xs)
    if whole is not None:
        # Pack of every unit slice of one tensor, in order (xDeepFM's CIN splits [N,26,16] into
        # 16 and stacks them): one transpose of that tensor instead of n unsqueezes and a concat.
        src, s = whole
        labels: list[Any] = list(range(rank))
        with_one = labels[:s] + ["i", "one"] + labels[s + 1 :]  # src unsqueezed after axis s
        out_labels = [*labels[:s], "one", *labels[s + 1 :]]
        out_labels.insert(a, "i")
        perm = [with_one.index(lab) for lab in out_labels]
        return cx.node("Transpose", cx.unsqueeze(src, [s + 1]), perm=perm)
    parts = [cx.unsqueeze(x, [a]) for x in xs]
    return parts[0] if len(parts) == 1 else cx.node("Concat", *parts, axis=a)


def _whole_unit_split(cx: _Ctx, xs: Sequence[Operand]) -> tuple[str, int] | None:
    """(source, axis) when ``xs`` are all the size-1 pieces of one Split of ``source``, in order."""
    if len(xs) < 2 or not all(isinstance(x, str) and x in cx.b.unit_split_from for x in xs):
        return None
    pieces = [cx.b.unit_split_from[x] for x in xs]  # type: ignore[index]
    src, axis, _, n = pieces[0]
    if n != len(xs) or any(p != (src, axis, i, n) for i, p in enumerate(pieces)):
        return None
    return src, axis


@_converts("Unpack")
def _unpack(cx: _Ctx, x: Operand) -> list[Operand]:
    a = _axis(cx, int(cx.attrs["axis"]), cx.rank(0))
    num = int(cx.attrs["num"])
    parts = cx.nodes("Split", [x, cx.i64([1] * num)], num, axis=a) if num > 1 else [x]
    return [cx.squeeze(p, [a]) for p in parts]


def _split(cx: _Ctx, x: Operand, axis: int, sizes: list[int] | None, n: int) -> list[Operand]:
    if n == 1:
        return [x]
    if sizes is not None:
        outs = list(cx.nodes("Split", [x, cx.i64(sizes)], n, axis=axis))
        if isinstance(x, str) and all(size == 1 for size in sizes):
            for i, out in enumerate(outs):
                cx.b.unit_split_from[out] = (x, axis, i, n)
        return list(outs)
    if cx.opset >= 18:
        return list(cx.nodes("Split", [x], n, axis=axis, num_outputs=n))
    return list(cx.nodes("Split", [x], n, axis=axis))  # before 18: equal parts, one per output


@_converts("Split")
def _split_op(cx: _Ctx, axis: Operand, x: Operand) -> list[Operand]:
    rank = cx.rank(1)
    a = _axis(cx, cx.ints(axis, "Split's axis")[0], rank)
    n = int(cx.attrs["num_split"])
    size = cx.dim(cx.op.in_types[1], a)
    return _split(cx, x, a, None if size is None else [size // n] * n, n)


@_converts("SplitV")
def _split_v(cx: _Ctx, x: Operand, sizes: Operand, axis: Operand) -> list[Operand]:
    rank = cx.rank(0)
    a = _axis(cx, cx.ints(axis, "SplitV's axis")[0], rank)
    s = cx.ints(sizes, "SplitV's sizes")
    total = cx.dim(cx.op.in_types[0], a)
    if -1 in s and total is not None:
        s[s.index(-1)] = total - (sum(s) + 1)
    if -1 not in s:
        return _split(cx, x, a, s, len(s))
    # The remainder of a symbolic dimension: slices from the start before it, from the end after.
    k = s.index(-1)
    outs: list[Operand] = []
    start = 0
    for size in s[:k]:
        outs.append(cx.slice(x, [start], [start + size], [a], [1]))
        start += size
    tail = sum(s[k + 1 :])
    outs.append(cx.slice(x, [start], [-tail if tail else _INT64_MAX], [a], [1]))
    end = -tail
    for size in s[k + 1 :]:
        outs.append(cx.slice(x, [end], [end + size if end + size < 0 else _INT64_MAX], [a], [1]))
        end += size
    return outs


@_converts("Slice")
def _slice_op(cx: _Ctx, x: Operand, begin: Operand, size: Operand) -> Operand:
    b = cx.ints(begin, "Slice's begin")
    s = cx.ints(size, "Slice's size")
    ends = [_INT64_MAX if n == -1 else start + n for start, n in zip(b, s)]
    return cx.slice(x, b, ends, list(range(len(b))), [1] * len(b))


@_converts("StridedSlice")
def _strided_slice(cx: _Ctx, x: Operand, begin: Operand, end: Operand, strides: Operand) -> Operand:
    b = cx.ints(begin, "StridedSlice's begin")
    e = cx.ints(end, "StridedSlice's end")
    st = cx.ints(strides, "StridedSlice's strides")
    rank = cx.rank(0)
    bm, em = int(cx.attrs["begin_mask"]), int(cx.attrs["end_mask"])
    ellipsis, new_axis, shrink = (
        int(cx.attrs["ellipsis_mask"]),
        int(cx.attrs["new_axis_mask"]),
        int(cx.attrs["shrink_axis_mask"]),
    )
    if any(s == 0 for s in st):
        raise cx.fail(f"strides {st} hold a zero")
    # Walk the spec: each entry consumes an input axis, expands (ellipsis) or adds one (new axis).
    consuming = sum(1 for i in range(len(b)) if not (new_axis >> i) & 1 and not (ellipsis >> i) & 1)
    starts, ends, axes, steps = [], [], [], []
    squeeze_axes: list[int] = []  # input axes removed by shrink
    out_kinds: list[str] = []  # per output axis: "new" or "in"
    d = 0
    seen_ellipsis = False
    for i in range(len(b)):
        if (ellipsis >> i) & 1:
            if seen_ellipsis:
                raise cx.fail("more than one ellipsis in the slice")
            seen_ellipsis = True
            for _ in range(rank - consuming):
                out_kinds.append("in")
                d += 1
            continue
        if (new_axis >> i) & 1:
            out_kinds.append("new")
            continue
        if d >= rank:
            raise cx.fail(f"the slice addresses more axes than the input's {rank}")
        if (shrink >> i) & 1:
            start = b[i]
            starts.append(start)
            ends.append(start + 1 if start != -1 else _INT64_MAX)
            axes.append(d)
            steps.append(1)
            squeeze_axes.append(d)
        else:
            positive = st[i] > 0
            starts.append((0 if positive else _INT64_MAX) if (bm >> i) & 1 else b[i])
            ends.append((_INT64_MAX if positive else _INT64_MIN) if (em >> i) & 1 else e[i])
            axes.append(d)
            steps.append(st[i])
            out_kinds.append("in")
        d += 1
    out_kinds += ["in"] * (rank - d)
    y: Operand = x
    trivial = all(s == 1 and start == 0 and end == _INT64_MAX for start, end, s in zip(starts, ends, steps))
    if axes and not trivial:
        y = cx.slice(y, starts, ends, axes, steps)
    if squeeze_axes:
        y = cx.squeeze(y, squeeze_axes)
    new_positions = [i for i, k in enumerate(out_kinds) if k == "new"]
    if new_positions:
        y = cx.unsqueeze(y, new_positions)
    return y


@_converts("Tile")
def _tile(cx: _Ctx, x: Operand, multiples: Operand) -> Operand:
    return cx.node("Tile", x, _shape_operand(cx, multiples, 1, "Tile's multiples"))


def _shape_operand(cx: _Ctx, s: Operand, i: int, what: str) -> str:
    """Operand ``i`` (a shape, or Tile's multiples) as an int64 vector."""
    if not isinstance(s, str):
        return cx.i64(cx.ints(s, what))
    return s if cx.in_dtype(i) == "int64" else cx.cast(s, "int64")


@_converts("Fill")
def _fill(cx: _Ctx, dims: Operand, value: Operand) -> Operand:
    return cx.node("Expand", value, _shape_operand(cx, dims, 0, "Fill's dims"))


@_converts("BroadcastTo")
def _broadcast_to(cx: _Ctx, x: Operand, shape: Operand) -> Operand:
    return cx.node("Expand", x, _shape_operand(cx, shape, 1, "BroadcastTo's shape"))


def _pads(cx: _Ctx, paddings: Operand) -> str:
    p = np.asarray(cx.ints(paddings, "the paddings")).reshape(-1, 2)
    return cx.i64([*p[:, 0].tolist(), *p[:, 1].tolist()])


@_converts("Pad")
def _pad(cx: _Ctx, x: Operand, paddings: Operand) -> Operand:
    return cx.node("Pad", x, _pads(cx, paddings), cx.scalar(0, cx.out_dtype()), mode="constant")


@_converts("PadV2")
def _pad_v2(cx: _Ctx, x: Operand, paddings: Operand, value: Operand) -> Operand:
    return cx.node("Pad", x, _pads(cx, paddings), value, mode="constant")


@_converts("MirrorPad")
def _mirror_pad(cx: _Ctx, x: Operand, paddings: Operand) -> Operand:
    if cx.attrs["mode"] != "REFLECT":
        raise cx.fail(f"mode {cx.attrs['mode']!r} has no ONNX Pad mode (REFLECT only)")
    return cx.node("Pad", x, _pads(cx, paddings), mode="reflect")


@_converts("Range")
def _range(cx: _Ctx, start: Operand, limit: Operand, delta: Operand) -> Operand:
    return cx.node("Range", start, limit, delta)


@_converts("ReverseV2")
def _reverse(cx: _Ctx, x: Operand, axis: Operand) -> Operand:
    rank = cx.rank(0)
    axes = sorted({_axis(cx, a, rank) for a in cx.ints(axis, "ReverseV2's axis")})
    if not axes:
        return x
    n = len(axes)
    return cx.slice(x, [-1] * n, [_INT64_MIN] * n, axes, [-1] * n)


_BITWISE = {
    "BitwiseAnd": "BitwiseAnd",
    "BitwiseOr": "BitwiseOr",
    "BitwiseXor": "BitwiseXor",
    "Invert": "BitwiseNot",
}


@_converts(*_BITWISE)
def _bitwise(cx: _Ctx, *xs: Operand) -> Operand:
    if cx.opset < 18:
        raise cx.fail(f"ONNX has {_BITWISE[cx.op.op]} from opset 18; this export is opset {cx.opset}")
    return cx.node(_BITWISE[cx.op.op], *xs)


# -- gathering ------------------------------------------------------------------------------------


def _masked_gather(
    cx: _Ctx, params: Operand, ids: Operand, axis: int, rows: int | None, ids_rank: int
) -> str:
    """``params`` taken at ``ids`` along ``axis``, with zeros for ids outside ``[0, rows)``."""
    dtype = cx.in_dtype(1)
    table_name = None if isinstance(params, str) else cx.b.const_names.get(id(params))
    if isinstance(ids, str) and axis == 0 and table_name in cx.b.gather_tables and rows is not None:
        # A constant table only ever gathered from: store it with one more row, of zeros, and send
        # every out-of-range id there. The check then runs on the ids, not on the gathered rows
        # (a Where over [N, ids, width] costs ONNX Runtime more than the gather itself).
        assert table_name is not None
        table = cx.b.padded_tables.get(table_name)
        if table is None:
            arr = np.asarray(params)
            padded = np.concatenate([arr, np.zeros((1, *arr.shape[1:]), dtype=arr.dtype)])
            table = cx.b.padded_tables[table_name] = cx.b.const(padded, table_name)
        largest, sentinel = cx.b.guarded_ids.get(ids, (rows, 0))
        if largest < rows and sentinel == -1:
            # Checked already (fuse-tables' safe ids): valid ids in range, the others -1, which
            # ONNX's Gather reads from the end -- the zero row.
            return cx.node("Gather", table, ids, axis=0)
        in_range = cx.node(
            "And",
            cx.node("GreaterOrEqual", ids, cx.scalar(0, dtype)),
            cx.node("Less", ids, cx.scalar(rows, dtype)),
        )
        return cx.node("Gather", table, cx.node("Where", in_range, ids, cx.scalar(rows, dtype)), axis=0)
    if not isinstance(ids, str) and rows is not None:  # known ids: the mask is known too
        idx = np.asarray(ids)
        valid = (idx >= 0) & (idx < rows)
        gathered = cx.node("Gather", params, np.where(valid, idx, 0).astype(idx.dtype), axis=axis)
        if valid.all():
            return gathered
        mask: Operand = valid
    else:
        zero = cx.scalar(0, dtype)
        ids = cx.t(ids)
        if rows is not None:
            limit = cx.scalar(rows, dtype)
        else:  # a symbolic length (gathering along S): read at run time
            length = cx.slice(cx.node("Shape", params), [axis], [axis + 1], [0], [1])
            limit = cx.cast(cx.squeeze(length, [0]), dtype)
        mask = cx.node("And", cx.node("GreaterOrEqual", ids, zero), cx.node("Less", ids, limit))
        gathered = cx.node("Gather", params, cx.node("Where", mask, ids, zero), axis=axis)
    prank = cx.rank(0)
    trailing = list(range(axis + ids_rank, axis + ids_rank + prank - axis - 1))
    leading = list(range(axis))
    if isinstance(mask, str):
        if leading or trailing:
            mask = cx.unsqueeze(mask, leading + trailing)
    else:
        mask = np.asarray(mask).reshape((1,) * axis + np.shape(mask) + (1,) * (prank - axis - 1))
    return cx.where_zero(mask, gathered, cx.out_dtype())


@_converts("GatherV2")
def _gather(cx: _Ctx, params: Operand, ids: Operand, axis: Operand) -> Operand:
    if int(cx.attrs.get("batch_dims", 0)) != 0:
        raise cx.fail(f"batch_dims={cx.attrs['batch_dims']} is not supported (only 0)")
    a = _axis(cx, cx.ints(axis, "GatherV2's axis")[0], cx.rank(0))
    return _masked_gather(cx, params, ids, a, cx.dim(cx.op.in_types[0], a), cx.rank(1))


@_converts("EmbeddingBag")
def _embedding_bag(cx: _Ctx, table: Operand, ids: Operand) -> Operand:
    ids_rank = cx.rank(1)
    rows = _masked_gather(cx, table, ids, 0, cx.dim(cx.op.in_types[0], 0), ids_rank)
    kind = "Sum" if cx.attrs["combiner"] == "sum" else "Mean"
    return cx.reduce(kind, rows, [ids_rank - 1], bool(cx.attrs["keep_dims"]))


@_converts("OneHot")
def _one_hot(cx: _Ctx, ids: Operand, depth: Operand, on: Operand, off: Operand) -> Operand:
    # ids == arange(depth) along the new axis: ids outside [0, depth) match nothing (all off), as
    # in TensorFlow; ONNX's OneHot would count negative ids from the end, and ONNX Runtime has it
    # for few dtype combinations.
    d = cx.ints(depth, "OneHot's depth")[0]
    r = cx.rank(0)
    a = _axis(cx, int(cx.attrs["axis"]), r + 1)
    positions = np.arange(d, dtype=numpy_dtype(cx.in_dtype(0))).reshape((d,) + (1,) * (r - a))
    hot = cx.node("Equal", cx.unsqueeze(ids, [a]), positions)
    return cx.node("Where", hot, on, off)


# -- Fourier's own fused ops ----------------------------------------------------------------------


@_converts("BatchBroadcast")
def _batch_broadcast(cx: _Ctx, x: Operand, like: Operand) -> Operand:
    axis, inner = int(cx.attrs["axis"]), int(cx.attrs["inner"])
    rank = cx.rank(0)
    lt = cx.op.in_types[1]
    n_static = cx.dim(lt, 0)
    n = cx.i64([n_static]) if n_static is not None else cx.slice(cx.node("Shape", like), [0], [1], [0], [1])
    if inner == 1:  # x has 1 at axis: a bidirectional Expand to n there
        shape = cx.node("Concat", cx.i64([1] * axis), n, cx.i64([1] * (rank - axis - 1)), axis=0)
        return cx.node("Expand", x, shape)
    split = cx.unsqueeze(x, [axis])  # [..., 1, inner, ...]
    shape = cx.node("Concat", cx.i64([1] * axis), n, cx.i64([1] * (rank - axis)), axis=0)
    wide = cx.node("Expand", split, shape)  # [..., n, inner, ...]
    xt = cx.op.in_types[0]
    static = cx.static_shape(xt)
    if static is not None:
        folded: Operand = cx.i64([*static[:axis], -1, *static[axis + 1 :]])
    else:
        xs = cx.node("Shape", x)
        parts = [cx.slice(xs, [0], [axis], [0], [1])] if axis else []
        parts.append(cx.i64([-1]))
        if axis + 1 < rank:
            parts.append(cx.slice(xs, [axis + 1], [_INT64_MAX], [0], [1]))
        folded = cx.node("Concat", *parts, axis=0)
    return cx.node("Reshape", wide, folded)


@_converts("FusedElementwise")
def _fused_elementwise(cx: _Ctx, *inputs: Operand) -> Operand:
    try:
        steps = [(str(op), list(args), dict(a)) for op, args, a in json.loads(cx.attrs["body"])]
    except (ValueError, TypeError) as e:
        raise cx.fail(f"body is not a valid region: {e}") from e
    env: list[Operand] = list(inputs)
    types = list(cx.op.in_types)
    for k, (op, args, attrs) in enumerate(steps):
        name = f"{cx.op.name}/{k}:{op}"
        in_types = [types[a] for a in args]
        opdef = get_op(op)
        (out_t,) = opdef.infer(InferContext(op, name, attrs, in_types))
        step = _Op(op, name, attrs, in_types, [out_t])
        try:
            (value,) = _convert(cx.b, step, [env[a] for a in args])
        except _Unsupported as e:
            raise _Unsupported(f"{e} (in a FusedElementwise body)") from e
        env.append(value)
        types.append(out_t)
    return env[-1]


# -- the walk -------------------------------------------------------------------------------------


class _Unsupported(Exception):
    pass


def _convert(b: _Builder, op: _Op, args: list[Operand]) -> list[Operand]:
    """One op applied to ``args``: folded with its numpy reference when every operand is known,
    else converted to ONNX nodes."""
    opdef = get_op(op.op)
    if all(not isinstance(a, str) for a in args) and "pure" in opdef.traits:
        out = opdef.reference(dict(op.attrs), *args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [np.asarray(o) for o in outs]
    fn = CONVERTERS.get(op.op)
    if fn is None:
        raise _Unsupported(op.op)
    out = fn(_Ctx(b, op), *args)
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]  # type: ignore[list-item]


def _dims_proto(shape: tuple[Any, ...] | None, sizes: Mapping[str, int]) -> list[int | str | None] | None:
    if shape is None:
        return None
    dims: list[int | str | None] = []
    for d in shape:
        s = dim_to_sym(d)
        if s is None:
            dims.append(None)
        elif isinstance(s, int):
            dims.append(s)
        elif all(n in sizes for n in s.names):
            dims.append(s.value(sizes))
        else:
            dims.append(str(d))
    return dims


def export_onnx(
    graph: Graph,
    *,
    opset: int = DEFAULT_OPSET,
    batch: int | None = None,
    dims: Mapping[str, int] | None = None,
    contrib_ops: bool = False,
    check: bool = True,
    pack_inputs: bool = False,
) -> Any:
    """``graph`` as an ``onnx.ModelProto``: inputs and outputs named as the graph's signature,
    the batch ``N`` (and symbols such as ``S``) as ``dim_param`` s unless fixed by ``batch`` (and
    ``dims``), large constants stored once as initializers. ``contrib_ops`` uses ONNX Runtime's
    ``com.microsoft`` ``Gelu`` and ``FusedMatMul`` instead of their standard expansions;
    ``check`` runs the ONNX checker and compares ONNX's inferred dtypes with the IR's.
    ``pack_inputs``: inputs the graph only concatenates along their last axis, side by side, become
    one input the caller packs (`PACKED_INPUTS` in the model's metadata says which), sparing ONNX
    Runtime a binding per input (~1 µs each) and the concatenation.
    Raises `ExportError` naming every node whose op has no ONNX form."""
    import onnx
    from onnx import helper

    if opset < MIN_OPSET:
        raise ExportError(f"opset {opset} is not supported (at least {MIN_OPSET})")
    sizes = dict(dims or {})
    if batch is not None:
        if batch < 1:
            raise ExportError(f"batch must be at least 1, got {batch}")
        sizes[BATCH] = batch
    b = _Builder(opset, sizes, contrib_ops)
    inputs = graph.inputs
    for n in inputs:
        b.reserve(n.name)
    out_names = [name for name, _ in graph.outputs]
    if len(set(out_names)) != len(out_names):
        raise ExportError(f"output names repeat: {out_names}")
    clash = sorted(set(out_names) & {n.name for n in inputs})
    if clash:
        raise ExportError(f"outputs {clash} have the names of inputs, which ONNX cannot express")
    for name in out_names:
        b.reserve(name)

    b.gather_tables = _gather_only_tables(graph)
    guarded = _guarded_ids(graph)
    b.spatial_convs = any(_is_spatial_conv(n) for n in graph.nodes)
    env: dict[int, Operand] = {}
    unsupported: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.op == "Placeholder":
            env[id(node.output)] = node.name
            continue
        if node.op == "Const":
            value = np.asarray(node.attrs["value"])
            b.const_names[id(value)] = node.name
            env[id(node.output)] = value
            continue
        args = [env[id(v)] for v in node.inputs]
        args = [_known(v, a) for v, a in zip(node.inputs, args)]
        op = _Op(
            node.op, node.name, node.attrs, [v.type for v in node.inputs], [v.type for v in node.outputs]
        )
        try:
            outs = _convert(b, op, args)
        except _Unsupported as e:
            unsupported.setdefault(str(e), []).append(node.name)
            outs = [f"<unsupported {node.name}>"] * len(node.outputs)
        except ExportError:
            raise
        except FourierError as e:
            raise ExportError(f"node {node.name!r} ({node.op}): {e}") from e
        except (TypeError, ValueError, IndexError, ArithmeticError) as e:
            # Folding with the reference, or a converter, met shapes the IR's types did not rule out.
            types = ", ".join(str(t) for t in op.in_types)
            raise ExportError(
                f"node {node.name!r} ({node.op}) on inputs ({types}) cannot be exported: {e}"
            ) from e
        if len(outs) != len(node.outputs):
            raise ExportError(
                f"node {node.name!r} ({node.op}): the converter gave {len(outs)} outputs, "
                f"the IR has {len(node.outputs)} (an exporter bug)"
            )
        for v, o in zip(node.outputs, outs):
            env[id(v)] = o
        if node.name in guarded and isinstance(outs[0], str):
            b.guarded_ids[outs[0]] = guarded[node.name]
    if unsupported:
        lines = [f"{graph.name}: {len(unsupported)} op type(s) have no ONNX export:"]
        for op_name, nodes in sorted(unsupported.items()):
            shown = ", ".join(repr(n) for n in nodes[:5]) + (
                f", ... ({len(nodes)} nodes)" if len(nodes) > 5 else ""
            )
            lines.append(f"  {op_name}: {shown}")
        raise ExportError("\n".join(lines))

    outputs = []
    for name, v in graph.outputs:
        result = env[id(v)]
        src = result if isinstance(result, str) else b.const(np.asarray(result), f"{name}/value")
        b.emit("Identity", [src], [name])
        outputs.append(
            helper.make_tensor_value_info(name, _onnx_dtype(v.type.dtype), _dims_proto(v.type.shape, sizes))
        )
    graph_inputs = [
        helper.make_tensor_value_info(
            n.name, _onnx_dtype(n.output.type.dtype), _dims_proto(n.output.type.shape, sizes)
        )
        for n in inputs
    ]
    b.prune(out_names)
    groups: list[dict[str, Any]] = []
    if pack_inputs:
        graph_inputs, groups = _pack_concatenated_inputs(b.nodes, graph_inputs)
    onnx_graph = helper.make_graph(b.nodes, graph.name, graph_inputs, outputs, initializer=b.initializers)
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in sorted(b.used_domains)]
    model = helper.make_model(onnx_graph, opset_imports=imports, producer_name="fourier")
    if groups:
        helper.set_model_props(model, {PACKED_INPUTS: json.dumps(groups)})
    model.ir_version = min(model.ir_version, _IR_VERSION_FOR_OPSET.get(opset, model.ir_version))
    if check:
        onnx.checker.check_model(model)
        _check_dtypes(graph, model, env)
    return model


def _pack_concatenated_inputs(
    nodes: list[Any], graph_inputs: list[Any]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Runs of two or more graph inputs that one ``Concat`` joins along their last axis, side by
    side, each read nowhere else, with one element type and the same shape but for the last axis
    (static): each run becomes one input the caller concatenates (named ``packed:<first>``).
    Returns the new graph inputs and the groups (``{"name", "inputs", "axis": -1}``)."""
    from onnx import helper

    spec = {vi.name: vi for vi in graph_inputs}
    reads: dict[str, int] = {}
    for node in nodes:
        for name in node.input:
            reads[name] = reads.get(name, 0) + 1

    def shape(name: str) -> list[Any]:
        dims = spec[name].type.tensor_type.shape.dim
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]

    def joins(run: list[str], name: str) -> bool:
        if name not in spec or reads.get(name) != 1:
            return False
        s = shape(name)
        if len(s) < 2 or not isinstance(s[-1], int) or s[-1] < 1:
            return False
        if not run:
            return True
        first = spec[run[0]].type.tensor_type
        return first.elem_type == spec[name].type.tensor_type.elem_type and shape(run[0])[:-1] == s[:-1]

    groups: list[dict[str, Any]] = []
    packed: dict[str, Any] = {}  # first member -> the packed input's value info
    for node in nodes:
        if node.op_type != "Concat":
            continue
        axis = next(a.i for a in node.attribute if a.name == "axis")
        new_inputs: list[str] = []
        run: list[str] = []

        def close(run: list[str]) -> None:
            if len(run) >= 2:
                width = sum(shape(n)[-1] for n in run)
                name = f"packed:{run[0]}"
                t = spec[run[0]].type.tensor_type
                packed[run[0]] = helper.make_tensor_value_info(
                    name, t.elem_type, [*shape(run[0])[:-1], width]
                )
                groups.append({"name": name, "inputs": list(run), "axis": -1})
                new_inputs.append(name)
            else:
                new_inputs.extend(run)

        for name in node.input:
            rank = len(shape(name)) if name in spec else None
            if rank is not None and axis in (-1, rank - 1) and joins(run, name):
                run.append(name)
                continue
            close(run)
            run = []
            if rank is not None and axis in (-1, rank - 1) and joins([], name):
                run = [name]
            else:
                new_inputs.append(name)
        close(run)
        if list(node.input) != new_inputs:
            del node.input[:]
            node.input.extend(new_inputs)
    members = {n for g in groups for n in g["inputs"]}
    out = []
    for vi in graph_inputs:
        if vi.name in packed:
            out.append(packed[vi.name])
        elif vi.name not in members:
            out.append(vi)
    return out, groups


# The ONNX IR version that goes with each opset (ONNX Runtime refuses newer IR versions than it knows).
_IR_VERSION_FOR_OPSET = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}


def _is_spatial_conv(node: Any) -> bool:
    if node.op == "DepthwiseConv2dNative" or (node.op == "FusedConv2D" and node.attrs.get("depthwise")):
        return True
    if node.op in ("Conv2D", "FusedConv2D"):
        shape = node.inputs[1].type.shape
        return shape is None or tuple(shape[:2]) != (1, 1)
    return False


def _gather_only_tables(graph: Graph) -> set[str]:
    """The arrays of Const nodes whose every use is as the table of an axis-0 GatherV2 or of an
    EmbeddingBag: those may be stored padded (one zero row more) instead of as they are."""
    uses: dict[int, list[bool]] = {}
    for node in graph.nodes:
        for i, v in enumerate(node.inputs):
            if v.producer.op != "Const":
                continue
            ok = i == 0 and (
                node.op == "EmbeddingBag"
                or (
                    node.op == "GatherV2"
                    and node.inputs[2].known is not None
                    and int(np.asarray(node.inputs[2].known).reshape(-1)[0]) == 0
                )
            )
            uses.setdefault(id(v.producer), []).append(ok)
    used_as_output = {id(v.producer) for _, v in graph.outputs}
    return {
        n.name
        for n in graph.nodes
        if n.op == "Const" and id(n) not in used_as_output and uses.get(id(n)) and all(uses[id(n)])
    }


def _guarded_ids(graph: Graph) -> dict[str, tuple[int, int]]:
    """Nodes that bounds-check ids: ``SelectV2(0 <= v & v < hi, v + lo, c)`` with constant ``hi``,
    ``lo`` (one per column of v's last axis) and scalar ``c`` -- what fuse-tables writes for a
    fused table, as plain nodes or as the body of a FusedElementwise: node name -> (the largest id
    it can give, ``c``). Every id it gives is ``c`` or in ``[min(lo), max(lo + hi) - 1]``, so a
    gather reading them needs no check of its own."""
    out: dict[str, tuple[int, int]] = {}
    for node in graph.nodes:
        if node.op == "SelectV2":

            def plain(ref: Any) -> tuple[str, Any]:
                known = _const_of(ref)
                if known is not None:
                    return "const", known
                p = ref.producer
                if p.op in ("GreaterEqual", "Less", "LogicalAnd", "AddV2", "SelectV2"):
                    return p.op, list(p.inputs)
                return "leaf", id(ref)

            found = _match_guard(plain, node.output)
        elif node.op == "FusedElementwise":
            steps = json.loads(node.attrs["body"])
            k = len(node.inputs)

            def fused(ref: Any) -> tuple[str, Any]:
                if ref >= k:
                    op, args = steps[ref - k][0], steps[ref - k][1]
                    return op, list(args)
                known = _const_of(node.inputs[ref])
                return ("const", known) if known is not None else ("leaf", id(node.inputs[ref]))

            found = _match_guard(fused, k + len(steps) - 1)
        else:
            continue
        if found is not None:
            out[node.name] = found
    return out


def _const_of(v: Any) -> np.ndarray | None:
    return None if v.known is None or v.known.dtype == object else np.asarray(v.known)


def _match_guard(resolve: Callable[[Any], tuple[str, Any]], ref: Any) -> tuple[int, int] | None:
    """(largest id, sentinel) if ``ref`` is ``SelectV2(0 <= v & v < hi, v + lo, c)`` (see
    `_guarded_ids`); ``resolve`` gives a reference's op and argument references, ``("const",
    array)`` or ``("leaf", identity)``."""
    op, args = resolve(ref)
    if op != "SelectV2":
        return None
    (cond_op, cond), (add_op, add), (c_kind, c) = (resolve(a) for a in args)
    if cond_op != "LogicalAnd" or add_op != "AddV2" or c_kind != "const" or c.size != 1:
        return None
    sides = dict(resolve(a) for a in cond)
    if set(sides) != {"GreaterEqual", "Less"}:
        return None
    (v_ge, zero), (v_lt, hi), (v_add, lo) = (
        [resolve(a) for a in refs] for refs in (sides["GreaterEqual"], sides["Less"], add)
    )
    if not (v_ge[0] == v_lt[0] == v_add[0] == "leaf" and v_ge[1] == v_lt[1] == v_add[1]):
        return None
    if zero[0] != "const" or hi[0] != "const" or lo[0] != "const":
        return None
    zero, hi, lo = zero[1], hi[1], lo[1]
    if np.any(zero != 0) or lo.shape != hi.shape or lo.ndim > 1 or np.any(lo < 0) or np.any(hi < 1):
        return None
    return int(np.max(lo + hi)) - 1, int(c.reshape(-1)[0])


def _known(v: Any, a: Operand) -> Operand:
    """A runtime operand whose value the IR knows statically is that value."""
    if isinstance(a, str) and v.known is not None and v.known.dtype != object:
        return np.asarray(v.known)
    return a


def _check_dtypes(graph: Graph, model: Any, env: Mapping[int, Operand]) -> None:
    """ONNX's inferred element type of every exported IR value must be the IR's dtype."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in inferred.graph.value_info}
    for node in graph.nodes:
        for v in node.outputs:
            name = env.get(id(v))
            if not isinstance(name, str) or name not in elem or not elem[name]:
                continue
            want = _onnx_dtype(v.type.dtype)
            if elem[name] != want:
                got = onnx.helper.tensor_dtype_to_np_dtype(elem[name])
                raise ExportError(
                    f"node {node.name!r} ({node.op}): the ONNX form produces {got}, the IR says "
                    f"{v.type.dtype} (an exporter bug)"
                )
