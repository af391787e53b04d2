"""Image and spatial ops: depth <-> space, batch <-> space, resizing, the transposed convolution.

All NHWC. Resizing follows TensorFlow's kernels exactly: the source coordinate of each output
pixel is computed in float32 with TensorFlow's scale (``align_corners``: (in - 1) / (out - 1)) and
its scaler (``half_pixel_centers``: (i + 0.5) * scale - 0.5 for bilinear, (i + 0.5) * scale for
nearest neighbour), so indices and weights are constants of the compiled shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import UNKNOWN, Dim, TensorType, dim_divide, dims_product
from fourier.ops.array import static_ints
from fourier.ops.nn import _dims_match, _highest, _window, _window_params
from fourier.ops.padding import FREE, State, along_last_axis, batch_major, mixed, moves
from fourier.ops.registry import Attr, InferContext, register

# -- DepthToSpace, SpaceToDepth -----------------------------------------------------------------

_BLOCK_ATTRS = [Attr("block_size", "int"), Attr("data_format", "str", "NHWC")]


def _block(ctx: InferContext) -> int:
    b = int(ctx.attrs["block_size"])
    if b < 2:
        raise ctx.fail(f"block_size {b} is less than 2")
    if ctx.attrs["data_format"] != "NHWC":
        raise ctx.fail(f"data_format {ctx.attrs['data_format']} is not supported (only NHWC)")
    return b


def _depth_to_space_infer(ctx: InferContext) -> list[TensorType]:
    x, b = ctx.types[0], _block(ctx)
    if x.shape is None:
        return [TensorType(x.dtype, None)]
    if len(x.shape) != 4:
        raise ctx.fail(f"expected a rank-4 NHWC input, got {x}")
    n, h, w, c = x.shape
    if not isinstance(c, int) or c % (b * b):
        raise ctx.fail(f"channels {c} are not a multiple of block_size^2 = {b * b}")
    return [TensorType(x.dtype, (n, dims_product((h, b)), dims_product((w, b)), c // (b * b)))]


def _depth_to_space(xp: Any, a: dict[str, Any], x: Any) -> Any:
    b = a["block_size"]
    n, h, w, c = x.shape
    y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, h * b, w * b, c // (b * b))


register(
    "DepthToSpace",
    inputs=1,
    attrs=_BLOCK_ATTRS,
    infer=_depth_to_space_infer,
    xp_fn=_depth_to_space,
    doc="move channel blocks into block_size x block_size spatial tiles (NHWC)",
    padding_rule=moves((0,)),
)


def _space_to_depth_infer(ctx: InferContext) -> list[TensorType]:
    x, b = ctx.types[0], _block(ctx)
    if x.shape is None:
        return [TensorType(x.dtype, None)]
    if len(x.shape) != 4:
        raise ctx.fail(f"expected a rank-4 NHWC input, got {x}")
    n, h, w, c = x.shape
    for d in (h, w):
        if isinstance(d, int) and d % b:
            raise ctx.fail(f"spatial size {d} is not a multiple of block_size {b}")
    return [TensorType(x.dtype, (n, dim_divide(h, b), dim_divide(w, b), dims_product((c, b * b))))]


def _space_to_depth(xp: Any, a: dict[str, Any], x: Any) -> Any:
    b = a["block_size"]
    n, h, w, c = x.shape
    y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, h // b, w // b, b * b * c)


register(
    "SpaceToDepth",
    inputs=1,
    attrs=_BLOCK_ATTRS,
    infer=_space_to_depth_infer,
    xp_fn=_space_to_depth,
    doc="move block_size x block_size spatial tiles into channels (NHWC)",
    padding_rule=moves((0,)),
)

# -- SpaceToBatchND, BatchToSpaceND ---------------------------------------------------------------


def _block_shape(ctx: InferContext, x: TensorType) -> tuple[list[int], np.ndarray] | None:
    block, pads = ctx.ints(1), ctx.ints(2)
    if block is None or pads is None or x.shape is None:
        return None
    m = len(block)
    if any(b < 1 for b in block):
        raise ctx.fail(f"block_shape {block} has a value below 1")
    if len(pads) != 2 * m or m + 1 > len(x.shape):
        raise ctx.fail(f"block_shape {block} and paddings/crops {pads} do not fit {x}")
    p = np.asarray(pads).reshape(m, 2)
    if (p < 0).any():
        raise ctx.fail(f"paddings/crops {pads} are negative")
    return block, p


def _space_to_batch_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    got = _block_shape(ctx, x)
    if got is None or x.shape is None:
        return [TensorType(x.dtype, None if x.shape is None else (UNKNOWN,) * len(x.shape))]
    block, p = got
    spatial: list[Dim] = []
    for i, b in enumerate(block):
        d = x.shape[1 + i]
        if isinstance(d, int):
            total = d + int(p[i].sum())
            if total % b:
                raise ctx.fail(f"padded spatial size {total} is not a multiple of block {b}")
            spatial.append(total // b)
        else:
            spatial.append(d if b == 1 and not p[i].any() else UNKNOWN)
    batch = dims_product((x.shape[0], int(np.prod(block))))
    return [TensorType(x.dtype, (batch, *spatial, *x.shape[1 + len(block) :]))]


def _space_to_batch(xp: Any, a: dict[str, Any], x: Any, block: Any, pads: Any) -> Any:
    bs = static_ints(block, "SpaceToBatchND's block_shape")
    m = len(bs)
    p = np.asarray(static_ints(pads, "SpaceToBatchND's paddings")).reshape(m, 2)
    x = xp.pad(x, [(0, 0), *[tuple(r) for r in p.tolist()], *[(0, 0)] * (x.ndim - 1 - m)])
    n, rest = x.shape[0], x.shape[1 + m :]
    shape: list[int] = [n]
    for i, b in enumerate(bs):
        shape += [x.shape[1 + i] // b, b]
    y = x.reshape(*shape, *rest)
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)]
    perm += list(range(1 + 2 * m, y.ndim))
    y = y.transpose(perm)
    return y.reshape(n * int(np.prod(bs)), *[x.shape[1 + i] // b for i, b in enumerate(bs)], *rest)


register(
    "SpaceToBatchND",
    inputs=3,
    infer=_space_to_batch_infer,
    xp_fn=_space_to_batch,
    doc="pad the spatial axes, then move block_shape tiles of them into the batch",
    padding_rule=moves((0,)),
)


def _batch_to_space_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    got = _block_shape(ctx, x)
    if got is None or x.shape is None:
        return [TensorType(x.dtype, None if x.shape is None else (UNKNOWN,) * len(x.shape))]
    block, c = got
    prod = int(np.prod(block))
    if isinstance(x.shape[0], int) and x.shape[0] % prod:
        raise ctx.fail(f"batch {x.shape[0]} is not a multiple of the block size {prod}")
    spatial: list[Dim] = []
    for i, b in enumerate(block):
        d = x.shape[1 + i]
        if isinstance(d, int):
            size = d * b - int(c[i].sum())
            if size < 0:
                raise ctx.fail(f"crops {c[i].tolist()} exceed the size {d * b}")
            spatial.append(size)
        else:
            spatial.append(d if b == 1 and not c[i].any() else UNKNOWN)
    return [TensorType(x.dtype, (dim_divide(x.shape[0], prod), *spatial, *x.shape[1 + len(block) :]))]


def _batch_to_space(xp: Any, a: dict[str, Any], x: Any, block: Any, crops: Any) -> Any:
    bs = static_ints(block, "BatchToSpaceND's block_shape")
    m = len(bs)
    c = np.asarray(static_ints(crops, "BatchToSpaceND's crops")).reshape(m, 2)
    prod = int(np.prod(bs))
    n = x.shape[0] // prod
    spatial, rest = x.shape[1 : 1 + m], x.shape[1 + m :]
    y = x.reshape(*bs, n, *spatial, *rest)
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, y.ndim))
    y = y.transpose(perm).reshape(n, *[s * b for s, b in zip(spatial, bs)], *rest)
    index = (slice(None),) + tuple(
        slice(int(c[i, 0]), s * b - int(c[i, 1])) for i, (s, b) in enumerate(zip(spatial, bs))
    )
    return y[index]


register(
    "BatchToSpaceND",
    inputs=3,
    infer=_batch_to_space_infer,
    xp_fn=_batch_to_space,
    doc="move batch blocks back into spatial tiles, then crop (inverse of SpaceToBatchND)",
    padding_rule=moves((0,)),
)

# -- resizing -----------------------------------------------------------------------------------

_RESIZE_ATTRS = [Attr("align_corners", "bool", False), Attr("half_pixel_centers", "bool", False)]


def _resize_infer(dtype: str | None):  # type: ignore[no-untyped-def]
    def infer(ctx: InferContext) -> list[TensorType]:
        x, size = ctx.types[0], ctx.ints(1)
        out = dtype or x.dtype
        if ctx.attrs["align_corners"] and ctx.attrs.get("half_pixel_centers", False):
            raise ctx.fail("align_corners and half_pixel_centers cannot both be set")
        if x.shape is not None and len(x.shape) != 4:
            raise ctx.fail(f"expected a rank-4 NHWC input, got {x}")
        if size is None:
            if ctx.types[1].shape is not None and ctx.types[1].shape != (2,):
                raise ctx.fail(f"size must be a vector of 2, got {ctx.types[1]}")
            return [TensorType(out, None if x.shape is None else (x.shape[0], UNKNOWN, UNKNOWN, x.shape[3]))]
        if len(size) != 2 or min(size) <= 0:
            raise ctx.fail(f"size {size} must be two positive values")
        if x.shape is None:
            return [TensorType(out, (UNKNOWN, size[0], size[1], UNKNOWN))]
        for d in x.shape[1:3]:
            if d == 0:
                raise ctx.fail(f"cannot resize an empty image {x}")
        return [TensorType(out, (x.shape[0], size[0], size[1], x.shape[3]))]

    return infer


def _scale(n_in: int, n_out: int, align: bool) -> np.float32:
    if align and n_out > 1:
        return np.float32(n_in - 1) / np.float32(n_out - 1)
    return np.float32(n_in) / np.float32(n_out)


def _bilinear_taps(n_in: int, n_out: int, a: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, weight of the upper) per output position, as TF computes them."""
    scale = _scale(n_in, n_out, a["align_corners"])
    i = np.arange(n_out, dtype=np.float32)
    src = (i + np.float32(0.5)) * scale - np.float32(0.5) if a["half_pixel_centers"] else i * scale
    src = src.astype(np.float32)
    floor = np.floor(src)
    lo = np.maximum(floor.astype(np.int64), 0)
    hi = np.minimum(np.ceil(src).astype(np.int64), n_in - 1)
    return lo, hi, (src - floor).astype(np.float32)


