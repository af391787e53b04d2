"""The long tail of TensorFlow ops real graphs use: IdentityN, reversing and rolling, more
elementwise math, bitwise ops, N-d gather/scatter, band and diagonal matrices, Cumprod, segment
reductions.

Choices where TensorFlow's CPU kernel fails at run time (Fourier's executables cannot raise):
out-of-range ids give zeros (GatherNd) or are dropped (ScatterNd, the segment ops), as TensorFlow's
GPU kernels do; a negative segment id is dropped, as TensorFlow documents. ``SegmentSum``'s output
size is the largest id + 1, a value: Fourier requires its ids to be known at compile time and
refuses the node otherwise (``UnsortedSegmentSum`` with ``num_segments`` is the shape-safe form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fourier.errors import CompileError
from fourier.ir.core import Node
from fourier.ir.types import UNKNOWN, Dim, TensorType
from fourier.ops._infer import broadcast_result, norm_axis, same_as
from fourier.ops.array import static_ints
from fourier.ops.padding import (
    FREE,
    SIZE,
    State,
    elementwise_rule,
    maybe_symbol,
    mixed,
    moves,
    reduction,
)
from fourier.ops.registry import REQUIRED, Attr, InferContext, register

Fn = Callable[..., Any]

# -- IdentityN ------------------------------------------------------------------------------------


def _identity_n_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Returns each input as the output of the same position"""
    return list(ins)


register(
    "IdentityN",
    inputs=(1, None),
    infer=lambda ctx: list(ctx.types),
    reference=lambda attrs, *xs: tuple(xs),
    lower=lambda attrs, *xs: tuple(xs),
    doc="returns each input (Keras' custom-gradient activations freeze to it)",
    padding_rule=_identity_n_padding,
)

# -- ReverseV2, Roll --------------------------------------------------------------------------------


def _reverse(xp: Any, a: dict[str, Any], x: Any, axis: Any) -> Any:
    axes = tuple(sorted({ax % max(x.ndim, 1) for ax in static_ints(axis, "ReverseV2's axis")}))
    return xp.flip(x, axes) if axes else x


def _reverse_infer(ctx: InferContext) -> list[TensorType]:
    x, axes = ctx.types[0], ctx.ints(1)
    if x.shape is not None and axes is not None:
        for ax in axes:
            norm_axis(ctx, ax, len(x.shape))
        if len({ax % max(len(x.shape), 1) for ax in axes}) != len(axes):
            raise ctx.fail(f"axis {axes} names an axis twice")
    return [x]


register(
    "ReverseV2",
    inputs=2,
    infer=_reverse_infer,
    xp_fn=_reverse,
    doc="reverse x along the given axes",
    padding_rule=moves((0,)),
)


def _roll_infer(ctx: InferContext) -> list[TensorType]:
    x, shift, axis = ctx.types[0], ctx.ints(1), ctx.ints(2)
    if shift is not None and axis is not None:
        if len(shift) != len(axis):
            raise ctx.fail(f"shift {shift} and axis {axis} differ in length")
        if x.shape is not None:
            for ax in axis:
                norm_axis(ctx, ax, len(x.shape))
    return [x]


def _roll(xp: Any, a: dict[str, Any], x: Any, shift: Any, axis: Any) -> Any:
    shifts = static_ints(shift, "Roll's shift")
    axes = static_ints(axis, "Roll's axis")
    if not axes or x.size == 0:
        return x
    return xp.roll(x, tuple(shifts), tuple(ax % x.ndim for ax in axes))


register(
    "Roll",
    inputs=3,
    infer=_roll_infer,
    xp_fn=_roll,
    doc="rotate x along axes by shifts (a repeated axis adds its shifts)",
    padding_rule=moves((0,)),
)

# -- elementwise math ---------------------------------------------------------------------------


def _unary(name: str, fn: Fn, doc: str) -> None:
    register(
        name,
        inputs=1,
        infer=same_as(0),
        xp_fn=lambda xp, a, x: fn(xp, x),
        traits=("pure", "elementwise"),
        doc=doc,
    )


_unary("Tan", lambda xp, x: xp.tan(x), "tan(x)")
_unary("Sinh", lambda xp, x: xp.sinh(x), "sinh(x)")
_unary("Cosh", lambda xp, x: xp.cosh(x), "cosh(x)")
_unary("Asin", lambda xp, x: xp.arcsin(x), "arcsin(x)")
_unary("Acos", lambda xp, x: xp.arccos(x), "arccos(x)")
_unary("Atan", lambda xp, x: xp.arctan(x), "arctan(x)")
_unary("Asinh", lambda xp, x: xp.arcsinh(x), "arcsinh(x)")
_unary("Acosh", lambda xp, x: xp.arccosh(x), "arccosh(x)")
_unary("Atanh", lambda xp, x: xp.arctanh(x), "arctanh(x)")
_unary("Rint", lambda xp, x: xp.rint(x), "round to the nearest integer, half to even")

register(
    "Atan2",
    inputs=2,
    infer=broadcast_result(),
    xp_fn=lambda xp, a, y, x: xp.arctan2(y, x),
    traits=("pure", "elementwise"),
    doc="arctan(y / x) in the quadrant of (x, y); the first input is y",
)

# -- bitwise ------------------------------------------------------------------------------------

_INTEGER = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _integer_result(ctx: InferContext) -> list[TensorType]:
    if ctx.types[0].dtype not in _INTEGER:
        raise ctx.fail(f"expected an integer dtype, got {ctx.types[0].dtype}")
    return broadcast_result()(ctx) if len(ctx.types) > 1 else [ctx.types[0]]


def _shift(xp: Any, x: Any, y: Any, left: bool) -> Any:
    """TensorFlow's shifts: the shift is clamped to [0, bits - 1] (its kernel's rule)."""
    bits = np.dtype(x.dtype).itemsize * 8
    y = xp.clip(y, 0, bits - 1).astype(x.dtype)
    if not left:
        return xp.right_shift(x, y)  # arithmetic for signed, logical for unsigned
    if np.dtype(x.dtype).kind == "i":  # shift as unsigned: no overflow, the bits wrap
        unsigned = np.dtype(f"uint{bits}")
        return xp.left_shift(x.astype(unsigned), y.astype(unsigned)).astype(x.dtype)
    return xp.left_shift(x, y)


