"""Ops that only Fourier's passes create: fused dense and convolution, recognized activations and
normalizations, embedding bags, and fused elementwise regions.

Each is defined, like every op, by its inference, numpy reference and JAX lowering, so the
differential tests, constant folding and the interpreter treat them like TensorFlow's own ops.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Mapping
from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import BATCH, UNKNOWN, TensorType, dims_product
from fourier.ops._infer import same_as
from fourier.ops.nn import _depthwise
from fourier.ops.padding import (
    SIZE,
    State,
    batch_major,
    contraction,
    elementwise,
    first_rank,
    maybe_symbol,
    mixed,
    reduce_axes,
)
from fourier.ops.registry import Attr, InferContext, get_op, register

ACTIVATIONS = ("", "Relu", "Relu6", "Sigmoid", "Tanh", "Gelu", "Swish")


def _erf(xp: Any, x: Any) -> Any:
    if xp is np:
        import scipy.special

        return scipy.special.erf(x).astype(x.dtype)
    import jax.scipy.special

    return jax.scipy.special.erf(x)


def _sigmoid(xp: Any, x: Any) -> Any:
    if xp is np:
        import scipy.special

        return scipy.special.expit(x).astype(x.dtype)
    import jax

    return jax.nn.sigmoid(x)


def activate(xp: Any, name: str, x: Any) -> Any:
    """Apply a fused activation by name (`ACTIVATIONS`)."""
    if name == "":
        return x
    if name == "Relu":
        return xp.maximum(x, 0)
    if name == "Relu6":
        return xp.minimum(xp.maximum(x, 0), 6)
    if name == "Sigmoid":
        return _sigmoid(xp, x)
    if name == "Tanh":
        return xp.tanh(x)
    if name == "Gelu":  # exact: x * Phi(x)
        half = np.asarray(0.5, dtype=x.dtype)
        return half * x * (1 + _erf(xp, x * np.asarray(1 / math.sqrt(2), dtype=x.dtype)))
    if name == "Swish":
        return x * _sigmoid(xp, x)
    raise ValueError(f"unknown activation {name!r}")


def _check_activation(ctx: InferContext) -> None:
    if ctx.attrs["activation"] not in ACTIVATIONS:
        raise ctx.fail(f"activation {ctx.attrs['activation']!r} is not one of {ACTIVATIONS}")


# -- dense ----------------------------------------------------------------------------------------


def _dense_infer(ctx: InferContext) -> list[TensorType]:
    _check_activation(ctx)
    x, w = ctx.types[0], ctx.types[1]
    if x.dtype != w.dtype or any(t.dtype != x.dtype for t in ctx.types[2:]):
        raise ctx.fail(f"operands have different dtypes {[t.dtype for t in ctx.types]}")
    if w.shape is None or len(w.shape) != 2:
        raise ctx.fail(f"weights must be rank 2, got {w}")
    if x.shape is None:
        return [TensorType(x.dtype, None)]
    if len(x.shape) < 1:
        raise ctx.fail(f"input must have rank >= 1, got {x}")
    k, n = w.shape
    if isinstance(x.shape[-1], int) and isinstance(k, int) and x.shape[-1] != k:
        raise ctx.fail(f"input has {x.shape[-1]} features, weights expect {k}")
    if len(ctx.types) == 3:
        b = ctx.types[2]
        if b.shape is not None and (len(b.shape) != 1 or b.shape[0] not in (n, UNKNOWN)):
            raise ctx.fail(f"bias must be [{n}], got {b}")
    return [TensorType(x.dtype, (*x.shape[:-1], n))]


def _dense(xp: Any, attrs: dict[str, Any], x: Any, w: Any, b: Any = None) -> Any:
    if xp is np:
        y = np.matmul(x, w)
    else:
        from jax import lax

        y = xp.matmul(x, w, precision=lax.Precision.HIGHEST)
    if b is not None:
        y = y + b
    return activate(xp, attrs["activation"], y)


def _dense_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The contraction ``...y,yz,z->...z``: contracting rows mixes"""
    rank = first_rank(node)
    if rank is None:
        return [mixed(node, "input rank unknown")]
    x = string.ascii_lowercase[: rank - 1]
    labels = [x + "y", "yz", "z"][: len(node.inputs)]
    return [contraction(node, ins, symbol, labels, x + "z")]