def _resize_bilinear(xp: Any, a: dict[str, Any], x: Any, size: Any) -> Any:
    oh, ow = static_ints(size, "ResizeBilinear's size")
    y0, y1, yl = _bilinear_taps(x.shape[1], oh, a)
    x0, x1, xl = _bilinear_taps(x.shape[2], ow, a)
    x = x.astype(np.float32)
    top_rows, bottom_rows = xp.take(x, y0, axis=1), xp.take(x, y1, axis=1)
    xl = xl.reshape(1, 1, -1, 1)
    top_left, top_right = xp.take(top_rows, x0, axis=2), xp.take(top_rows, x1, axis=2)
    bottom_left, bottom_right = xp.take(bottom_rows, x0, axis=2), xp.take(bottom_rows, x1, axis=2)
    top = top_left + (top_right - top_left) * xl
    bottom = bottom_left + (bottom_right - bottom_left) * xl
    return (top + (bottom - top) * yl.reshape(1, -1, 1, 1)).astype(np.float32)


register(
    "ResizeBilinear",
    inputs=2,
    attrs=_RESIZE_ATTRS,
    infer=_resize_infer("float32"),
    xp_fn=_resize_bilinear,
    doc="bilinear resize of NHWC images to size (float32 result, TensorFlow's coordinates)",
    padding_rule=batch_major,
)