_BITWISE: list[tuple[str, Fn, str]] = [
    ("BitwiseAnd", lambda xp, x, y: xp.bitwise_and(x, y), "x & y"),
    ("BitwiseOr", lambda xp, x, y: xp.bitwise_or(x, y), "bitwise or of x and y"),
    ("BitwiseXor", lambda xp, x, y: xp.bitwise_xor(x, y), "x ^ y"),
    ("LeftShift", lambda xp, x, y: _shift(xp, x, y, True), "x << y (y clamped to [0, bits - 1])"),
    ("RightShift", lambda xp, x, y: _shift(xp, x, y, False), "x >> y, arithmetic for signed (y clamped)"),
]
for _name, _fn, _doc in _BITWISE:
    register(
        _name,
        inputs=2,
        infer=_integer_result,
        xp_fn=lambda xp, a, x, y, fn=_fn: fn(xp, x, y),
        traits=("pure",),  # integers only: kept out of float elementwise fusion
        doc=_doc,
        padding_rule=elementwise_rule,
    )
register(
    "Invert",
    inputs=1,
    infer=_integer_result,
    xp_fn=lambda xp, a, x: xp.invert(x),
    traits=("pure",),
    doc="~x, bitwise not",
    padding_rule=elementwise_rule,
)

# -- GatherNd, ScatterNd ------------------------------------------------------------------------


def _gather_nd_infer(ctx: InferContext) -> list[TensorType]:
    params, idx = ctx.types
    if idx.dtype not in ("int32", "int64"):
        raise ctx.fail(f"indices must be int32 or int64, got {idx.dtype}")
    if params.shape is None or idx.shape is None:
        return [TensorType(params.dtype, None)]
    if not idx.shape:
        raise ctx.fail("indices must have rank 1 or more")
    k = idx.shape[-1]
    if not isinstance(k, int):
        raise ctx.fail(f"the last dimension of indices must be static, got {idx}")
    if k > len(params.shape):
        raise ctx.fail(f"indices index {k} dimensions of a rank-{len(params.shape)} tensor")
    return [TensorType(params.dtype, idx.shape[:-1] + params.shape[k:])]


def _gather_nd(xp: Any, a: dict[str, Any], params: Any, idx: Any) -> Any:
    k = idx.shape[-1]
    lead = params.shape[:k]
    flat = params.reshape((int(np.prod(lead, dtype=np.int64)), *params.shape[k:]))
    strides = [int(np.prod(lead[i + 1 :], dtype=np.int64)) for i in range(k)]
    idx = idx.astype(np.int64) if xp is np else idx
    valid = xp.ones(idx.shape[:-1], dtype=bool)
    pos = xp.zeros(idx.shape[:-1], dtype=idx.dtype)
    for i in range(k):
        col = idx[..., i]
        valid = valid & (col >= 0) & (col < lead[i])
        pos = pos + col * strides[i]
    if flat.shape[0] == 0:
        return xp.zeros(idx.shape[:-1] + params.shape[k:], dtype=params.dtype)
    pos = xp.where(valid, pos, 0)
    out = xp.take(flat, pos, axis=0)  # params may be a numpy constant, pos traced
    mask = valid.reshape(valid.shape + (1,) * (params.ndim - k))
    return xp.where(mask, out, xp.zeros((), dtype=params.dtype))


def _gather_nd_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Index tuples carry rows into the output; picking along a symbol-sized leading axis
    by value mixes (which ids are in range depends on the size)"""
    params, idx = ins
    pt, it = node.inputs[0].type, node.inputs[1].type
    if pt.shape is None or it.shape is None or not isinstance(it.shape[-1], int):
        return [mixed(node, "operand shape unknown")]
    k, batch = int(it.shape[-1]), len(it.shape) - 1
    sized_table = any(maybe_symbol(d, symbol) for d in pt.shape[:k]) or params.kind == "size"
    if params.kind == "rows":
        if params.axis < k:
            return [mixed(node, f"picks elements along the {symbol} axis by index")]
        if idx.kind in ("rows", "size"):
            return [mixed(node, f"gathers indexed data with indices that depend on {symbol}")]
        return [params.moved(batch + params.axis - k)]
    if idx.kind == "rows":
        if sized_table:
            return [mixed(node, f"looks up a table whose size depends on {symbol}")]
        if idx.axis >= batch:
            return [mixed(node, f"index tuples run along the {symbol} axis")]
        return [idx]
    return [SIZE if sized_table or idx.kind == "size" else FREE]


register(
    "GatherNd",
    inputs=2,
    infer=_gather_nd_infer,
    xp_fn=_gather_nd,
    doc="slices of params at index tuples (last axis of indices); out-of-range tuples give zeros",
    padding_rule=_gather_nd_padding,
)


def _scatter_nd_infer(ctx: InferContext) -> list[TensorType]:
    idx, upd = ctx.types[0], ctx.types[1]
    if idx.dtype not in ("int32", "int64"):
        raise ctx.fail(f"indices must be int32 or int64, got {idx.dtype}")
    dims = ctx.dims(2)
    if dims is None:
        return [TensorType(upd.dtype, None)]
    if idx.shape is not None and idx.shape and isinstance(idx.shape[-1], int) and idx.shape[-1] > len(dims):
        raise ctx.fail(f"indices index {idx.shape[-1]} dimensions of shape {dims}")
    return [TensorType(upd.dtype, tuple(dims))]


def _scatter_flat(
    xp: Any, idx: Any, shape: list[int]
) -> tuple[Any, Any, int, tuple[int, ...]]:  # (flat position, valid, rows, slice shape)
    k = idx.shape[-1]
    lead = shape[:k]
    strides = [int(np.prod(lead[i + 1 :], dtype=np.int64)) for i in range(k)]
    valid = xp.ones(idx.shape[:-1], dtype=bool)
    pos = xp.zeros(idx.shape[:-1], dtype=np.int64 if xp is np else idx.dtype)
    for i in range(k):
        col = idx[..., i]
        valid = valid & (col >= 0) & (col < lead[i])
        pos = pos + col * strides[i]
    return pos, valid, int(np.prod(lead, dtype=np.int64)), tuple(shape[k:])


def _scatter_nd_ref(a: dict[str, Any], idx: np.ndarray, upd: np.ndarray, shape: Any) -> np.ndarray:
    dims = static_ints(shape, "ScatterNd's shape")
    pos, valid, rows, rest = _scatter_flat(np, idx, dims)
    out = np.zeros((rows, *rest), dtype=upd.dtype)
    upd = upd.reshape((-1, *rest))
    np.add.at(out, pos.reshape(-1)[valid.reshape(-1)], upd[valid.reshape(-1)])
    return out.reshape(dims)


def _scatter_nd_lower(a: dict[str, Any], idx: Any, upd: Any, shape: Any) -> Any:
    import jax.numpy as jnp

    dims = static_ints(shape, "ScatterNd's shape")
    pos, valid, rows, rest = _scatter_flat(jnp, idx, dims)
    pos = jnp.where(valid, pos, rows).reshape(-1)  # out of range: dropped
    out = jnp.zeros((rows, *rest), dtype=upd.dtype)
    return out.at[pos].add(upd.reshape((-1, *rest)), mode="drop").reshape(dims)


def _scatter_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Scatters by value: indexed data or indices mix; a size-dependent operand gives SIZE"""
    if any(s.kind == "rows" for s in ins):
        return [mixed(node, f"scatters {symbol}-indexed data to positions given by values")]
    sized = any(s.kind == "size" for s in ins) or any(
        maybe_symbol(d, symbol) for d in (node.outputs[0].type.shape or ("?",))
    )
    return [SIZE if sized else FREE]