register(
    "FusedDense",
    inputs=(2, 3),
    attrs=[Attr("activation", "str", "")],
    infer=_dense_infer,
    xp_fn=_dense,
    doc="activation(x @ w + b) over the last axis of x (rank >= 1); made by fuse-dense",
    padding_rule=_dense_padding,
    traits=("pure", "compute"),
)

# -- convolution ----------------------------------------------------------------------------------

CONV_ALGORITHMS = ("xla", "matmul", "taps")


def _conv_infer(ctx: InferContext) -> list[TensorType]:
    _check_activation(ctx)
    if ctx.attrs["algorithm"] not in CONV_ALGORITHMS:
        raise ctx.fail(f"algorithm {ctx.attrs['algorithm']!r} is not one of {CONV_ALGORITHMS}")
    base = "DepthwiseConv2dNative" if ctx.attrs["depthwise"] else "Conv2D"
    (out,) = get_op(base).infer(ctx.first(2))
    if len(ctx.types) == 3:
        b = ctx.types[2]
        if b.shape is not None and out.shape is not None and b.shape != (out.shape[-1],):
            raise ctx.fail(f"bias must be [{out.shape[-1]}], got {b}")
    return [out]


def _conv_ref(attrs: dict[str, Any], x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    base = get_op("DepthwiseConv2dNative" if attrs["depthwise"] else "Conv2D")
    y = base.reference(attrs, x, w)
    if b is not None:
        y = y + b
    return np.asarray(activate(np, attrs["activation"], y)).astype(x.dtype)


def _conv_lower(attrs: dict[str, Any], x: Any, w: Any, b: Any = None) -> Any:
    import jax.numpy as jnp
    from jax import lax

    algorithm = attrs["algorithm"]
    if algorithm == "matmul":  # 1x1, stride 1, no padding: a matmul over the channel axis
        y = jnp.einsum("nhwc,cd->nhwd", x, w[0, 0], precision=lax.Precision.HIGHEST)
    elif algorithm == "taps" and attrs["depthwise"]:
        y = _depthwise(jnp, attrs, x, w)
    else:
        base = get_op("DepthwiseConv2dNative" if attrs["depthwise"] else "Conv2D")
        y = base.lower(attrs, x, w)
    if b is not None:
        y = y + b
    return activate(jnp, attrs["activation"], y)


register(
    "FusedConv2D",
    inputs=(2, 3),
    attrs=[
        Attr("strides", "ints"),
        Attr("padding", "str"),
        Attr("explicit_paddings", "ints", []),
        Attr("data_format", "str", "NHWC"),
        Attr("dilations", "ints", [1, 1, 1, 1]),
        Attr("depthwise", "bool", False),
        Attr("activation", "str", ""),
        Attr("algorithm", "str", "xla"),
    ],
    infer=_conv_infer,
    reference=_conv_ref,
    lower=_conv_lower,
    doc=(
        "activation(conv(x, w) + b), plain or depthwise; `algorithm` picks the XLA formulation "
        "(xla: XLA's convolution, matmul: 1x1 as a matmul, taps: depthwise as shifted multiplies)"
    ),
    padding_rule=batch_major,
    traits=("pure", "compute"),
)

# -- recognized activations and normalizations ------------------------------------------------------


def _gelu(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    return activate(xp, "Gelu", x)


register(
    "Gelu",
    inputs=1,
    infer=same_as(0),
    xp_fn=_gelu,
    traits=("pure", "elementwise"),
    doc="exact GELU, x * Phi(x); recognized from TensorFlow's Erfc chain",
)
register(
    "Swish",
    inputs=1,
    infer=same_as(0),
    xp_fn=lambda xp, a, x: activate(xp, "Swish", x),
    traits=("pure", "elementwise"),
    doc="x * sigmoid(x); recognized from Mul(x, Sigmoid(x))",
)


def _layer_norm_infer(ctx: InferContext) -> list[TensorType]:
    x, gamma, beta = ctx.types
    if x.shape is not None and x.shape and gamma.shape is not None:
        if gamma.shape not in ((x.shape[-1],), (UNKNOWN,)) or beta.shape != gamma.shape:
            raise ctx.fail(f"gamma and beta must be [{x.shape[-1]}], got {gamma} and {beta}")
    return [x]


def _layer_norm(xp: Any, attrs: dict[str, Any], x: Any, gamma: Any, beta: Any) -> Any:
    mean = xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean(xp.square(x - mean), axis=-1, keepdims=True)
    inv = (1 / xp.sqrt(var + np.asarray(attrs["epsilon"], dtype=x.dtype))) * gamma
    return x * inv + (beta - mean * inv)


def _layer_norm_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Along the last axis: mixes if rows are on it; scale and offset must be free"""
    rank = first_rank(node)
    if rank is None:
        return [mixed(node, "input rank unknown")]
    st = reduce_axes(node, ins[:1], symbol, [rank - 1], True)
    if elementwise(node, ins, symbol, operands=(1, 2)).kind != "free":
        return [mixed(node, "scale or offset depends on the data")]
    return [st] * len(node.outputs)


register(
    "LayerNorm",
    inputs=3,
    attrs=[Attr("epsilon", "float", 1e-3)],
    infer=_layer_norm_infer,
    xp_fn=_layer_norm,
    doc="layer normalization over the last axis with scale gamma and offset beta",
    padding_rule=_layer_norm_padding,
    traits=("pure", "compute"),
)

# -- embedding bag --------------------------------------------------------------------------------

COMBINERS = ("sum", "mean")


def _bag_infer(ctx: InferContext) -> list[TensorType]:
    table, ids = ctx.types
    if ctx.attrs["combiner"] not in COMBINERS:
        raise ctx.fail(f"combiner {ctx.attrs['combiner']!r} is not one of {COMBINERS}")
    if ids.dtype not in ("int32", "int64"):
        raise ctx.fail(f"ids must be int32 or int64, got {ids.dtype}")
    if table.shape is None or len(table.shape) != 2:
        raise ctx.fail(f"table must be rank 2, got {table}")
    if ids.shape is None or len(ids.shape) < 1:
        raise ctx.fail(f"ids must have rank >= 1, got {ids}")
    keep = ctx.attrs["keep_dims"]
    bag = (*ids.shape[:-1], 1) if keep else ids.shape[:-1]
    return [TensorType(table.dtype, (*bag, table.shape[1]))]


def _bag(xp: Any, attrs: dict[str, Any], table: Any, ids: Any) -> Any:
    gather = get_op("GatherV2").reference if xp is np else get_op("GatherV2").lower
    rows = gather({"batch_dims": 0}, table, ids, np.asarray(0, dtype=np.int32))
    reduce = xp.sum if attrs["combiner"] == "sum" else xp.mean
    return reduce(rows, axis=ids.ndim - 1, keepdims=attrs["keep_dims"])


def _bag_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Ids carry rows into the output; bagging over the row axis, or a table that depends on the
    data or whose length depends on the size, mixes"""
    table, ids = ins
    if table.kind != "free":
        return [mixed(node, "looks up a table that depends on the data")]
    tt = node.inputs[0].type
    if tt.shape is None or (tt.shape and maybe_symbol(tt.shape[0], symbol)):
        return [
            mixed(node, f"looks up a table whose size depends on {symbol}") if ids.kind == "rows" else SIZE
        ]
    t = node.inputs[1].type
    if ids.kind != "rows" or t.shape is None:
        return [ids]
    if ids.axis == len(t.shape) - 1:
        return [mixed(node, f"bags over the {symbol} axis")]
    return [ids]


register(
    "EmbeddingBag",
    inputs=2,
    attrs=[Attr("combiner", "str", "sum"), Attr("keep_dims", "bool", False)],
    infer=_bag_infer,
    xp_fn=_bag,
    doc="rows of table at ids (last axis = the bag), combined by sum or mean; out-of-range ids give zeros",
    padding_rule=_bag_padding,
    traits=("pure", "compute"),
)

# -- fused elementwise region ---------------------------------------------------------------------


def _body(attrs: Mapping[str, Any]) -> list[tuple[str, list[int], dict[str, Any]]]:
    return [(op, list(args), dict(a)) for op, args, a in json.loads(attrs["body"])]


def _region_infer(ctx: InferContext) -> list[TensorType]:
    env = list(ctx.types)  # the type of every value of the region: its inputs, then each step
    try:
        steps = _body(ctx.attrs)
    except (ValueError, TypeError) as e:
        raise ctx.fail(f"body is not a valid region: {e}") from e
    if not steps:
        raise ctx.fail("empty region body")
    for k, (op, args, attrs) in enumerate(steps):
        opdef = get_op(op)
        if "elementwise" not in opdef.traits:
            raise ctx.fail(f"step {k} ({op}) is not an elementwise op")
        if any(not 0 <= a < len(env) for a in args):
            raise ctx.fail(f"step {k} ({op}) reads a value not defined before it")
        (t,) = opdef.infer(InferContext(op, f"{ctx.name}/{k}", attrs, [env[a] for a in args]))
        env.append(t)
    return [env[-1]]


def _region(xp: Any, attrs: dict[str, Any], *inputs: Any) -> Any:
    env = list(inputs)
    for op, args, a in _body(attrs):
        opdef = get_op(op)
        fn = opdef.reference if xp is np else opdef.lower
        env.append(fn(a, *[env[i] for i in args]))
    return env[-1]


register(
    "FusedElementwise",
    inputs=(1, None),
    attrs=[Attr("body", "str")],
    infer=_region_infer,
    xp_fn=_region,
    traits=("pure", "elementwise"),
    doc=(
        "a chain of elementwise ops lowered as one unit; `body` is a JSON list of "
        "[op, [operand indices], attrs] where indices count the inputs, then earlier steps"
    ),
)

# -- request-level hoisting -----------------------------------------------------------------------


def _batch_broadcast_infer(ctx: InferContext) -> list[TensorType]:
    x, like = ctx.types
    axis, inner = ctx.attrs["axis"], ctx.attrs["inner"]
    if x.shape is None or not 0 <= axis < len(x.shape):
        raise ctx.fail(f"axis {axis} is out of range for {x}")
    if like.shape is None or not like.shape:
        raise ctx.fail(f"the batch must come from a tensor of known rank >= 1, got {like}")
    if inner < 1 or x.shape[axis] != inner:
        raise ctx.fail(f"dimension {axis} of {x} must be the {inner} positions of one row")
    shape = list(x.shape)
    shape[axis] = dims_product((like.shape[0], inner))
    return [TensorType(x.dtype, tuple(shape))]


def _batch_broadcast(xp: Any, attrs: dict[str, Any], x: Any, like: Any) -> Any:
    axis, inner = attrs["axis"], attrs["inner"]
    n = like.shape[0]
    if inner == 1:
        shape = list(x.shape)
        shape[axis] = n
        return xp.broadcast_to(x, tuple(shape))
    split = (*x.shape[:axis], 1, inner, *x.shape[axis + 1 :])
    wide = (*x.shape[:axis], n, inner, *x.shape[axis + 1 :])
    folded = (*x.shape[:axis], n * inner, *x.shape[axis + 1 :])
    return xp.reshape(xp.broadcast_to(xp.reshape(x, split), wide), folded)


def _batch_broadcast_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """One request-level row repeated once per row of ``like``: rows along ``axis`` when the row
    is free of the batch; for another symbol the row's own state passes through"""
    x, like = ins
    axis, inner = node.attrs["axis"], node.attrs["inner"]
    if like.kind == "mixed":
        return [like]
    if symbol == BATCH:
        if x.kind != "free":
            return [mixed(node, "the broadcast row depends on the batch")]
        return [State("rows", axis, 1, inner)]
    if x.kind == "rows" and x.axis == axis:
        return [mixed(node, f"broadcasts along the {symbol} axis")]
    return [x]


register(
    "BatchBroadcast",
    inputs=2,
    attrs=[Attr("axis", "int", 0), Attr("inner", "int", 1)],
    infer=_batch_broadcast_infer,
    xp_fn=_batch_broadcast,
    doc=(
        "x computed once per request (one row: ``inner`` positions along ``axis``) repeated for "
        "each of like's rows (like's first dimension); made by hoisting request-level inputs"
    ),
    padding_rule=_batch_broadcast_padding,
)