def _nearest_index(n_in: int, n_out: int, a: dict[str, Any]) -> np.ndarray:
    scale = _scale(n_in, n_out, a["align_corners"])
    i = np.arange(n_out, dtype=np.float32)
    src = ((i + np.float32(0.5)) * scale if a["half_pixel_centers"] else i * scale).astype(np.float32)
    # roundf rounds half away from zero; the sources here are never negative
    idx = np.floor(src + np.float32(0.5)) if a["align_corners"] else np.floor(src)
    idx = np.minimum(idx.astype(np.int64), n_in - 1)
    return np.maximum(idx, 0)


def _resize_nearest(xp: Any, a: dict[str, Any], x: Any, size: Any) -> Any:
    oh, ow = static_ints(size, "ResizeNearestNeighbor's size")
    rows = xp.take(x, _nearest_index(x.shape[1], oh, a), axis=1)
    return xp.take(rows, _nearest_index(x.shape[2], ow, a), axis=2)


register(
    "ResizeNearestNeighbor",
    inputs=2,
    attrs=_RESIZE_ATTRS,
    infer=_resize_infer(None),
    xp_fn=_resize_nearest,
    doc="nearest-neighbour resize of NHWC images to size (TensorFlow's coordinates)",
    padding_rule=batch_major,
)

# -- Conv2DBackpropInput ------------------------------------------------------------------------

_CONV_ATTRS = [
    Attr("strides", "ints"),
    Attr("padding", "str"),
    Attr("explicit_paddings", "ints", []),
    Attr("data_format", "str", "NHWC"),
    Attr("dilations", "ints", [1, 1, 1, 1]),
]


def _transpose_conv_infer(ctx: InferContext) -> list[TensorType]:
    w, dy = ctx.types[1], ctx.types[2]
    if ctx.attrs["data_format"] != "NHWC":
        raise ctx.fail(f"data_format {ctx.attrs['data_format']} is not supported (only NHWC)")
    if w.shape is None or len(w.shape) != 4 or not all(isinstance(d, int) for d in w.shape):
        raise ctx.fail(f"filter must be static rank 4, got {w}")
    if w.dtype != dy.dtype:
        raise ctx.fail(f"filter is {w.dtype}, out_backprop {dy.dtype}")
    if dy.shape is not None and (len(dy.shape) != 4 or dy.shape[3] not in (w.shape[3], UNKNOWN)):
        raise ctx.fail(f"out_backprop {dy} does not match filter {w}")
    dims = ctx.dims(0)
    if dims is None:
        return [TensorType(dy.dtype, (UNKNOWN,) * 4)]
    if len(dims) != 4:
        raise ctx.fail(f"input_sizes {dims} is not a 4-vector")
    if dims[3] not in (w.shape[2], UNKNOWN):
        raise ctx.fail(f"input_sizes {dims} do not match filter {w}")
    p = _window_params(ctx.attrs, int(w.shape[0]), int(w.shape[1]))  # type: ignore[arg-type]
    if dy.shape is not None:
        for axis in (1, 2):
            out, _ = _window(
                dims[axis],
                int(w.shape[axis - 1]),
                p["s"][axis - 1],
                p["d"][axis - 1],  # type: ignore[arg-type]
                p["padding"],
                p["explicit"][axis - 1],
            )
            if isinstance(out, int) and isinstance(dy.shape[axis], int) and out != dy.shape[axis]:
                raise ctx.fail(f"input_sizes {dims} give a {out}-wide output, out_backprop is {dy}")
    return [TensorType(dy.dtype, tuple(dims))]


def _transpose_pads(attrs: dict[str, Any], sizes: list[int], w: Any, dy: Any) -> list[tuple[int, int]]:
    """The padding of the forward convolution on each spatial axis (low, high)."""
    p = _window_params(attrs, w.shape[0], w.shape[1])
    pads = []
    for axis in (1, 2):
        out, pad = _window(
            sizes[axis],
            w.shape[axis - 1],
            p["s"][axis - 1],
            p["d"][axis - 1],
            p["padding"],
            p["explicit"][axis - 1],
        )
        assert pad is not None
        if out != dy.shape[axis]:
            raise ValueError(f"input_sizes {sizes} give a {out}-wide output, out_backprop has {dy.shape}")
        pads.append(pad)
    return pads