register(
    "ScatterNd",
    inputs=3,
    infer=_scatter_nd_infer,
    reference=_scatter_nd_ref,
    lower=_scatter_nd_lower,
    doc="zeros of the given shape with updates added at index tuples (duplicates add; out of range dropped)",
    padding_rule=_scatter_padding,
)

# -- band and diagonal matrices -----------------------------------------------------------------


def _band_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    if x.shape is not None and len(x.shape) < 2:
        raise ctx.fail(f"expected a matrix or a batch of them, got {x}")
    return [x]


def _band(xp: Any, a: dict[str, Any], x: Any, lower: Any, upper: Any) -> Any:
    lo = static_ints(lower, "MatrixBandPart's num_lower")[0]
    hi = static_ints(upper, "MatrixBandPart's num_upper")[0]
    m, n = x.shape[-2], x.shape[-1]
    r = np.arange(m)[:, None]
    c = np.arange(n)[None, :]
    keep = ((lo < 0) | (r - c <= lo)) & ((hi < 0) | (c - r <= hi))
    return xp.where(keep, x, xp.zeros((), dtype=x.dtype))


register(
    "MatrixBandPart",
    inputs=3,
    infer=_band_infer,
    xp_fn=_band,
    doc="keep the band of num_lower subdiagonals and num_upper superdiagonals (-1: all), zero the rest",
    padding_rule=moves((0,)),
)

_ALIGNS = ("RIGHT_LEFT", "LEFT_RIGHT", "LEFT_LEFT", "RIGHT_RIGHT")


def _diag_range(k: list[int]) -> tuple[int, int]:
    if len(k) not in (1, 2):
        raise ValueError(f"k must hold 1 or 2 values, got {k}")
    lo, hi = (k[0], k[0]) if len(k) == 1 else (k[0], k[1])
    if lo > hi:
        raise ValueError(f"k = {k}: the lower diagonal is above the upper one")
    return lo, hi


def _diag_len(m: int, n: int, d: int) -> int:
    return max(0, min(m + min(0, d), n - max(0, d)))


def _diag_layout(m: int, n: int, lo: int, hi: int, align: str) -> tuple[np.ndarray, int]:
    """For each matrix position (row-major, ``m * n``): its slot in the packed diagonals
    (``(hi - d) * width + t``), or -1 outside the band; and the packed width."""
    width = max((_diag_len(m, n, d) for d in range(lo, hi + 1)), default=0)
    slot = np.full((m, n), -1, dtype=np.int64)
    sup, sub = align.split("_")  # alignment of superdiagonals (d >= 0), then subdiagonals
    for d in range(lo, hi + 1):
        length = _diag_len(m, n, d)
        right = (sup if d >= 0 else sub) == "RIGHT"
        offset = width - length if right else 0
        for t in range(length):
            slot[t + max(0, -d), t + max(0, d)] = (hi - d) * width + t + offset
    return slot.reshape(-1), width


def _diag_part_infer(ctx: InferContext) -> list[TensorType]:
    x, k = ctx.types[0], ctx.ints(1)
    if ctx.attrs["align"] not in _ALIGNS:
        raise ctx.fail(f"align {ctx.attrs['align']!r} is not one of {', '.join(_ALIGNS)}")
    if x.shape is None or k is None:
        return [TensorType(x.dtype, None)]
    if len(x.shape) < 2:
        raise ctx.fail(f"expected a matrix or a batch of them, got {x}")
    m, n = x.shape[-2], x.shape[-1]
    try:
        lo, hi = _diag_range(k)
    except ValueError as e:
        raise ctx.fail(str(e)) from e
    if not (isinstance(m, int) and isinstance(n, int)):
        raise ctx.fail(f"the matrix dimensions must be static, got {x}")
    if not (-m < lo <= n - 1 and -m < hi <= n - 1) and m and n:
        raise ctx.fail(f"k = {k} is out of range for {m}x{n} matrices")
    width = max(_diag_len(m, n, d) for d in range(lo, hi + 1))
    tail: tuple[Dim, ...] = (width,) if lo == hi else (hi - lo + 1, width)
    return [TensorType(x.dtype, x.shape[:-2] + tail)]


def _diag_part(xp: Any, a: dict[str, Any], x: Any, k: Any, pad: Any) -> Any:
    lo, hi = _diag_range(static_ints(k, "MatrixDiagPartV3's k"))
    m, n = x.shape[-2], x.shape[-1]
    slot, width = _diag_layout(m, n, lo, hi, a["align"])
    count = (hi - lo + 1) * width
    src = np.full(count, -1, dtype=np.int64)  # for each packed slot: the matrix position
    inside = slot >= 0
    src[slot[inside]] = np.nonzero(inside)[0]
    flat = x.reshape((*x.shape[:-2], m * n))
    got = xp.take(flat, np.maximum(src, 0), axis=-1) if m * n else xp.zeros((*x.shape[:-2], count), x.dtype)
    out = xp.where(src >= 0, got, xp.asarray(pad, dtype=x.dtype))
    tail = (width,) if lo == hi else (hi - lo + 1, width)
    return out.reshape((*x.shape[:-2], *tail))


