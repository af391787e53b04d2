"""Neural-network ops: matrix products, bias, convolutions, batch norm, pooling, softmax.

Convolutions and pooling share one "taps" formulation (a sum or max over shifted strided views of
the padded input) that is used as the numpy reference for all of them and as the JAX lowering of
pooling. Convolutions lower to XLA's convolution; the `conv-algorithm` pass rewrites them to the
forms XLA:CPU runs faster (1x1 as a matmul, depthwise as taps), see docs/passes.md.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import UNKNOWN, Dim, TensorType
from fourier.ops._infer import broadcast_shapes, same_as
from fourier.ops.padding import State, along_last_axis, batch_major, contraction, mixed
from fourier.ops.registry import Attr, InferContext, register


def _highest() -> Any:
    from jax import lax

    return lax.Precision.HIGHEST


def _dims_match(ctx: InferContext, a: Dim, b: Dim, what: str) -> None:
    if isinstance(a, int) and isinstance(b, int) and a != b:
        raise ctx.fail(f"{what}: {a} != {b}")


# -- matrix products ----------------------------------------------------------------------------


def _matmul_infer(ctx: InferContext) -> list[TensorType]:
    a, b = ctx.types
    if a.dtype != b.dtype:
        raise ctx.fail(f"operands have different dtypes {a.dtype} and {b.dtype}")
    if a.shape is None or b.shape is None:
        return [TensorType(a.dtype, (UNKNOWN, UNKNOWN))]
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ctx.fail(f"MatMul needs rank-2 operands, got {a} and {b}")
    m, ka = (a.shape[1], a.shape[0]) if ctx.attrs["transpose_a"] else a.shape
    kb, n = (b.shape[1], b.shape[0]) if ctx.attrs["transpose_b"] else b.shape
    _dims_match(ctx, ka, kb, "contracting dimensions differ")
    return [TensorType(a.dtype, (m, n))]


def _matmul_ref(attrs: dict[str, Any], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.T if attrs["transpose_a"] else a
    b = b.T if attrs["transpose_b"] else b
    return np.matmul(a, b)


def _matmul_lower(attrs: dict[str, Any], a: Any, b: Any) -> Any:
    import jax.numpy as jnp

    a = a.T if attrs["transpose_a"] else a
    b = b.T if attrs["transpose_b"] else b
    return jnp.matmul(a, b, precision=_highest())


def _matmul_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The contraction ``ik,kj->ij`` (``ki``/``jk`` when transposed): contracting rows mixes"""
    ta, tb = node.inputs[0].type, node.inputs[1].type
    if ta.shape is None or tb.shape is None:
        return [mixed(node, "operand rank unknown")]
    a = "ki" if node.attrs.get("transpose_a") else "ik"
    b = "jk" if node.attrs.get("transpose_b") else "kj"
    return [contraction(node, ins, symbol, [a, b], "ij")]


register(
    "MatMul",
    inputs=2,
    attrs=[Attr("transpose_a", "bool", False), Attr("transpose_b", "bool", False)],
    infer=_matmul_infer,
    reference=_matmul_ref,
    lower=_matmul_lower,
    doc="matrix product of two rank-2 tensors",
    padding_rule=_matmul_padding,
    traits=("pure", "compute"),
)


def _bmm_infer(ctx: InferContext) -> list[TensorType]:
    a, b = ctx.types
    if a.shape is None or b.shape is None:
        return [TensorType(a.dtype, None)]
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ctx.fail(f"BatchMatMul needs rank >= 2, got {a} and {b}")
    m, ka = (a.shape[-1], a.shape[-2]) if ctx.attrs["adj_x"] else (a.shape[-2], a.shape[-1])
    kb, n = (b.shape[-1], b.shape[-2]) if ctx.attrs["adj_y"] else (b.shape[-2], b.shape[-1])
    _dims_match(ctx, ka, kb, "contracting dimensions differ")
    try:
        batch = broadcast_shapes([a.shape[:-2], b.shape[:-2]])
    except ValueError as err:
        raise ctx.fail(str(err)) from err
    assert batch is not None
    return [TensorType(a.dtype, (*batch, m, n))]


def _bmm(xp: Any, attrs: dict[str, Any], a: Any, b: Any) -> Any:
    if attrs["adj_x"]:
        a = xp.swapaxes(a, -1, -2)
    if attrs["adj_y"]:
        b = xp.swapaxes(b, -1, -2)
    if xp is np:
        return np.matmul(a, b)
    return xp.matmul(a, b, precision=_highest())