def _transpose_conv_ref(attrs: dict[str, Any], sizes: Any, w: np.ndarray, dy: np.ndarray) -> np.ndarray:
    dims = static_ints(sizes, "Conv2DBackpropInput's input_sizes")
    (lo_h, _), (lo_w, _) = _transpose_pads(attrs, dims, w, dy)
    p = _window_params(attrs, w.shape[0], w.shape[1])
    (sh, sw), (dh, dw) = p["s"], p["d"]
    n, oh, ow, _ = dy.shape
    hp = max((oh - 1) * sh + (w.shape[0] - 1) * dh + 1, dims[1] + lo_h)
    wp = max((ow - 1) * sw + (w.shape[1] - 1) * dw + 1, dims[2] + lo_w)
    buf = np.zeros((n, hp, wp, w.shape[2]), dtype=np.float64)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            term = np.tensordot(dy.astype(np.float64), w[i, j].astype(np.float64), axes=([3], [1]))
            buf[:, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw] += term
    return buf[:, lo_h : lo_h + dims[1], lo_w : lo_w + dims[2]].astype(dy.dtype)


def _transpose_conv_lower(attrs: dict[str, Any], sizes: Any, w: Any, dy: Any) -> Any:
    from jax import lax

    dims = static_ints(sizes, "Conv2DBackpropInput's input_sizes")
    pads = _transpose_pads(attrs, dims, w, dy)
    p = _window_params(attrs, w.shape[0], w.shape[1])
    padding = []
    for axis, (lo, _) in zip((1, 2), pads):
        eff = (w.shape[axis - 1] - 1) * p["d"][axis - 1]
        before = eff - lo
        after = dims[axis] - (dy.shape[axis] - 1) * p["s"][axis - 1] - 1 + lo
        padding.append((before, after))
    flipped = w[::-1, ::-1].transpose(0, 1, 3, 2)  # HWIO with I = the forward output channels
    return lax.conv_general_dilated(
        dy,
        flipped,
        window_strides=(1, 1),
        padding=padding,
        lhs_dilation=p["s"],
        rhs_dilation=p["d"],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=_highest(),
    )


def _transpose_conv_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """A transposed convolution of out_backprop (input 2): slides over the axes after the first;
    input_sizes is a shape operand"""
    sizes, w, dy = ins
    if w.kind != "free":
        return [mixed(node, "filter depends on the data")]
    if sizes.kind == "rows":
        return [mixed(node, "output size depends on indexed data")]
    return batch_major(node, [dy, w], symbol)


register(
    "Conv2DBackpropInput",
    inputs=3,
    attrs=_CONV_ATTRS,
    infer=_transpose_conv_infer,
    reference=_transpose_conv_ref,
    lower=_transpose_conv_lower,
    doc="transposed 2-D convolution: the gradient of Conv2D with respect to its input (NHWC)",
    padding_rule=_transpose_conv_padding,
    traits=("pure", "compute"),
)

# -- 3-D windows: Conv3D, Conv3DBackpropInputV2, MaxPool3D, AvgPool3D (NDHWC) --------------------

_CONV3_ATTRS = [
    Attr("strides", "ints"),
    Attr("padding", "str"),
    Attr("data_format", "str", "NDHWC"),
    Attr("dilations", "ints", [1, 1, 1, 1, 1]),
]
_POOL3_ATTRS = [
    Attr("ksize", "ints"),
    Attr("strides", "ints"),
    Attr("padding", "str"),
    Attr("data_format", "str", "NDHWC"),
]


def _check_3d(ctx: InferContext) -> None:
    if ctx.attrs["data_format"] != "NDHWC":
        raise ctx.fail(f"data_format {ctx.attrs['data_format']} is not supported (only NDHWC)")
    if ctx.attrs["padding"] not in ("SAME", "VALID"):
        raise ctx.fail(f"padding {ctx.attrs['padding']} is not SAME or VALID")
    for key in ("strides", "dilations", "ksize"):
        v = ctx.attrs.get(key)
        if v is not None and (len(v) != 5 or v[0] != 1 or v[4] != 1 or min(v) < 1):
            raise ctx.fail(f"{key} {list(v)} must be 5 positive values, 1 on the batch and channel axes")


def _geometry3(
    attrs: dict[str, Any], sizes: Sequence[Dim], k: Sequence[int]
) -> tuple[list[Dim], list[tuple[int, int] | None]]:
    """Output size and (low, high) padding of each of the three spatial axes."""
    s = list(attrs["strides"])[1:4]
    d = list(attrs.get("dilations") or [1] * 5)[1:4]
    got = [_window(sizes[i], k[i], s[i], d[i], attrs["padding"], None) for i in range(3)]
    return [o for o, _ in got], [p for _, p in got]


def _taps3(
    xp: Any, x: Any, attrs: dict[str, Any], k: Sequence[int], pad_value: float = 0.0
) -> Iterator[tuple[tuple[int, ...], Any]]:
    """Yield ``((a, b, c), view)``: the strided input view each kernel tap multiplies."""
    outs, pads = _geometry3(attrs, x.shape[1:4], k)
    s = list(attrs["strides"])[1:4]
    d = list(attrs.get("dilations") or [1] * 5)[1:4]
    if any(any(p) for p in pads if p is not None):
        x = xp.pad(x, [(0, 0), *pads, (0, 0)], constant_values=pad_value)
    for tap in itertools.product(*(range(n) for n in k)):
        index = tuple(
            slice(t * d[i], t * d[i] + (int(outs[i]) - 1) * s[i] + 1, s[i]) for i, t in enumerate(tap)
        )
        yield tap, x[(slice(None), *index, slice(None))]