register(
    "MatrixDiagPartV3",
    inputs=3,
    attrs=[Attr("align", "str", "RIGHT_LEFT")],
    infer=_diag_part_infer,
    xp_fn=_diag_part,
    doc="the diagonals k[0]..k[1] of each matrix, packed and aligned, padded with padding_value",
    padding_rule=moves((0, 2)),
)


def _diag_sizes(width_in: int, lo: int, hi: int, rows: int, cols: int) -> tuple[int, int]:
    """TensorFlow's rule for the output size of MatrixDiagV3 (-1: inferred)."""
    min_rows = width_in - min(hi, 0)
    min_cols = width_in + max(lo, 0)
    if rows == -1 and cols == -1:
        rows = cols = max(min_rows, min_cols)
    elif rows == -1:
        rows = min_rows
    elif cols == -1:
        cols = min_cols
    return rows, cols


def _matrix_diag_infer(ctx: InferContext) -> list[TensorType]:
    dg, k = ctx.types[0], ctx.ints(1)
    rows, cols = ctx.ints(2), ctx.ints(3)
    if ctx.attrs["align"] not in _ALIGNS:
        raise ctx.fail(f"align {ctx.attrs['align']!r} is not one of {', '.join(_ALIGNS)}")
    if dg.shape is None or k is None or rows is None or cols is None:
        return [TensorType(dg.dtype, None)]
    try:
        lo, hi = _diag_range(k)
    except ValueError as e:
        raise ctx.fail(str(e)) from e
    lead = dg.shape[:-1] if lo == hi else dg.shape[:-2]
    width = dg.shape[-1] if dg.shape else UNKNOWN
    if not isinstance(width, int) or (lo != hi and dg.shape[-2] not in (hi - lo + 1, UNKNOWN)):
        raise ctx.fail(f"diagonal {dg} does not hold {hi - lo + 1} diagonals of static length")
    m, n = _diag_sizes(width, lo, hi, rows[0], cols[0])
    if m <= 0 or n <= 0:
        raise ctx.fail(f"output matrices of {m}x{n}")
    return [TensorType(dg.dtype, (*lead, m, n))]


def _matrix_diag(xp: Any, a: dict[str, Any], dg: Any, k: Any, rows: Any, cols: Any, pad: Any) -> Any:
    lo, hi = _diag_range(static_ints(k, "MatrixDiagV3's k"))
    m, n = _diag_sizes(
        dg.shape[-1], lo, hi, static_ints(rows, "num_rows")[0], static_ints(cols, "num_cols")[0]
    )
    slot, width = _diag_layout(m, n, lo, hi, a["align"])
    if width != dg.shape[-1]:
        raise ValueError(f"diagonals of length {dg.shape[-1]} do not fit {m}x{n} matrices (need {width})")
    lead = dg.shape[:-1] if lo == hi else dg.shape[:-2]
    flat = dg.reshape((*lead, (hi - lo + 1) * width))
    got = xp.take(flat, np.maximum(slot, 0), axis=-1)
    out = xp.where(slot >= 0, got, xp.asarray(pad, dtype=dg.dtype))
    return out.reshape((*lead, m, n))


register(
    "MatrixDiagV3",
    inputs=5,
    attrs=[Attr("align", "str", "RIGHT_LEFT")],
    infer=_matrix_diag_infer,
    xp_fn=_matrix_diag,
    doc="matrices with the given diagonals k[0]..k[1] and padding_value elsewhere",
    padding_rule=moves((0, 4)),
)


def _set_diag_infer(ctx: InferContext) -> list[TensorType]:
    x, dg = ctx.types[0], ctx.types[1]
    if ctx.attrs["align"] not in _ALIGNS:
        raise ctx.fail(f"align {ctx.attrs['align']!r} is not one of {', '.join(_ALIGNS)}")
    if x.dtype != dg.dtype:
        raise ctx.fail(f"input is {x.dtype}, diagonal {dg.dtype}")
    want = _diag_part_infer(ctx.first(2))[0] if ctx.ints(1) is not None else None
    if want is not None and want.shape is not None and dg.shape is not None:
        if len(want.shape) != len(dg.shape) or any(
            isinstance(p, int) and isinstance(q, int) and p != q for p, q in zip(want.shape, dg.shape)
        ):
            raise ctx.fail(f"diagonal {dg} does not fit input {x} (want {want})")
    return [x]


def _set_diag(xp: Any, a: dict[str, Any], x: Any, dg: Any, k: Any) -> Any:
    lo, hi = _diag_range(static_ints(k, "MatrixSetDiagV3's k"))
    m, n = x.shape[-2], x.shape[-1]
    slot, width = _diag_layout(m, n, lo, hi, a["align"])
    flat = dg.reshape((*x.shape[:-2], (hi - lo + 1) * width))
    if flat.shape[-1] == 0:
        return x
    got = xp.take(flat, np.maximum(slot, 0), axis=-1).reshape(x.shape)
    return xp.where((slot >= 0).reshape(m, n), got, x)


register(
    "MatrixSetDiagV3",
    inputs=3,
    attrs=[Attr("align", "str", "RIGHT_LEFT")],
    infer=_set_diag_infer,
    xp_fn=_set_diag,
    doc="the input with diagonals k[0]..k[1] replaced",
    padding_rule=moves((0, 1)),
)

# -- Cumprod ------------------------------------------------------------------------------------


def _cumprod(xp: Any, a: dict[str, Any], x: Any, axis: Any) -> Any:
    ax = static_ints(axis, "Cumprod's axis")[0] % max(x.ndim, 1)
    if a["reverse"]:
        x = xp.flip(x, ax)
    if a["exclusive"]:
        pad = [(0, 0)] * x.ndim
        pad[ax] = (1, 0)
        x = xp.pad(x, pad, constant_values=1)
        x = xp.take(x, np.arange(x.shape[ax] - 1), axis=ax)
    out = xp.cumprod(x, axis=ax, dtype=x.dtype)
    return xp.flip(out, ax) if a["reverse"] else out


