"""Image and spatial ops: depth <-> space, batch <-> space, resizing, the transposed convolution.

All NHWC. Resizing follows TensorFlow's kernels exactly: the source coordinate of each output
pixel is computed in float32 with TensorFlow's scale (``align_corners``: (in - 1) / (out - 1)) and
its scaler (``half_pixel_centers``: (i + 0.5) * scale - 0.5 for bilinear, (i + 0.5) * scale for
nearest neighbour), so indices and weights are constants of the compiled shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import UNKNOWN, Dim, TensorType, dim_divide, dims_product
from fourier.ops.array import static_ints
from fourier.ops.nn import _highest, _window, _window_params
from fourier.ops.padding import State, batch_major, mixed, moves
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
        if ctx.attrs["align_corners"] and ctx.attrs["half_pixel_centers"]:
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