def _conv3d_infer(ctx: InferContext) -> list[TensorType]:
    x, w = ctx.types
    _check_3d(ctx)
    if w.shape is None or len(w.shape) != 5 or not all(isinstance(d, int) for d in w.shape[:3]):
        raise ctx.fail(f"filter must be rank 5 with static spatial size, got {w}")
    if x.dtype != w.dtype:
        raise ctx.fail(f"input is {x.dtype}, filter {w.dtype}")
    if x.shape is None:
        return [TensorType(x.dtype, (UNKNOWN,) * 5)]
    if len(x.shape) != 5:
        raise ctx.fail(f"expected a rank-5 NDHWC input, got {x}")
    _dims_match(ctx, x.shape[4], w.shape[3], "input channels differ from the filter's")
    outs, _ = _geometry3(dict(ctx.attrs), x.shape[1:4], [int(d) for d in w.shape[:3]])  # type: ignore[arg-type]
    return [TensorType(x.dtype, (x.shape[0], *outs, w.shape[4]))]


def _conv3d_ref(attrs: dict[str, Any], x: np.ndarray, w: np.ndarray) -> np.ndarray:
    acc: Any = None
    for tap, view in _taps3(np, x.astype(np.float64), attrs, w.shape[:3]):
        term = np.tensordot(view, w[tap].astype(np.float64), axes=([4], [0]))
        acc = term if acc is None else acc + term
    return np.asarray(acc).astype(x.dtype)


def _conv3d_lower(attrs: dict[str, Any], x: Any, w: Any) -> Any:
    from jax import lax

    _, pads = _geometry3(attrs, x.shape[1:4], w.shape[:3])
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=list(attrs["strides"])[1:4],
        padding=[p for p in pads if p is not None],  # all known: shapes are static when tracing
        rhs_dilation=list(attrs["dilations"])[1:4],
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"),
        precision=_highest(),
    )


register(
    "Conv3D",
    inputs=2,
    attrs=_CONV3_ATTRS,
    infer=_conv3d_infer,
    reference=_conv3d_ref,
    lower=_conv3d_lower,
    doc="3-D convolution, NDHWC input, DHWIO filter (padding SAME or VALID)",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)


def _transpose_conv3d_infer(ctx: InferContext) -> list[TensorType]:
    w, dy = ctx.types[1], ctx.types[2]
    _check_3d(ctx)
    if w.shape is None or len(w.shape) != 5 or not all(isinstance(d, int) for d in w.shape):
        raise ctx.fail(f"filter must be static rank 5, got {w}")
    if w.dtype != dy.dtype:
        raise ctx.fail(f"filter is {w.dtype}, out_backprop {dy.dtype}")
    if dy.shape is not None and (len(dy.shape) != 5 or dy.shape[4] not in (w.shape[4], UNKNOWN)):
        raise ctx.fail(f"out_backprop {dy} does not match filter {w}")
    dims = ctx.dims(0)
    if dims is None:
        return [TensorType(dy.dtype, (UNKNOWN,) * 5)]
    if len(dims) != 5 or dims[4] not in (w.shape[3], UNKNOWN):
        raise ctx.fail(f"input_sizes {dims} do not fit filter {w}")
    if dy.shape is not None:
        outs, _ = _geometry3(dict(ctx.attrs), dims[1:4], [int(d) for d in w.shape[:3]])  # type: ignore[arg-type]
        for o, g in zip(outs, dy.shape[1:4]):
            if isinstance(o, int) and isinstance(g, int) and o != g:
                raise ctx.fail(f"input_sizes {dims} give a {outs} output, out_backprop is {dy}")
    return [TensorType(dy.dtype, tuple(dims))]


def _transpose3_geometry(
    attrs: dict[str, Any], sizes: Any, w: Any, dy: Any
) -> tuple[list[int], list[tuple[int, int]]]:
    dims = static_ints(sizes, "Conv3DBackpropInputV2's input_sizes")
    outs, pads = _geometry3(attrs, dims[1:4], w.shape[:3])
    if list(outs) != list(dy.shape[1:4]):
        raise ValueError(f"input_sizes {dims} give a {outs} output, out_backprop has {dy.shape}")
    return dims, [p for p in pads if p is not None]


def _transpose_conv3d_ref(attrs: dict[str, Any], sizes: Any, w: np.ndarray, dy: np.ndarray) -> np.ndarray:
    dims, pads = _transpose3_geometry(attrs, sizes, w, dy)
    s = list(attrs["strides"])[1:4]
    d = list(attrs["dilations"])[1:4]
    o = dy.shape[1:4]
    span = [max((o[i] - 1) * s[i] + (w.shape[i] - 1) * d[i] + 1, dims[1 + i] + pads[i][0]) for i in range(3)]
    buf = np.zeros((dy.shape[0], *span, w.shape[3]), np.float64)
    for tap in itertools.product(*(range(n) for n in w.shape[:3])):
        term = np.tensordot(dy.astype(np.float64), w[tap].astype(np.float64), axes=([4], [1]))
        index = tuple(slice(t * d[i], t * d[i] + (o[i] - 1) * s[i] + 1, s[i]) for i, t in enumerate(tap))
        buf[(slice(None), *index)] += term
    crop = tuple(slice(pads[i][0], pads[i][0] + dims[1 + i]) for i in range(3))
    return buf[(slice(None), *crop)].astype(dy.dtype)