def _cumprod_infer(ctx: InferContext) -> list[TensorType]:
    x, axis = ctx.types[0], ctx.ints(1)
    if x.shape is not None and axis is not None:
        norm_axis(ctx, axis[0], len(x.shape))
    return [x]


def _scan_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """A scan along an axis: mixes if it runs along the rows"""
    return reduction(node, ins, symbol, keep=True)


register(
    "Cumprod",
    inputs=2,
    attrs=[Attr("exclusive", "bool", False), Attr("reverse", "bool", False)],
    infer=_cumprod_infer,
    xp_fn=_cumprod,
    doc="running product along an axis (exclusive: shifted by one; reverse: from the end)",
    padding_rule=_scan_padding,
)

# -- segment reductions -------------------------------------------------------------------------


def _lowest(dtype: np.dtype) -> Any:
    return np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> Any:
    return np.finfo(dtype).max if dtype.kind == "f" else np.iinfo(dtype).max


_SEGMENT: dict[str, tuple[str, Callable[[np.dtype], Any]]] = {
    "Sum": ("add", lambda dt: 0),
    "Prod": ("multiply", lambda dt: 1),
    "Max": ("maximum", _lowest),
    "Min": ("minimum", _highest),
}


def _segment_type(ctx: InferContext, data: TensorType, ids: TensorType, num: Dim) -> TensorType:
    if ids.dtype not in ("int32", "int64"):
        raise ctx.fail(f"segment ids must be int32 or int64, got {ids.dtype}")
    if data.shape is None or ids.shape is None:
        return TensorType(data.dtype, None)
    r = len(ids.shape)
    if r > len(data.shape):
        raise ctx.fail(f"segment ids {ids} have a higher rank than data {data}")
    for p, q in zip(ids.shape, data.shape):
        if isinstance(p, int) and isinstance(q, int) and p != q:
            raise ctx.fail(f"segment ids {ids} do not match the leading dimensions of data {data}")
    return TensorType(data.dtype, (num, *data.shape[r:]))


def _unsorted_infer(ctx: InferContext) -> list[TensorType]:
    num = ctx.dims(2)
    n: Dim = UNKNOWN if num is None else num[0]
    if isinstance(n, int) and n < 0:
        raise ctx.fail(f"num_segments {n} is negative")
    return [_segment_type(ctx, ctx.types[0], ctx.types[1], n)]


def _segment_ref(kind: str, data: np.ndarray, ids: np.ndarray, num: int) -> np.ndarray:
    ufunc_name, init = _SEGMENT[kind]
    rest = data.shape[ids.ndim :]
    out = np.full((num, *rest), init(data.dtype), dtype=data.dtype)
    flat_ids = ids.reshape(-1).astype(np.int64)
    flat = data.reshape((-1, *rest))
    keep = (flat_ids >= 0) & (flat_ids < num)
    getattr(np, ufunc_name).at(out, flat_ids[keep], flat[keep])
    return out


def _segment_lower(kind: str, data: Any, ids: Any, num: int) -> Any:
    import jax.numpy as jnp

    _, init = _SEGMENT[kind]
    rest = data.shape[ids.ndim :]
    flat_ids = ids.reshape(-1)
    flat_ids = jnp.where((flat_ids < 0) | (flat_ids >= num), num, flat_ids)  # dropped
    flat = data.reshape((-1, *rest))
    out = jnp.full((num, *rest), init(np.dtype(data.dtype)), dtype=data.dtype)
    at: Any = out.at[flat_ids]
    method = {"Sum": at.add, "Prod": at.multiply, "Max": at.max, "Min": at.min}[kind]
    return method(flat, mode="drop")


