"""Hostile GraphDefs, modelled on the classes of TensorFlow's security advisories.

Each case is a GraphDef built directly with the protobuf schema (no TensorFlow needed) that a
careless importer would crash on, hang on, or allocate without bound for: dangling and self
inputs, cycles, recursive functions, huge Fill/Range/Tile/Reshape sizes, element counts that
overflow int64, dtypes that contradict their op, TensorProtos shorter than their shape, missing or
wrong attributes, absurd ranks, enormous node counts. Fourier must refuse every one with a typed
error (`fourier.errors.FourierError`) quickly and in little memory; `tests/test_hostile.py`
checks 1 s and 256 MiB each, and the fuzzer (`bench/fuzz.py`) starts from these too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorboard.compat.proto import tensor_pb2

from fourier.importer.protos import graph_pb2
from fourier.ir.types import numpy_dtype

__all__ = ["HostileCase", "CASES"]

_ENUMS = {"float32": 1, "float64": 2, "int32": 3, "int64": 9, "bool": 10, "string": 7}


@dataclass(frozen=True)
class HostileCase:
    name: str
    build: Callable[[], bytes]
    expect: str  # a fragment the error message must contain


def _graph() -> Any:
    return graph_pb2.GraphDef()


def _node(g: Any, name: str, op: str, inputs: tuple[str, ...] = (), **attrs: Any) -> Any:
    n = g.node.add()
    n.name, n.op = name, op
    n.input.extend(inputs)
    for key, value in attrs.items():
        kind, v = value
        av = n.attr[key]
        if kind == "type":
            av.type = _ENUMS[v] if isinstance(v, str) else v
        elif kind == "shape":
            if v is None:
                av.shape.unknown_rank = True
            for d in v or ():
                av.shape.dim.add().size = d
        elif kind == "tensor":
            av.tensor.CopyFrom(v)
        elif kind == "ints":
            av.list.i.extend(v)
        elif kind == "s":
            av.s = v
        elif kind == "i":
            av.i = v
        elif kind == "func":
            av.func.name = v
    return n


def _tensor(
    value: Any = None,
    *,
    dtype: str = "float32",
    shape: list[int] | None = None,
    content: bytes | None = None,
    vals: list[Any] | None = None,
) -> Any:
    t = tensor_pb2.TensorProto()
    t.dtype = _ENUMS[dtype]
    if value is not None:
        arr = np.asarray(value, dtype=numpy_dtype(dtype))
        shape, content = list(arr.shape), arr.tobytes()
    for d in shape or ():
        t.tensor_shape.dim.add().size = d
    if content is not None:
        t.tensor_content = content
    if vals is not None:
        {"float32": t.float_val, "int32": t.int_val, "int64": t.int64_val}[dtype].extend(vals)
    return t


def _const(g: Any, name: str, value: Any, dtype: str) -> Any:
    return _node(g, name, "Const", dtype=("type", dtype), value=("tensor", _tensor(value, dtype=dtype)))


def _bad_const(tensor: Any, dtype: str = "float32") -> Callable[[], bytes]:
    """A graph whose output reads the Const ``y`` holding ``tensor``."""

    def build() -> bytes:
        g = _graph()
        _node(g, "y", "Const", dtype=("type", dtype), value=("tensor", tensor))
        _node(g, "out", "Identity", ("y",))
        return _bytes(g)

    return build


def _x(g: Any, shape: tuple[int, ...] = (-1, 8), dtype: str = "float32") -> Any:
    return _node(g, "x", "Placeholder", dtype=("type", dtype), shape=("shape", list(shape)))


def _x_op(op: str, operand: Any, dtype: str) -> Callable[[], bytes]:
    """``y = op(x, c)`` for the input ``x: float32[N, 8]`` and a constant ``c``."""
    return _with(_x, lambda g: _const(g, "c", operand, dtype), lambda g: _node(g, "y", op, ("x", "c")))


def _bytes(g: Any) -> bytes:
    return bytes(g.SerializeToString())


def _with(*steps: Callable[[Any], Any]) -> Callable[[], bytes]:
    def build() -> bytes:
        g = _graph()
        for step in steps:
            step(g)
        return _bytes(g)

    return build


def _recursive(calls: dict[str, list[str]], caller_op: str | None = None) -> Callable[[], bytes]:
    def build() -> bytes:
        g = _graph()
        _x(g)
        for fname, callees in calls.items():
            f = g.library.function.add()
            f.signature.name = fname
            arg = f.signature.input_arg.add()
            arg.name, arg.type = "a", 1
            out = f.signature.output_arg.add()
            out.name, out.type = "r", 1
            for i, callee in enumerate(callees):
                inner = f.node_def.add()
                inner.name, inner.op = f"call{i}", callee
                inner.input.append("a")
            f.ret["r"] = "call0:r:0" if callees else "a"
        first = next(iter(calls))
        if caller_op is None:
            _node(g, "y", first, ("x",))
        else:
            _node(g, "y", caller_op, ("x",), f=("func", first))
        return _bytes(g)

    return build


def _many_nodes(count: int) -> Callable[[], bytes]:
    def build() -> bytes:
        g = _graph()
        _x(g)
        for i in range(count):
            g.node.add(name=f"n{i}", op="NoOp")
        _node(g, "y", "Identity", ("x",))
        return _bytes(g)

    return build


CASES: list[HostileCase] = [
    HostileCase(
        "dangling-input",
        _with(_x, lambda g: _node(g, "y", "AddV2", ("x", "ghost"))),
        "reads 'ghost', which is not in the graph",
    ),
    HostileCase(
        "self-input",
        _with(_x, lambda g: _node(g, "a", "AddV2", ("x", "a")), lambda g: _node(g, "y", "Identity", ("a",))),
        "reads itself",
    ),
    HostileCase(
        "cycle",
        _with(
            _x,
            lambda g: _node(g, "a", "AddV2", ("x", "b")),
            lambda g: _node(g, "b", "AddV2", ("x", "a")),
            lambda g: _node(g, "y", "Identity", ("a",)),
        ),
        "has a cycle",
    ),
    HostileCase("self-recursive-function", _recursive({"f": ["f"]}), "recurse: f -> f"),
    HostileCase("mutually-recursive-functions", _recursive({"f": ["g"], "g": ["f"]}), "recurse: f -> g -> f"),
    HostileCase(
        "recursive-function-through-partitioned-call",
        _recursive({"f": ["f"]}, caller_op="StatefulPartitionedCall"),
        "recurse: f -> f",
    ),
    HostileCase(
        "call-to-missing-function",
        _with(_x, lambda g: _node(g, "y", "PartitionedCall", ("x",), f=("func", "nowhere"))),
        "'nowhere' is not in the library",
    ),
    HostileCase(
        "huge-fill",
        _with(
            lambda g: _const(g, "dims", [1 << 20, 1 << 20], "int64"),
            lambda g: _const(g, "v", 0.0, "float32"),
            lambda g: _node(g, "y", "Fill", ("dims", "v")),
        ),
        "elements, more than",
    ),
    HostileCase(
        "huge-range",
        _with(
            lambda g: _const(g, "a", 0, "int64"),
            lambda g: _const(g, "b", 1 << 40, "int64"),
            lambda g: _const(g, "d", 1, "int64"),
            lambda g: _node(g, "y", "Range", ("a", "b", "d"), Tidx=("type", "int64")),
        ),
        "has a dimension over",
    ),
    HostileCase(
        "huge-tile",
        _x_op("Tile", [1 << 20, 1 << 20], "int32"),
        "elements, more than",
    ),
    HostileCase(
        "huge-reshape",
        _x_op("Reshape", [1 << 40, 1 << 40], "int64"),
        "node 'y' (Reshape)",
    ),
    HostileCase(
        "int64-overflowing-fill",  # 2**62 * 4 elements wraps to 0 in int64 arithmetic
        _with(
            lambda g: _const(g, "dims", [1 << 62, 4], "int64"),
            lambda g: _const(g, "v", 0.0, "float32"),
            lambda g: _node(g, "y", "Fill", ("dims", "v")),
        ),
        "has a dimension over",
    ),
    HostileCase(
        "int64-overflowing-const-shape",
        _bad_const(_tensor(shape=[1 << 62, 1 << 62], vals=[1.0])),
        "has a dimension over 2147483647",
    ),
    HostileCase(
        "huge-filled-const",  # one value, TensorFlow's fill rule asks for 1 GiB
        _bad_const(_tensor(shape=[1 << 28], vals=[1.0])),
        "allowed for a filled constant",
    ),
    HostileCase(
        "const-dtype-contradicts-tensor",
        _bad_const(_tensor([1, 2], dtype="int32")),
        "dtype attribute says float32, the tensor holds int32",
    ),
    HostileCase(
        "add-of-float-and-int",
        _x_op("AddV2", np.ones(8, np.int32), "int32"),
        "node 'y' (AddV2)",
    ),
    HostileCase(
        "matmul-of-int-and-float",
        _x_op("MatMul", np.ones((8, 2), np.int32), "int32"),
        "node 'y' (MatMul)",
    ),
    HostileCase(
        "string-placeholder",
        _with(lambda g: _x(g, dtype="string"), lambda g: _node(g, "y", "Identity", ("x",))),
        "every node runs on the host",  # strings run on the host (fourier.host): nothing left to compile
    ),
    HostileCase(
        "unknown-dtype-enum",
        _with(
            lambda g: _node(g, "x", "Placeholder", dtype=("type", 9999), shape=("shape", [-1, 8])),
            lambda g: _node(g, "y", "Identity", ("x",)),
        ),
        "dtype 9999 is not supported",
    ),
    HostileCase(
        "tensor-content-shorter-than-shape",
        _bad_const(_tensor(shape=[1000], content=b"\0" * 16)),
        "tensor_content has 16 bytes, shape [1000] of float32 needs 4000",
    ),
    HostileCase(
        "more-values-than-shape",
        _bad_const(_tensor(shape=[2], vals=[1.0, 2.0, 3.0])),
        "3 values given for shape [2]",
    ),
    HostileCase(
        "negative-const-dimension",
        _bad_const(_tensor(shape=[-5], vals=[1.0])),
        "negative dimension",
    ),
    HostileCase(
        "invalid-placeholder-dimension",
        _with(lambda g: _x(g, shape=(-1, -7)), lambda g: _node(g, "y", "Identity", ("x",))),
        "invalid dimension -7",
    ),
    HostileCase(
        "missing-required-attribute",
        _with(
            lambda g: _x(g, shape=(-1, 4, 4, 2)),
            lambda g: _const(g, "w", np.ones((1, 1, 2, 2), np.float32), "float32"),
            lambda g: _node(g, "y", "Conv2D", ("x", "w")),
        ),
        "required attribute 'strides' is missing",
    ),
    HostileCase(
        "wrong-attribute-kind",
        _with(
            lambda g: _node(g, "x", "Placeholder", dtype=("s", b"float"), shape=("shape", [-1, 8])),
            lambda g: _node(g, "y", "Identity", ("x",)),
        ),
        "expected a type attribute, got s",
    ),
    HostileCase(
        "absurd-rank-placeholder",
        _with(lambda g: _x(g, shape=(-1, *([1] * 5000))), lambda g: _node(g, "y", "Identity", ("x",))),
        "rank 5001, more than 32",
    ),
    HostileCase(
        "absurd-rank-reshape",
        _x_op("Reshape", [-1] + [1] * 99, "int32"),
        "rank 100, more than 32",
    ),
    HostileCase(
        "wrong-input-count",
        _with(_x, lambda g: _node(g, "y", "Identity", ("x", "x", "x"))),
        "expected 1 inputs, got 3",
    ),
    HostileCase(
        "output-index-out-of-range",
        _with(_x, lambda g: _node(g, "y", "Identity", ("x:5",))),
        "asks for output 5",
    ),
    HostileCase(
        "duplicate-node-names",
        _with(_x, lambda g: _node(g, "y", "Identity", ("x",)), lambda g: _node(g, "y", "Neg", ("x",))),
        "is used twice",
    ),
    HostileCase(
        "strided-slice-zero-stride",
        _with(
            _x,
            lambda g: _const(g, "b", [0], "int32"),
            lambda g: _const(g, "e", [1], "int32"),
            lambda g: _const(g, "s", [0], "int32"),
            lambda g: _node(g, "y", "StridedSlice", ("x", "b", "e", "s"), Index=("type", "int32")),
        ),
        "node 'y' (StridedSlice)",
    ),
    HostileCase(
        "concat-axis-out-of-range",
        _with(_x, lambda g: _const(g, "a", 7, "int32"), lambda g: _node(g, "y", "ConcatV2", ("x", "x", "a"))),
        "node 'y' (ConcatV2)",
    ),
    HostileCase("enormous-node-count", _many_nodes(1_000_001), "more than 1000000"),
    HostileCase(
        "not-a-graphdef", lambda: b"\xff\xfe this is not a protobuf \x00\x01" * 10, "not a valid GraphDef"
    ),
]


# Crashes the fuzzer found (tests/test_fuzz.py keeps them): (name, graph, expected outcome).
def _fuzz_unknown_rank_dense() -> bytes:
    g = _graph()
    _x(g)
    _node(g, "s", "Placeholder", dtype=("type", "int32"), shape=("shape", [-1]))
    _node(g, "r", "Reshape", ("x", "s"))  # rank unknown: the shape's length is not known
    _const(g, "w", np.ones((8, 4), np.float32), "float32")
    _const(g, "b", np.ones(4, np.float32), "float32")
    _node(g, "m", "MatMul", ("r", "w"))
    _node(g, "y", "BiasAdd", ("m", "b"))
    return _bytes(g)


FUZZ_REGRESSIONS: list[tuple[str, Callable[[], bytes], str]] = [
    # fuse-dense built a FusedDense of unknown rank for a MatMul typed [?,?]: a PassError.
    ("fuse-dense-over-an-operand-of-unknown-rank", _fuzz_unknown_rank_dense, "CompileError"),
    # Squeeze inference took `axis % rank` of a scalar: ZeroDivisionError.
    (
        "squeeze-axes-of-a-scalar",
        _with(
            lambda g: _const(g, "c", 1.0, "float32"),
            lambda g: _node(g, "y", "Squeeze", ("c",), squeeze_dims=("ints", [0])),
        ),
        "GraphImportError",
    ),
    # StridedSlice with two ellipsis bits: AttributeError in shape inference.
    (
        "strided-slice-with-two-ellipses",
        _with(
            _x,
            lambda g: _const(g, "b", [0, 0], "int32"),
            lambda g: _const(g, "s", [1, 1], "int32"),
            lambda g: _node(
                g, "y", "StridedSlice", ("x", "b", "b", "s"), Index=("type", "int32"), ellipsis_mask=("i", 3)
            ),
        ),
        "GraphImportError",
    ),
    # An empty constant of shape [0, 2**62]: numpy's reshape raised ValueError.
    (
        "empty-const-with-a-huge-dimension",
        _bad_const(_tensor(shape=[0, 1 << 62], content=b"")),
        "GraphImportError",
    ),
    # Transpose mutated into Tile with a zero multiple, then reshaped to the batch's shape: the
    # symbolic element counts (0 vs 8*N) were not compared, and JAX's reshape raised TypeError
    # while tracing the bucket.
    (
        "reshape-of-an-empty-tile-to-the-batch-shape",
        _with(
            _x,
            lambda g: _const(g, "m", [0, 1], "int32"),
            lambda g: _node(g, "t", "Tile", ("x", "m")),
            lambda g: _node(g, "s", "Shape", ("x",), out_type=("type", "int32")),
            lambda g: _node(g, "y", "Reshape", ("t", "s")),
        ),
        "GraphImportError",
    ),
    # A reduction axis that import does not evaluate (a sum over 5000 constants, past import's
    # 4096-element limit) but fold-constants does: the Prod turned invalid inside the pipeline and
    # was reported as a failing pass. It is the graph's fault: a CompileError naming the node.
    (
        "reduction-axis-known-only-after-folding",
        _with(
            _x,
            lambda g: _const(g, "ones", np.ones(5000, np.int32), "int32"),
            lambda g: _const(g, "zero", 0, "int32"),
            lambda g: _node(g, "axis", "Sum", ("ones", "zero")),
            lambda g: _node(g, "y", "Prod", ("x", "axis")),
        ),
        "CompileError",
    ),
]