def _transpose_conv3d_lower(attrs: dict[str, Any], sizes: Any, w: Any, dy: Any) -> Any:
    from jax import lax

    dims, pads = _transpose3_geometry(attrs, sizes, w, dy)
    s = list(attrs["strides"])[1:4]
    d = list(attrs["dilations"])[1:4]
    padding = []
    for i, (lo, _) in enumerate(pads):
        eff = (w.shape[i] - 1) * d[i]
        padding.append((eff - lo, dims[1 + i] - (dy.shape[1 + i] - 1) * s[i] - 1 + lo))
    flipped = w[::-1, ::-1, ::-1].transpose(0, 1, 2, 4, 3)
    return lax.conv_general_dilated(
        dy,
        flipped,
        window_strides=(1, 1, 1),
        padding=padding,
        lhs_dilation=s,
        rhs_dilation=d,
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"),
        precision=_highest(),
    )


register(
    "Conv3DBackpropInputV2",
    inputs=3,
    attrs=[*_CONV3_ATTRS, Attr("Tshape", "type", "int32")],
    infer=_transpose_conv3d_infer,
    reference=_transpose_conv3d_ref,
    lower=_transpose_conv3d_lower,
    doc="transposed 3-D convolution: the gradient of Conv3D with respect to its input (NDHWC)",
    padding_rule=_transpose_conv_padding,
    traits=("pure", "compute"),
)


def _pool3d_infer(ctx: InferContext) -> list[TensorType]:
    _check_3d(ctx)
    x = ctx.types[0]
    if x.shape is None:
        return [TensorType(x.dtype, (UNKNOWN,) * 5)]
    if len(x.shape) != 5:
        raise ctx.fail(f"expected a rank-5 NDHWC input, got {x}")
    outs, _ = _geometry3(dict(ctx.attrs), x.shape[1:4], list(ctx.attrs["ksize"])[1:4])
    return [TensorType(x.dtype, (x.shape[0], *outs, x.shape[4]))]