def _segment_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Reduces the data's leading (segmented) dimensions by id: rows there mix; rows in the
    trailing dimensions stay; a size-dependent segment count gives SIZE"""
    data, ids = ins[0], ins[1]
    num = ins[2] if len(ins) > 2 else FREE
    it = node.inputs[1].type
    if it.shape is None:
        return [mixed(node, "segment id rank unknown")]
    r = len(it.shape)
    over_symbol = any(maybe_symbol(d, symbol) for d in it.shape)
    if ids.kind == "rows" or (data.kind == "rows" and data.axis < r):
        return [mixed(node, f"combines {symbol}-indexed elements into segments")]
    sized = ids.kind == "size" or num.kind == "size" or over_symbol
    if data.kind == "rows":
        if sized:
            return [mixed(node, f"segments indexed data with a count that depends on {symbol}")]
        return [data.moved(data.axis - r + 1)]
    return [SIZE if sized or data.kind == "size" else FREE]


_EMPTY = {"Sum": "0", "Prod": "1", "Max": "the dtype's lowest value", "Min": "its highest value"}
for _kind in _SEGMENT:

    def _ref(a: dict[str, Any], data: Any, ids: Any, num: Any, kind: str = _kind) -> Any:
        return _segment_ref(kind, data, ids, static_ints(num, f"UnsortedSegment{kind}'s num_segments")[0])

    def _low(a: dict[str, Any], data: Any, ids: Any, num: Any, kind: str = _kind) -> Any:
        return _segment_lower(kind, data, ids, static_ints(num, f"UnsortedSegment{kind}'s num_segments")[0])

    register(
        f"UnsortedSegment{_kind}",
        inputs=3,
        infer=_unsorted_infer,
        reference=_ref,
        lower=_low,
        doc=f"{_kind.lower()} of the data rows with each segment id (empty segments: {_EMPTY[_kind]}; "
        "negative or out-of-range ids dropped)",
        padding_rule=_segment_padding,
    )


def _segment_ids(ctx: InferContext) -> np.ndarray:
    v = ctx.known(1)
    if v is None or v.dtype == object:
        raise ctx.fail(
            "the output size of SegmentSum is its largest segment id + 1, a value: Fourier needs "
            "the ids known at compile time (UnsortedSegmentSum with num_segments is the shape-safe form)"
        )
    return np.asarray(v)


def _segment_sum_infer(ctx: InferContext) -> list[TensorType]:
    ids = _segment_ids(ctx)
    if ids.ndim != 1:
        raise ctx.fail(f"segment ids must be a vector, got shape {list(ids.shape)}")
    if ids.size and ((np.diff(ids) < 0).any() or ids[0] < 0):
        raise ctx.fail("segment ids must be sorted and non-negative")
    num = int(ids[-1]) + 1 if ids.size else 0
    return [_segment_type(ctx, ctx.types[0], ctx.types[1], num)]


def _segment_sum_ref(a: dict[str, Any], data: np.ndarray, ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    return _segment_ref("Sum", data, ids, int(ids[-1]) + 1 if ids.size else 0)


def _segment_sum_lower(a: dict[str, Any], data: Any, ids: Any) -> Any:
    if not isinstance(ids, (np.ndarray, np.generic)):
        raise CompileError("SegmentSum's segment ids must be known at compile time")
    ids = np.asarray(ids)
    return _segment_lower("Sum", data, ids, int(ids[-1]) + 1 if ids.size else 0)


register(
    "SegmentSum",
    inputs=2,
    infer=_segment_sum_infer,
    reference=_segment_sum_ref,
    lower=_segment_sum_lower,
    doc="sum of the data rows with each (sorted) segment id; the ids must be known at compile time",
    padding_rule=_segment_padding,
)


def _sorted_segment_infer(ctx: InferContext) -> list[TensorType]:
    v = ctx.known(1)
    if v is None or v.dtype == object:
        raise ctx.fail(
            f"the output size of {ctx.op} is its largest segment id + 1, a value: Fourier needs "
            f"the ids known at compile time (Unsorted{ctx.op} with num_segments is the shape-safe form)"
        )
    ids = np.asarray(v)
    if ids.ndim != 1:
        raise ctx.fail(f"segment ids must be a vector, got shape {list(ids.shape)}")
    if ids.size and ((np.diff(ids) < 0).any() or ids[0] < 0):
        raise ctx.fail("segment ids must be sorted and non-negative")
    num = int(ids[-1]) + 1 if ids.size else 0
    return [_segment_type(ctx, ctx.types[0], ctx.types[1], num)]


def _known_ids(ids: Any, op: str) -> np.ndarray:
    if not isinstance(ids, (np.ndarray, np.generic)):
        raise CompileError(f"{op}'s segment ids must be known at compile time")
    return np.asarray(ids)


def _segment_mean(xp: Any, data: Any, ids: np.ndarray, num: int, total: Any) -> Any:
    """The sum over the count of each segment; an empty segment is 0; integers divide as C does
    (toward zero), as TensorFlow's mean reducer does."""
    count = np.bincount(ids.reshape(-1).astype(np.int64), minlength=num)[:num]
    count = np.maximum(count, 1).reshape((num,) + (1,) * (data.ndim - 1)).astype(data.dtype)
    if np.dtype(data.dtype).kind in "iu":
        q = xp.abs(total) // count
        return xp.where(total < 0, -q, q).astype(data.dtype)
    return total / count


for _kind in ("Mean", "Max", "Min", "Prod"):
    _base = "Sum" if _kind == "Mean" else _kind

    def _sorted(xp: Any, a: dict[str, Any], data: Any, ids: Any, kind: str = _kind, base: str = _base) -> Any:
        known = _known_ids(ids, f"Segment{kind}")
        num = int(known[-1]) + 1 if known.size else 0
        if xp is np:
            total = _segment_ref(base, np.asarray(data), known, num)
        else:
            total = _segment_lower(base, data, known, num)
        if kind == "Mean":
            return _segment_mean(xp, data, known, num, total)
        if kind in ("Max", "Min"):  # TensorFlow: an empty segment is 0, not the reduction's identity
            empty = np.bincount(known.astype(np.int64), minlength=num)[:num] == 0
            mask = empty.reshape((num,) + (1,) * (data.ndim - 1))
            return xp.where(mask, xp.zeros((), dtype=data.dtype), total)
        return total

    register(
        f"Segment{_kind}",
        inputs=2,
        infer=_sorted_segment_infer,
        xp_fn=_sorted,
        doc=f"{_kind.lower()} of the data rows with each (sorted) segment id (empty segments: "
        f"{'1' if _kind == 'Prod' else '0'}); the ids must be known at compile time",
        padding_rule=_segment_padding,
    )

# -- TensorScatter* -----------------------------------------------------------------------------


def _tensor_scatter_infer(ctx: InferContext) -> list[TensorType]:
    x, idx, upd = ctx.types
    if idx.dtype not in ("int32", "int64"):
        raise ctx.fail(f"indices must be int32 or int64, got {idx.dtype}")
    if upd.dtype != x.dtype:
        raise ctx.fail(f"updates are {upd.dtype}, the tensor {x.dtype}")
    if x.shape is not None and idx.shape is not None and idx.shape:
        k = idx.shape[-1]
        if isinstance(k, int) and k > len(x.shape):
            raise ctx.fail(f"indices index {k} dimensions of {x}")
        if (
            isinstance(k, int)
            and upd.shape is not None
            and len(upd.shape) != len(idx.shape) - 1 + len(x.shape) - k
        ):
            raise ctx.fail(f"updates {upd} do not fit indices {idx} into {x}")
    return [x]


_TENSOR_SCATTER = {
    "Update": ("set", "replaced by"),
    "Add": ("add", "plus"),
    "Sub": ("subtract", "minus"),
    "Max": ("max", "the maximum with"),
    "Min": ("min", "the minimum with"),
}


def _tensor_scatter(kind: str, xp: Any, x: Any, idx: Any, upd: Any) -> Any:
    pos, valid, rows, rest = _scatter_flat(xp, idx, list(x.shape))
    upd = upd.reshape((-1, *rest))
    flat_pos = pos.reshape(-1)
    keep = valid.reshape(-1)
    if xp is np:
        out = np.array(x, copy=True).reshape((rows, *rest))
        p, u = flat_pos[keep], upd[keep]
        if kind == "Update":
            out[p] = u
        else:
            ufunc = {"Add": np.add, "Sub": np.subtract, "Max": np.maximum, "Min": np.minimum}[kind]
            ufunc.at(out, p, u)
        return out.reshape(x.shape)
    out = x.reshape((rows, *rest))
    at: Any = out.at[xp.where(keep, flat_pos, rows)]
    if kind == "Update":
        return at.set(upd, mode="drop").reshape(x.shape)
    if kind == "Sub":
        return at.add(-upd, mode="drop").reshape(x.shape)
    return getattr(at, _TENSOR_SCATTER[kind][0])(upd, mode="drop").reshape(x.shape)