def _bmm_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The contraction ``...xy,...yz->...xz`` (adjoints swap the last two labels), batch axes
    aligned from the right: contracting rows mixes"""
    ta, tb = node.inputs[0].type, node.inputs[1].type
    if ta.shape is None or tb.shape is None:
        return [mixed(node, "operand rank unknown")]
    ra, rb = len(ta.shape), len(tb.shape)
    r = max(ra, rb)
    batch = string.ascii_lowercase[: r - 2]
    a = batch[r - ra :] + ("yx" if node.attrs.get("adj_x") else "xy")
    b = batch[r - rb :] + ("zy" if node.attrs.get("adj_y") else "yz")
    return [contraction(node, ins, symbol, [a, b], batch + "xz")]


for _name in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
    register(
        _name,
        inputs=2,
        attrs=[Attr("adj_x", "bool", False), Attr("adj_y", "bool", False)],
        infer=_bmm_infer,
        xp_fn=_bmm,
        doc="batched matrix product with broadcasting of the batch dimensions",
        padding_rule=_bmm_padding,
        traits=("pure", "compute"),
    )


def _parse_einsum(ctx: InferContext) -> tuple[list[str], str]:
    eq = ctx.attrs["equation"].replace(" ", "")
    if "->" not in eq:
        raise ctx.fail(f"einsum equation {eq!r} has no explicit output")
    lhs, out = eq.split("->")
    ins = lhs.split(",")
    if len(ins) != len(ctx.types):
        raise ctx.fail(f"equation {eq!r} names {len(ins)} operands, got {len(ctx.types)}")
    return ins, out


def _einsum_infer(ctx: InferContext) -> list[TensorType]:
    ins, out = _parse_einsum(ctx)
    sizes: dict[str, Dim] = {}
    ellipsis_shapes: list[tuple[Dim, ...]] = []
    for spec, t in zip(ins, ctx.types):
        if t.shape is None:
            return [TensorType(ctx.types[0].dtype, None)]
        labels = spec.replace("...", ".")
        n_ell = len(t.shape) - (len(labels) - labels.count("."))
        pos = 0
        for ch in labels:
            if ch == ".":
                ellipsis_shapes.append(t.shape[pos : pos + n_ell])
                pos += n_ell
                continue
            d = t.shape[pos]
            pos += 1
            prev = sizes.get(ch)
            if prev is None or prev == 1 or prev == UNKNOWN:
                sizes[ch] = d
            elif d not in (1, UNKNOWN):
                _dims_match(ctx, prev, d, f"einsum label {ch!r}")
    shape: list[Dim] = []
    for ch in out.replace("...", "."):
        if ch == ".":
            ell = broadcast_shapes(ellipsis_shapes) if ellipsis_shapes else ()
            shape.extend(ell or ())
        elif ch not in sizes:
            raise ctx.fail(f"output label {ch!r} not among the inputs")
        else:
            shape.append(sizes[ch])
    return [TensorType(ctx.types[0].dtype, tuple(shape))]


def _einsum_lower(attrs: dict[str, Any], *xs: Any) -> Any:
    import jax.numpy as jnp

    return jnp.einsum(attrs["equation"], *xs, precision=_highest())


def _einsum_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The contraction its equation names: contracting rows mixes (``...`` is not followed)"""
    eq = str(node.attrs["equation"]).replace(" ", "")
    if "..." in eq or "->" not in eq:
        return [mixed(node, f"cannot follow the equation {eq!r}")]
    lhs, out = eq.split("->")
    return [contraction(node, ins, symbol, lhs.split(","), out)]


register(
    "Einsum",
    inputs=(1, None),
    attrs=[Attr("equation", "str")],
    infer=_einsum_infer,
    reference=lambda attrs, *xs: np.einsum(attrs["equation"], *xs),
    lower=_einsum_lower,
    doc="Einstein summation with an explicit output (`ab,bc->ac`)",
    padding_rule=_einsum_padding,
    traits=("pure", "compute"),
)