def _max_pool3d(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    acc = None
    for _, view in _taps3(xp, x, attrs, list(attrs["ksize"])[1:4], pad_value=-np.inf):
        acc = view if acc is None else xp.maximum(acc, view)
    return acc


def _avg_pool3d(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    # SAME padding averages over the real elements of each window only, as TensorFlow does.
    k = list(attrs["ksize"])[1:4]
    total = None
    for _, view in _taps3(xp, x.astype(np.float32), attrs, k):
        total = view if total is None else total + view
    ones = np.ones((1, *x.shape[1:4], 1), np.float32)
    count = sum(v for _, v in _taps3(np, ones, attrs, k))
    return (total / count).astype(x.dtype)


register(
    "MaxPool3D",
    inputs=1,
    attrs=_POOL3_ATTRS,
    infer=_pool3d_infer,
    xp_fn=_max_pool3d,
    doc="3-D max pooling (NDHWC, padding SAME or VALID)",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)
register(
    "AvgPool3D",
    inputs=1,
    attrs=_POOL3_ATTRS,
    infer=_pool3d_infer,
    xp_fn=_avg_pool3d,
    doc="3-D average pooling (NDHWC; SAME averages over the real elements of each window)",
    padding_rule=batch_major,
    traits=("pure", "compute"),
)

# -- LRN ----------------------------------------------------------------------------------------


def _lrn_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    if x.dtype not in ("float16", "bfloat16", "float32"):
        raise ctx.fail(f"LRN has kernels for float16, bfloat16 and float32, got {x}")
    if x.shape is not None and len(x.shape) != 4:
        raise ctx.fail(f"expected a rank-4 input, got {x}")
    if int(ctx.attrs["depth_radius"]) < 0:
        raise ctx.fail(f"depth_radius {ctx.attrs['depth_radius']} is negative")
    return [x]


def _lrn(xp: Any, a: dict[str, Any], x: Any) -> Any:
    r, c = int(a["depth_radius"]), x.shape[3]
    x32 = x.astype(np.float32)
    sq = xp.pad(x32 * x32, [(0, 0), (0, 0), (0, 0), (r, r)])
    total = xp.zeros_like(x32)
    for j in range(max(0, r - c + 1), min(2 * r, r + c - 1) + 1):  # the shifts that reach real channels
        total = total + sq[..., j : j + c]
    scale = np.float32(a["bias"]) + np.float32(a["alpha"]) * total
    return (x32 * scale ** np.float32(-a["beta"])).astype(x.dtype)


register(
    "LRN",
    inputs=1,
    attrs=[
        Attr("depth_radius", "int", 5),
        Attr("bias", "float", 1.0),
        Attr("alpha", "float", 1.0),
        Attr("beta", "float", 0.5),
    ],
    infer=_lrn_infer,
    xp_fn=_lrn,
    doc="local response normalization over the last axis: x / (bias + alpha * window sum of x^2)^beta",
    padding_rule=along_last_axis,
)

# -- ResizeBicubic, ResizeArea: separable taps ------------------------------------------------------


def _separable(xp: Any, x: Any, axis: int, index: np.ndarray, weight: np.ndarray) -> Any:
    """Sum over taps t of x taken at index[:, t] along ``axis``, times weight[:, t] (float32)."""
    shape = [1] * x.ndim
    shape[axis] = index.shape[0]
    total = None
    for t in range(index.shape[1]):
        term = xp.take(x, index[:, t], axis=axis) * weight[:, t].astype(np.float32).reshape(shape)
        total = term if total is None else total + term
    return total


def _cubic_table(a: float) -> np.ndarray:
    """TensorFlow's 1025-entry table of the two cubic kernel weights (computed in double, stored float)."""
    x = (np.arange(1025) / 1024.0).astype(np.float32).astype(np.float64)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x = x + 1.0
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.stack([near, far], axis=1).astype(np.float32)


def _bicubic_taps(n_in: int, n_out: int, a: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(index [out, 4], weight [out, 4]) as TensorFlow's kernel computes them: Keys' cubic (a = -0.5)
    with taps outside the image dropped and the rest renormalized under half_pixel_centers, else
    a = -0.75 with edge taps repeated."""
    scale = _scale(n_in, n_out, a["align_corners"])
    i = np.arange(n_out, dtype=np.float32)
    keys = bool(a["half_pixel_centers"])
    src = ((i + np.float32(0.5)) * scale - np.float32(0.5) if keys else i * scale).astype(np.float32)
    loc = np.floor(src).astype(np.int64)
    delta = (src - loc.astype(np.float32)).astype(np.float32)
    offset = np.rint(delta * np.float32(1024)).astype(np.int64)
    table = _cubic_table(-0.5 if keys else -0.75)
    weight = np.stack(
        [table[offset, 1], table[offset, 0], table[1024 - offset, 0], table[1024 - offset, 1]], axis=1
    )
    want = loc[:, None] + np.arange(-1, 3)[None, :]
    index = np.clip(want, 0, n_in - 1)
    if keys:
        weight = np.where(index == want, weight, np.float32(0))
        total = ((weight[:, 0] + weight[:, 1]) + weight[:, 2]) + weight[:, 3]
        ok = np.abs(total) >= np.float32(1000) * np.finfo(np.float32).tiny
        inverse = np.float32(1) / np.where(ok, total, np.float32(1))
        weight = np.where(ok[:, None], weight * inverse[:, None], weight)
    return index, weight.astype(np.float32)


def _resize_bicubic(xp: Any, a: dict[str, Any], x: Any, size: Any) -> Any:
    oh, ow = static_ints(size, "ResizeBicubic's size")
    rows = _separable(xp, x.astype(np.float32), 1, *_bicubic_taps(x.shape[1], oh, a))
    return _separable(xp, rows, 2, *_bicubic_taps(x.shape[2], ow, a)).astype(np.float32)


register(
    "ResizeBicubic",
    inputs=2,
    attrs=_RESIZE_ATTRS,
    infer=_resize_infer("float32"),
    xp_fn=_resize_bicubic,
    doc="bicubic resize of NHWC images to size (float32 result, TensorFlow's kernel and coordinates)",
    padding_rule=batch_major,
)


def _area_taps(n_in: int, n_out: int, align: bool) -> tuple[np.ndarray, np.ndarray]:
    """(index [out, T], weight [out, T]): the part of each input cell that output cell covers."""
    scale = _scale(n_in, n_out, align)
    rows: list[list[tuple[int, np.float32]]] = []
    for o in range(n_out):
        lo, hi = np.float32(o) * scale, np.float32(o + 1) * scale
        taps: list[tuple[int, np.float32]] = []
        for i in range(int(np.floor(lo)), int(np.ceil(hi))):
            if i < lo:
                w = scale if i + 1 > hi else np.float32(i + 1) - lo
            else:
                w = hi - np.float32(i) if i + 1 > hi else np.float32(1)
            taps.append((min(n_in - 1, max(0, i)), np.float32(w)))
        rows.append(taps)
    width = max(1, max(len(t) for t in rows))
    index = np.zeros((n_out, width), np.int64)
    weight = np.zeros((n_out, width), np.float32)
    for o, taps in enumerate(rows):
        for t, (i, w) in enumerate(taps):
            index[o, t], weight[o, t] = i, w
    return index, weight


def _resize_area(xp: Any, a: dict[str, Any], x: Any, size: Any) -> Any:
    oh, ow = static_ints(size, "ResizeArea's size")
    align = a["align_corners"]
    # TensorFlow sums each row's cells across first, then the rows, then scales by 1 / cell area
    cols = _separable(xp, x.astype(np.float32), 2, *_area_taps(x.shape[2], ow, align))
    total = _separable(xp, cols, 1, *_area_taps(x.shape[1], oh, align))
    area = _scale(x.shape[1], oh, align) * _scale(x.shape[2], ow, align)
    return (total * (np.float32(1) / np.float32(area))).astype(np.float32)


register(
    "ResizeArea",
    inputs=2,
    attrs=[Attr("align_corners", "bool", False)],
    infer=_resize_infer("float32"),
    xp_fn=_resize_area,
    doc="area (box-filter) resize of NHWC images to size: each output averages the input cells it "
    "covers (float32 result)",
    padding_rule=batch_major,
)

# -- CropAndResize ------------------------------------------------------------------------------


def _crop_infer(ctx: InferContext) -> list[TensorType]:
    image, boxes, ind = ctx.types[:3]
    if ctx.attrs["method"] not in ("bilinear", "nearest"):
        raise ctx.fail(f"method {ctx.attrs['method']!r} is not bilinear or nearest")
    if image.shape is not None and len(image.shape) != 4:
        raise ctx.fail(f"expected a rank-4 NHWC image, got {image}")
    if boxes.dtype != "float32" or (
        boxes.shape is not None and (len(boxes.shape) != 2 or boxes.shape[1] != 4)
    ):
        raise ctx.fail(f"boxes must be float32 [num_boxes, 4], got {boxes}")
    if ind.dtype != "int32" or (ind.shape is not None and len(ind.shape) != 1):
        raise ctx.fail(f"box_ind must be an int32 vector, got {ind}")
    n = boxes.shape[0] if boxes.shape is not None else (ind.shape[0] if ind.shape is not None else UNKNOWN)
    if boxes.shape is not None and ind.shape is not None:
        _dims_match(ctx, boxes.shape[0], ind.shape[0], "boxes and box_ind differ in length")
    size = ctx.ints(3)
    if size is not None and (len(size) != 2 or min(size) <= 0):
        raise ctx.fail(f"crop_size {size} must be two positive values")
    h, w = (size[0], size[1]) if size is not None else (UNKNOWN, UNKNOWN)
    return [TensorType("float32", (n, h, w, UNKNOWN if image.shape is None else image.shape[3]))]


def _crop_coords(lo: Any, hi: Any, n_in: int, n_out: int) -> Any:
    """Source coordinates [boxes, n_out] in float32 as TensorFlow computes them (a single output
    sits at the box's centre, computed in double)."""
    if n_out > 1:
        step = (hi - lo) * np.float32(n_in - 1) / np.float32(n_out - 1)
        return lo * np.float32(n_in - 1) + np.arange(n_out, dtype=np.float32)[None, :] * step
    return (0.5 * (lo + hi).astype(np.float64) * (n_in - 1)).astype(np.float32)


def _crop_and_resize(xp: Any, a: dict[str, Any], image: Any, boxes: Any, ind: Any, size: Any) -> Any:
    ch, cw = static_ints(size, "CropAndResize's crop_size")
    image, boxes, ind = xp.asarray(image), xp.asarray(boxes), xp.asarray(ind)  # a constant image is numpy
    b, h, w, _ = image.shape
    if xp is np and len(ind) and (np.min(ind) < 0 or np.max(ind) >= b):
        bad = int(np.flatnonzero((ind < 0) | (ind >= b))[0])
        raise ValueError(f"box_ind[{bad}] = {int(ind[bad])} is not in [0, {b})")
    ys = _crop_coords(boxes[:, 0:1], boxes[:, 2:3], h, ch)
    xs = _crop_coords(boxes[:, 1:2], boxes[:, 3:4], w, cw)
    inside = ((ys >= 0) & (ys <= h - 1))[:, :, None, None] & ((xs >= 0) & (xs <= w - 1))[:, None, :, None]
    bi = xp.clip(ind, 0, max(b - 1, 0))[:, None, None]
    img = image.astype(np.float32)

    def at(yi: Any, xi: Any) -> Any:
        yi = xp.clip(yi.astype(np.int32), 0, h - 1)[:, :, None]
        xi = xp.clip(xi.astype(np.int32), 0, w - 1)[:, None, :]
        return img[bi, yi, xi]

    if a["method"] == "nearest":  # roundf on coordinates that are >= 0 where they count
        out = at(
            xp.where(ys - xp.floor(ys) >= 0.5, xp.ceil(ys), xp.floor(ys)),
            xp.where(xs - xp.floor(xs) >= 0.5, xp.ceil(xs), xp.floor(xs)),
        )
    else:
        top, bottom, left, right = xp.floor(ys), xp.ceil(ys), xp.floor(xs), xp.ceil(xs)
        yl, xl = (ys - top)[:, :, None, None], (xs - left)[:, None, :, None]
        tl, tr, bl, br = at(top, left), at(top, right), at(bottom, left), at(bottom, right)
        upper = tl + (tr - tl) * xl
        lower = bl + (br - bl) * xl
        out = upper + (lower - upper) * yl
    return xp.where(inside, out, np.float32(a["extrapolation_value"])).astype(np.float32)


def _crop_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Output row i is box i of the image row box_ind[i] names: rows of boxes and box_ind stay rows;
    an indexed image is read at a row its values choose"""
    image, boxes, ind, size = ins
    if size.kind != "free":
        return [mixed(node, "crop_size depends on the data")]
    if image.kind != "free":
        return [mixed(node, f"box_ind picks the image's {symbol} rows by value")]
    found = [s for s in (boxes, ind) if s.kind != "free"]
    for s in found:
        if s.kind != "rows" or s.axis != 0:
            return [mixed(node, f"boxes or box_ind depend on the data off their first axis ({s.kind})")]
    if len(found) == 2 and (found[0].outer, found[0].inner) != (found[1].outer, found[1].inner):
        return [mixed(node, "boxes and box_ind fold the batch differently")]
    return [found[0].moved(0) if found else FREE]


register(
    "CropAndResize",
    inputs=4,
    attrs=[Attr("method", "str", "bilinear"), Attr("extrapolation_value", "float", 0.0)],
    infer=_crop_infer,
    xp_fn=_crop_and_resize,
    doc="crops of boxes [y1, x1, y2, x2] (normalized) from the image rows box_ind names, resized to "
    "crop_size (bilinear or nearest; extrapolation_value outside the image; float32)",
    padding_rule=_crop_padding,
)