for _kind, (_, _verb) in _TENSOR_SCATTER.items():
    register(
        f"TensorScatter{_kind}",
        inputs=3,
        infer=_tensor_scatter_infer,
        xp_fn=lambda xp, a, x, idx, upd, kind=_kind: _tensor_scatter(kind, xp, x, idx, upd),
        doc=f"the tensor with the slices at index tuples {_verb} the updates (out of range dropped"
        + ("; duplicates: one of them wins)" if _kind == "Update" else ")"),
        padding_rule=_scatter_padding,
    )

# -- ReverseSequence ----------------------------------------------------------------------------


def _reverse_sequence_infer(ctx: InferContext) -> list[TensorType]:
    x, lens = ctx.types
    if lens.dtype not in ("int32", "int64"):
        raise ctx.fail(f"seq_lengths must be int32 or int64, got {lens.dtype}")
    if x.shape is not None:
        s, b = ctx.attrs["seq_dim"], ctx.attrs["batch_dim"]
        for ax in (s, b):
            if ax < 0:  # TensorFlow refuses negative dims here
                raise ctx.fail(f"seq_dim and batch_dim must be non-negative, got {s} and {b}")
            norm_axis(ctx, ax, len(x.shape))
        if s % len(x.shape) == b % len(x.shape):
            raise ctx.fail(f"seq_dim and batch_dim are both {s}")
    return [x]


def _reverse_sequence(xp: Any, a: dict[str, Any], x: Any, lens: Any) -> Any:
    """Position s of batch entry b reads position L[b] - 1 - s when s < L[b]; lengths are clamped
    to [0, the sequence length] (TensorFlow's CPU kernel raises on them instead)."""
    s, b = a["seq_dim"] % x.ndim, a["batch_dim"] % x.ndim
    n = x.shape[s]
    length = xp.clip(lens.astype(np.int64) if xp is np else lens, 0, n)
    pos = np.arange(n)
    shape = [1] * x.ndim
    shape[s], shape[b] = n, x.shape[b]
    lb = length.reshape([x.shape[b] if i == b else 1 for i in range(x.ndim)])
    ps = pos.reshape([n if i == s else 1 for i in range(x.ndim)])
    src = xp.where(ps < lb, lb - 1 - ps, ps)
    src = xp.broadcast_to(src, tuple(shape))
    full = xp.broadcast_to(src, x.shape) if x.size else xp.zeros(x.shape, dtype=src.dtype)
    return xp.take_along_axis(x, full.astype(np.int32 if xp is not np else np.int64), axis=s)


_reverse_sequence_moves = moves((0, 1))


def _reverse_sequence_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Reverses a prefix along seq_dim: along the rows' axis that mixes (a batch shorter than a
    length would read padding); otherwise followed by probing its reference"""
    x = ins[0]
    rank = len(node.inputs[0].type.shape or ())
    if x.kind == "rows" and rank and node.attrs["seq_dim"] % rank == x.axis:
        return [mixed(node, f"reverses sequences along the {symbol} axis")]
    return _reverse_sequence_moves(node, ins, symbol)


register(
    "ReverseSequence",
    inputs=2,
    attrs=[Attr("seq_dim", "int", REQUIRED), Attr("batch_dim", "int", 0)],
    infer=_reverse_sequence_infer,
    xp_fn=_reverse_sequence,
    doc="reverse the first seq_lengths[b] entries along seq_dim of each batch_dim entry b "
    "(lengths clamped to [0, the dimension])",
    padding_rule=_reverse_sequence_padding,
)

# -- PopulationCount ----------------------------------------------------------------------------


def _popcount(xp: Any, a: dict[str, Any], x: Any) -> Any:
    if xp is np:  # numpy counts the bits of |x|; TensorFlow those of x's two's complement
        return np.bitwise_count(x.view(f"uint{x.dtype.itemsize * 8}")).astype(np.uint8)
    import jax

    return jax.lax.population_count(x).astype(np.uint8)


register(
    "PopulationCount",
    inputs=1,
    infer=lambda ctx: [TensorType("uint8", _integer_result(ctx)[0].shape)],
    xp_fn=_popcount,
    traits=("pure",),
    doc="the number of set bits of each element, as uint8 (two's complement for signed)",
    padding_rule=elementwise_rule,
)

# -- the older MatrixDiag* forms: V1 (main diagonal, no operands), V2 (operands, LEFT_LEFT) -----
# Both are the V3 ops with fixed operands or alignment: V2 packs every diagonal to the left.


def _as_v3(ctx: InferContext, extra: list[tuple[np.ndarray, str]], at: int) -> InferContext:
    """``ctx`` with constant operands inserted at position ``at`` and V2's alignment."""
    types = list(ctx.types)
    known = list(ctx.known_values)
    for i, (value, dtype) in enumerate(extra):
        types.insert(at + i, TensorType(dtype, value.shape))
        known.insert(at + i, value)
    return InferContext(ctx.op, ctx.name, {"align": "LEFT_LEFT"}, types, known)


_K0 = (np.array(0, np.int32), "int32")
_MINUS1 = (np.array(-1, np.int32), "int32")
_V2 = {"align": "LEFT_LEFT"}


def _zero(x: Any) -> Any:
    return np.zeros((), dtype=x.dtype)


def _rank_at_least(ctx: InferContext, rank: int) -> None:
    t = ctx.types[0]
    if t.shape is not None and len(t.shape) < rank:
        raise ctx.fail(f"expected rank {rank} or more, got {t}")


def _diag_v1_infer(ctx: InferContext) -> list[TensorType]:
    _rank_at_least(ctx, 1)
    return _matrix_diag_infer(_as_v3(ctx, [_K0, _MINUS1, _MINUS1, (np.zeros((), np.float32), "float32")], 1))