def _bias_infer(ctx: InferContext) -> list[TensorType]:
    x, b = ctx.types
    if x.dtype != b.dtype:
        raise ctx.fail(f"bias dtype {b.dtype} differs from input dtype {x.dtype}")
    if x.shape is not None and b.shape is not None:
        axis = 1 if ctx.attrs["data_format"] == "NCHW" else -1
        _dims_match(ctx, x.shape[axis], b.shape[0], "bias size differs from channels")
    return [x]


def _bias_add(xp: Any, attrs: dict[str, Any], x: Any, b: Any) -> Any:
    if attrs["data_format"] == "NCHW" and x.ndim > 2:
        b = b.reshape((-1,) + (1,) * (x.ndim - 2))
    return x + b


register(
    "BiasAdd",
    inputs=2,
    attrs=[Attr("data_format", "str", "NHWC")],
    infer=_bias_infer,
    xp_fn=_bias_add,
    traits=("pure", "elementwise"),
    doc="add a bias vector along the channel axis",
)

# -- windows: convolution, depthwise convolution, pooling -----------------------------------------


def _window(
    size: Dim, k: int, stride: int, dilation: int, padding: str, explicit: tuple[int, int] | None
) -> tuple[Dim, tuple[int, int] | None]:
    """Output size and (low, high) padding of one spatial axis; padding unknown if size is."""
    eff = (k - 1) * dilation + 1
    if not isinstance(size, int):
        return UNKNOWN, None
    if padding == "VALID":
        return max(0, math.ceil((size - eff + 1) / stride)), (0, 0)
    if padding == "SAME":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, (total // 2, total - total // 2)
    assert explicit is not None
    lo, hi = explicit
    return max(0, (size + lo + hi - eff) // stride + 1), (lo, hi)


def _window_params(attrs: Mapping[str, Any], kh: int, kw: int) -> dict[str, Any]:
    strides = list(attrs.get("strides") or [1, 1, 1, 1])
    dil = list(attrs.get("dilations") or [1, 1, 1, 1])
    explicit = list(attrs.get("explicit_paddings") or [])
    ex = [(explicit[2], explicit[3]), (explicit[4], explicit[5])] if len(explicit) == 8 else [None, None]
    return {
        "k": (kh, kw),
        "s": (strides[1], strides[2]),
        "d": (dil[1], dil[2]),
        "padding": attrs["padding"],
        "explicit": ex,
    }


def _window_shape(ctx: InferContext, x: TensorType, kh: int, kw: int, channels: Dim) -> TensorType:
    if ctx.attrs.get("data_format", "NHWC") != "NHWC":
        raise ctx.fail(f"data_format {ctx.attrs['data_format']} is not supported (only NHWC)")
    if x.shape is None:
        return TensorType(x.dtype, (UNKNOWN,) * 4)
    if len(x.shape) != 4:
        raise ctx.fail(f"expected a rank-4 NHWC input, got {x}")
    p = _window_params(ctx.attrs, kh, kw)
    oh, _ = _window(x.shape[1], kh, p["s"][0], p["d"][0], p["padding"], p["explicit"][0])
    ow, _ = _window(x.shape[2], kw, p["s"][1], p["d"][1], p["padding"], p["explicit"][1])
    return TensorType(x.dtype, (x.shape[0], oh, ow, channels))


def taps(
    xp: Any, x: Any, attrs: dict[str, Any], kh: int, kw: int, pad_value: float = 0.0
) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(i, j, view)``: the strided input view each kernel tap (i, j) multiplies."""
    p = _window_params(attrs, kh, kw)
    (sh, sw), (dh, dw) = p["s"], p["d"]
    oh, ph = _window(x.shape[1], kh, sh, dh, p["padding"], p["explicit"][0])
    ow, pw = _window(x.shape[2], kw, sw, dw, p["padding"], p["explicit"][1])
    assert isinstance(oh, int) and isinstance(ow, int) and ph is not None and pw is not None
    if any(ph) or any(pw):
        x = xp.pad(x, [(0, 0), ph, pw, (0, 0)], constant_values=pad_value)
    for i in range(kh):
        for j in range(kw):
            yield (
                i,
                j,
                x[:, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw, :],
            )


_CONV_ATTRS = [
    Attr("strides", "ints"),
    Attr("padding", "str"),
    Attr("explicit_paddings", "ints", []),
    Attr("data_format", "str", "NHWC"),
    Attr("dilations", "ints", [1, 1, 1, 1]),
]


def _conv_infer(ctx: InferContext) -> list[TensorType]:
    x, w = ctx.types
    if w.shape is None or not all(isinstance(d, int) for d in w.shape[:2]) or len(w.shape) != 4:
        raise ctx.fail(f"filter must be rank 4 with static spatial size, got {w}")
    if x.shape is not None and len(x.shape) == 4:
        _dims_match(ctx, x.shape[3], w.shape[2], "input channels differ from the filter's")
    kh, kw = int(w.shape[0]), int(w.shape[1])
    return [_window_shape(ctx, x, kh, kw, w.shape[3])]


def _conv_ref(attrs: dict[str, Any], x: np.ndarray, w: np.ndarray) -> np.ndarray:
    acc = None
    for i, j, view in taps(np, x, attrs, w.shape[0], w.shape[1]):
        term = np.tensordot(view, w[i, j], axes=([3], [0]))
        acc = term if acc is None else acc + term
    assert acc is not None
    return acc.astype(x.dtype)


def _conv_lower(attrs: dict[str, Any], x: Any, w: Any, depthwise: bool = False) -> Any:
    """XLA's own convolution (the `conv-algorithm` pass picks faster forms where measured)."""
    import jax.numpy as jnp
    from jax import lax

    kh, kw = w.shape[0], w.shape[1]
    p = _window_params(attrs, kh, kw)
    _, ph = _window(x.shape[1], kh, p["s"][0], p["d"][0], p["padding"], p["explicit"][0])
    _, pw = _window(x.shape[2], kw, p["s"][1], p["d"][1], p["padding"], p["explicit"][1])
    assert ph is not None and pw is not None  # shapes are static when tracing
    groups = 1
    if depthwise:  # [kh, kw, c, m] -> [kh, kw, 1, c * m], one group per input channel
        groups = w.shape[2]
        w = jnp.reshape(w, (kh, kw, 1, w.shape[2] * w.shape[3]))
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=p["s"],
        padding=[ph, pw],
        rhs_dilation=p["d"],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
        precision=_highest(),
    )


register(
    "Conv2D",
    inputs=2,
    attrs=_CONV_ATTRS,
    infer=_conv_infer,
    reference=_conv_ref,
    lower=_conv_lower,
    doc="2-D convolution, NHWC input, HWIO filter",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)


def _depthwise_infer(ctx: InferContext) -> list[TensorType]:
    x, w = ctx.types
    if w.shape is None or len(w.shape) != 4 or not all(isinstance(d, int) for d in w.shape):
        raise ctx.fail(f"filter must be static rank 4, got {w}")
    if x.shape is not None and len(x.shape) == 4:
        _dims_match(ctx, x.shape[3], w.shape[2], "input channels differ from the filter's")
    kh, kw, c, m = (int(d) for d in w.shape)  # type: ignore[arg-type]
    return [_window_shape(ctx, x, kh, kw, c * m)]


def _depthwise(xp: Any, attrs: dict[str, Any], x: Any, w: Any) -> Any:
    kh, kw, c, m = w.shape
    acc = None
    for i, j, view in taps(xp, x, attrs, kh, kw):
        if m > 1:  # output channel c * m + k reads input channel c
            view = xp.repeat(view, m, axis=3)
        term = view * w[i, j].reshape(c * m)
        acc = term if acc is None else acc + term
    return acc


register(
    "DepthwiseConv2dNative",
    inputs=2,
    attrs=_CONV_ATTRS,
    infer=_depthwise_infer,
    reference=lambda attrs, x, w: _depthwise(np, attrs, x, w),
    lower=lambda attrs, x, w: _conv_lower(attrs, x, w, depthwise=True),
    doc="depthwise 2-D convolution (filter [kh, kw, channels, multiplier])",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)


_POOL_ATTRS = [
    Attr("ksize", "ints"),
    Attr("strides", "ints"),
    Attr("padding", "str"),
    Attr("explicit_paddings", "ints", []),
    Attr("data_format", "str", "NHWC"),
]


def _pool_infer(ctx: InferContext) -> list[TensorType]:
    k = ctx.attrs["ksize"]
    if len(k) != 4 or k[0] != 1 or k[3] != 1:
        raise ctx.fail(f"ksize {k} must pool only spatial axes")
    x = ctx.types[0]
    return [_window_shape(ctx, x, k[1], k[2], UNKNOWN if x.shape is None else x.shape[3])]


def _max_pool(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    k = attrs["ksize"]
    acc = None
    # a padded tap never wins: -inf for floats, the lowest value for integers (-inf has no int form)
    lowest = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    for _, _, view in taps(xp, x, attrs, k[1], k[2], pad_value=lowest):
        acc = view if acc is None else xp.maximum(acc, view)
    return acc


def _avg_pool(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    # SAME padding averages over the real elements of each window only, as TensorFlow does.
    k = attrs["ksize"]
    total = None
    for _, _, view in taps(xp, x, attrs, k[1], k[2]):
        total = view if total is None else total + view
    ones = np.ones((1, x.shape[1], x.shape[2], 1), dtype=np.float32)
    count = sum(v for _, _, v in taps(np, ones, attrs, k[1], k[2]))
    return (total / count).astype(x.dtype)


register(
    "MaxPool",
    inputs=1,
    attrs=_POOL_ATTRS,
    infer=_pool_infer,
    xp_fn=_max_pool,
    doc="max pooling",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)
register(
    "AvgPool",
    inputs=1,
    attrs=_POOL_ATTRS,
    infer=_pool_infer,
    xp_fn=_avg_pool,
    doc="average pooling",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)


# -- normalization and softmax ------------------------------------------------------------------


def _bn_infer(ctx: InferContext) -> list[TensorType]:
    if ctx.attrs["is_training"]:
        raise ctx.fail(
            "is_training=true: batch norm in training mode uses batch statistics, which mix the "
            "rows of a batch; freeze the model in inference mode"
        )
    if ctx.attrs["data_format"] not in ("NHWC", "NCHW"):
        raise ctx.fail(f"data_format {ctx.attrs['data_format']} is not supported (NHWC or NCHW)")
    x, scale = ctx.types[0], ctx.types[1]
    if x.shape is not None and scale.shape is not None:
        channels = x.shape[1] if ctx.attrs["data_format"] == "NCHW" else x.shape[-1]
        _dims_match(ctx, channels, scale.shape[0], "scale size differs from channels")
    stat = TensorType(scale.dtype, scale.shape)
    n_out = 6 if ctx.op == "FusedBatchNormV3" else 5
    return [x, stat, stat, stat, stat, TensorType(scale.dtype, (0,))][:n_out]


def _bn(xp: Any, attrs: dict[str, Any], x: Any, scale: Any, offset: Any, mean: Any, var: Any) -> Any:
    inv = scale * (1 / xp.sqrt(var + attrs["epsilon"]))
    shift = offset - mean * inv
    if attrs["data_format"] == "NCHW":  # statistics per channel on axis 1
        inv, shift = inv.reshape(-1, 1, 1), shift.reshape(-1, 1, 1)
    y = (x * inv.astype(x.dtype) + shift.astype(x.dtype)).astype(x.dtype)
    return (y, mean, var, mean, var, xp.zeros((0,), dtype=scale.dtype))


def _bn_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Rows only on axis 0; training mode mixes (it normalizes with the batch's statistics)"""
    if node.attrs.get("is_training"):
        reason = "training-mode batch norm normalizes with statistics of the batch"
        return [mixed(node, reason)] * len(node.outputs)
    return batch_major(node, ins, symbol)


for _name in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
    register(
        _name,
        inputs=5,
        attrs=[
            Attr("epsilon", "float", 1e-4),
            Attr("data_format", "str", "NHWC"),
            Attr("is_training", "bool", True),
            Attr("exponential_avg_factor", "float", 1.0),
        ],
        infer=_bn_infer,
        xp_fn=(lambda xp, a, *xs: _bn(xp, a, *xs)[:5]) if _name != "FusedBatchNormV3" else _bn,
        doc="inference-mode batch normalization with given mean and variance",
        padding_rule=_bn_padding,
    )


def _softmax(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    shifted = x - xp.max(x, axis=-1, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=-1, keepdims=True)


def _log_softmax(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    shifted = x - xp.max(x, axis=-1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


register(
    "Softmax",
    inputs=1,
    infer=same_as(0),
    xp_fn=_softmax,
    doc="softmax over the last axis",
    padding_rule=along_last_axis,
    traits=("pure", "compute"),
)
register(
    "LogSoftmax",
    inputs=1,
    infer=same_as(0),
    xp_fn=_log_softmax,
    doc="log-softmax over the last axis",
    padding_rule=along_last_axis,
    traits=("pure", "compute"),
)