register(
    "MatrixDiag",
    inputs=1,
    infer=_diag_v1_infer,
    xp_fn=lambda xp, a, dg: _matrix_diag(xp, _V2, dg, 0, np.array([-1]), np.array([-1]), _zero(dg)),
    doc="square matrices with the given main diagonal, zeros elsewhere",
    padding_rule=moves((0,)),
)
register(
    "MatrixDiagV2",
    inputs=5,
    infer=lambda ctx: _matrix_diag_infer(_as_v3(ctx, [], 0)),
    xp_fn=lambda xp, a, dg, k, r, c, pad: _matrix_diag(xp, _V2, dg, k, r, c, pad),
    doc="MatrixDiagV3 with every diagonal packed to the left (LEFT_LEFT)",
    padding_rule=moves((0, 4)),
)


def _part_v1_infer(ctx: InferContext) -> list[TensorType]:
    _rank_at_least(ctx, 2)
    return _diag_part_infer(_as_v3(ctx, [_K0], 1))


register(
    "MatrixDiagPart",
    inputs=1,
    infer=_part_v1_infer,
    xp_fn=lambda xp, a, x: _diag_part(xp, _V2, x, np.array(0), _zero(x)),
    doc="the main diagonal of each matrix",
    padding_rule=moves((0,)),
)
register(
    "MatrixDiagPartV2",
    inputs=3,
    infer=lambda ctx: _diag_part_infer(_as_v3(ctx, [], 0)),
    xp_fn=lambda xp, a, x, k, pad: _diag_part(xp, _V2, x, k, pad),
    doc="MatrixDiagPartV3 with every diagonal packed to the left (LEFT_LEFT)",
    padding_rule=moves((0, 2)),
)


def _set_v1_infer(ctx: InferContext) -> list[TensorType]:
    _rank_at_least(ctx, 2)
    return _set_diag_infer(_as_v3(ctx, [_K0], 2))


register(
    "MatrixSetDiag",
    inputs=2,
    infer=_set_v1_infer,
    xp_fn=lambda xp, a, x, dg: _set_diag(xp, _V2, x, dg, np.array(0)),
    doc="the input with its main diagonal replaced",
    padding_rule=moves((0, 1)),
)
register(
    "MatrixSetDiagV2",
    inputs=3,
    infer=lambda ctx: _set_diag_infer(_as_v3(ctx, [], 0)),
    xp_fn=lambda xp, a, x, dg, k: _set_diag(xp, _V2, x, dg, k),
    doc="MatrixSetDiagV3 with every diagonal packed to the left (LEFT_LEFT)",
    padding_rule=moves((0, 1)),
)

# -- Bincount, DenseBincount --------------------------------------------------------------------


def _bincount_size(ctx: InferContext) -> int:
    size = ctx.ints(1)
    if size is None:
        raise ctx.fail(
            "size (input 1) sets the output's length, a value: Fourier needs it known at compile "
            "time (a constant after folding)"
        )
    if size[0] < 0:
        raise ctx.fail(f"size {size[0]} is negative")
    return size[0]


def _bincount_infer(ctx: InferContext) -> list[TensorType]:
    arr, _, w = ctx.types
    if arr.dtype not in ("int32", "int64"):
        raise ctx.fail(f"the values must be int32 or int64, got {arr.dtype}")
    size = _bincount_size(ctx)
    lead: tuple[Dim, ...] = ()
    if ctx.op == "DenseBincount":
        if arr.shape is not None and len(arr.shape) not in (1, 2):
            raise ctx.fail(f"input must have rank 1 or 2, got {arr}")
        lead = arr.shape[:-1] if arr.shape is not None else ()
        if arr.shape is None:
            return [TensorType(w.dtype, None)]
    return [TensorType(w.dtype, (*lead, size))]


def _bincount(xp: Any, a: dict[str, Any], arr: Any, size: Any, w: Any) -> Any:
    """Counts (or sums of weights) of each value in [0, size); larger values are ignored, and so
    are negative ones (TensorFlow's kernel raises on them instead). With
    empty weights, counts in the weights' dtype; binary_output: 1 where a value occurs."""
    n = static_ints(size, "Bincount's size")[0]
    binary = bool(a.get("binary_output", False))
    rows = arr.reshape((-1, arr.shape[-1])) if arr.ndim == 2 else arr.reshape((1, -1))
    weighted = w.size != 0 and not binary
    wts = (w.reshape(rows.shape) if weighted else xp.ones(rows.shape, dtype=w.dtype)).astype(w.dtype)
    inside = (rows >= 0) & (rows < n)
    pos = xp.where(inside, rows, n).astype(np.int64 if xp is np else rows.dtype)
    r = np.arange(rows.shape[0]).reshape(-1, 1) * np.ones((1, rows.shape[1]), np.int64)
    if xp is np:
        out = np.zeros((rows.shape[0], n + 1), dtype=w.dtype)
        np.add.at(out, (r, pos), wts)
        out = out[:, :n]
    else:
        out = xp.zeros((rows.shape[0], n), dtype=w.dtype).at[r, pos].add(wts, mode="drop")
    if binary:
        out = (out > 0).astype(w.dtype)
    return out.reshape((*arr.shape[:-1], n)) if arr.ndim == 2 else out.reshape((n,))


def _bincount_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Counts values into bins: a 1-D input's rows all fall in one histogram (mix); a 2-D input
    (DenseBincount) counts each row apart, so rows on its first axis stay rows"""
    arr, size, w = ins
    if size.kind != "free":
        return [mixed(node, f"the number of bins depends on {symbol}")]
    rank = len(node.inputs[0].type.shape or ())
    data = [s for s in (arr, w) if s.kind != "free"]
    if not data:
        return [FREE]
    if node.op == "DenseBincount" and rank == 2 and all(s.kind == "rows" and s.axis == 0 for s in data):
        return [arr if arr.kind == "rows" else w]
    return [mixed(node, f"counts {symbol}-indexed values into shared bins")]


register(
    "Bincount",
    inputs=3,
    infer=_bincount_infer,
    xp_fn=_bincount,
    doc="how often each value in [0, size) occurs (summed weights when given); size must be known "
    "at compile time",
    padding_rule=_bincount_padding,
)
register(
    "DenseBincount",
    inputs=3,
    attrs=[Attr("binary_output", "bool", False)],
    infer=_bincount_infer,
    xp_fn=_bincount,
    doc="Bincount of a vector or of each row of a matrix (binary_output: 1 where a value occurs); "
    "size must be known at compile time",
    padding_rule=_bincount_padding,
)
