"""Shape and layout ops: shapes, reshapes, slicing, joining, gathering, padding, filling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fourier.errors import CompileError
from fourier.ir.core import Node
from fourier.ir.types import (
    BATCH,
    UNKNOWN,
    Dim,
    Sym,
    TensorType,
    dim_divide,
    dim_to_sym,
    dims_product,
    numpy_dtype,
    sym_to_dim,
)
from fourier.ops._infer import broadcast_shapes, norm_axis, same_as
from fourier.ops.padding import (
    FREE,
    PROBE_SIZES,
    SIZE,
    State,
    always_free,
    axis_list,
    has_symbol,
    known_value,
    maybe_symbol,
    mixed,
    moves,
)
from fourier.ops.registry import Attr, InferContext, register, shape_value


def static_ints(v: Any, what: str) -> list[int]:
    """Operands that decide shapes must be known when the graph is traced for a bucket."""
    if isinstance(v, (np.ndarray, np.generic, int, list, tuple)):
        return [int(x) for x in np.asarray(v).reshape(-1)]
    raise CompileError(f"{what} must be known at compile time, but it is computed at run time")


# -- Shape, Size, Rank ---------------------------------------------------------------------------


def _shape_known(ctx: InferContext) -> list[np.ndarray] | None:
    v = shape_value(ctx.types[0])
    if v is None:
        return None
    return [v if v.dtype == object else v.astype(ctx.attrs["out_type"])]


def _shape_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Depends on the size when the input's shape has (or might have) the symbol"""
    t = node.inputs[0].type
    depends = t.shape is None or any(has_symbol(d, symbol) or d == "?" for d in t.shape)
    return [SIZE if depends else FREE]


def _shape_infer(ctx: InferContext) -> list[TensorType]:
    return [TensorType(ctx.attrs["out_type"], (UNKNOWN if ctx.types[0].rank is None else ctx.types[0].rank,))]


register(
    "Shape",
    inputs=1,
    attrs=[Attr("out_type", "type", "int32")],
    infer=_shape_infer,
    known=_shape_known,
    xp_fn=lambda xp, a, x: np.array(
        np.shape(x), dtype=a["out_type"]
    ),  # static: shapes are known when tracing
    doc="the shape of x as a vector (static per bucket once compiled)",
    padding_rule=_shape_padding,
)


def _size_known(ctx: InferContext) -> list[np.ndarray] | None:
    v = shape_value(ctx.types[0])
    if v is None:
        return None
    if v.dtype != object:
        return [np.array(int(np.prod(v)), dtype=ctx.attrs["out_type"])]
    arr = np.empty((), dtype=object)
    arr[()] = np.prod(v)
    return [arr]


register(
    "Size",
    inputs=1,
    attrs=[Attr("out_type", "type", "int32")],
    infer=lambda ctx: [TensorType(ctx.attrs["out_type"], ())],
    known=_size_known,
    xp_fn=lambda xp, a, x: np.array(np.size(x), dtype=a["out_type"]),  # static: shapes are known when tracing
    doc="number of elements of x",
    padding_rule=_shape_padding,
)


def _rank_known(ctx: InferContext) -> list[np.ndarray] | None:
    r = ctx.types[0].rank
    return None if r is None else [np.array(r, dtype=np.int32)]


register(
    "Rank",
    inputs=1,
    infer=lambda ctx: [TensorType("int32", ())],
    known=_rank_known,
    xp_fn=lambda xp, a, x: np.array(np.ndim(x), dtype=np.int32),  # static: shapes are known when tracing
    doc="rank of x",
    padding_rule=always_free,
)

# -- Reshape, Transpose, ExpandDims, Squeeze ------------------------------------------------------


def _reshape_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    target = ctx.dims(1)
    if target is None:
        n = ctx.types[1].shape[0] if ctx.types[1].shape else UNKNOWN
        return [TensorType(x.dtype, None if not isinstance(n, int) else (UNKNOWN,) * n)]
    if target.count(-1) > 1:
        raise ctx.fail(f"shape {target} has more than one -1")
    if -1 in target:
        rest = dims_product(tuple(d for d in target if d != -1))
        total = dims_product(x.shape) if x.shape is not None else UNKNOWN
        target[target.index(-1)] = dim_divide(total, rest)
    elif x.shape is not None:  # element counts must agree, symbolically where both are known
        want, have = dims_product(tuple(target)), dims_product(x.shape)
        if UNKNOWN not in (want, have) and want != have:
            raise ctx.fail(f"cannot reshape {x} ({have} elements) to {target} ({want} elements)")
    return [TensorType(x.dtype, tuple(target))]


register(
    "Reshape",
    inputs=2,
    infer=_reshape_infer,
    xp_fn=lambda xp, a, x, s: xp.reshape(x, static_ints(s, "Reshape's shape")),
    doc="reshape x to the shape given by the second input (-1 inferred)",
    padding_rule=moves((0,)),
)


def _transpose_infer(ctx: InferContext) -> list[TensorType]:
    x, perm = ctx.types[0], ctx.ints(1)
    if perm is None or x.shape is None:
        return [TensorType(x.dtype, None if x.shape is None else (UNKNOWN,) * len(x.shape))]
    if sorted(perm) != list(range(len(x.shape))):
        raise ctx.fail(f"perm {perm} is not a permutation of rank {len(x.shape)}")
    return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


register(
    "Transpose",
    inputs=2,
    infer=_transpose_infer,
    xp_fn=lambda xp, a, x, p: xp.transpose(x, static_ints(p, "Transpose's perm")),
    doc="permute dimensions",
    padding_rule=moves((0,)),
)


def _expand_infer(ctx: InferContext) -> list[TensorType]:
    x, axis = ctx.types[0], ctx.ints(1)
    if x.shape is None or axis is None:
        return [TensorType(x.dtype, None)]
    rank = len(x.shape) + 1
    ax = norm_axis(ctx, axis[0], rank)
    shape = list(x.shape)
    shape.insert(ax, 1)
    return [TensorType(x.dtype, tuple(shape))]


def _expand(xp: Any, a: dict[str, Any], x: Any, axis: Any) -> Any:
    return xp.expand_dims(x, static_ints(axis, "ExpandDims's axis")[0])


register(
    "ExpandDims",
    inputs=2,
    infer=_expand_infer,
    xp_fn=_expand,
    doc="insert a size-1 axis",
    padding_rule=moves((0,)),
)


def _squeeze_axes(ctx_shape: tuple[Dim, ...], dims: list[int]) -> list[int]:
    rank = len(ctx_shape)
    if dims:
        if any(not -rank <= d < rank for d in dims):
            raise ValueError(f"squeeze_dims {dims} out of range for rank {rank}")
        return sorted(d % rank for d in dims)
    return [i for i, d in enumerate(ctx_shape) if d == 1]


def _squeeze_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    if x.shape is None:
        return [TensorType(x.dtype, None)]
    axes = _squeeze_axes(x.shape, list(ctx.attrs["squeeze_dims"]))
    for ax in axes:
        if x.shape[ax] not in (1, UNKNOWN):
            raise ctx.fail(f"cannot squeeze axis {ax} of {x}")
    return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


def _squeeze(xp: Any, a: dict[str, Any], x: Any) -> Any:
    dims = list(a["squeeze_dims"])
    axes = tuple(_squeeze_axes(x.shape, dims)) if dims else tuple(i for i, d in enumerate(x.shape) if d == 1)
    return xp.squeeze(x, axis=axes) if axes else x


register(
    "Squeeze",
    inputs=1,
    attrs=[Attr("squeeze_dims", "ints", [])],
    infer=_squeeze_infer,
    xp_fn=_squeeze,
    doc="remove size-1 axes (all of them when squeeze_dims is empty)",
    padding_rule=moves((0,)),
)

# -- joining and splitting ----------------------------------------------------------------------


def _concat_infer(ctx: InferContext) -> list[TensorType]:
    values, axis = ctx.types[:-1], ctx.ints(len(ctx.types) - 1)
    dtypes = {t.dtype for t in values}
    if len(dtypes) != 1:
        raise ctx.fail(f"inputs have different dtypes {sorted(dtypes)}")
    ranks = {t.rank for t in values if t.rank is not None}
    if axis is None or not ranks:
        return [TensorType(values[0].dtype, None)]
    if len(ranks) != 1:
        raise ctx.fail(f"inputs have different ranks {sorted(ranks)}")
    rank = ranks.pop()
    ax = norm_axis(ctx, axis[0], rank)
    shape: list[Dim] = []
    for i in range(rank):
        dims = [t.shape[i] for t in values if t.shape is not None]
        if i == ax:  # an input of unknown rank adds an unknown size
            shape.append(_sum_dims(dims) if len(dims) == len(values) else UNKNOWN)
        else:
            known = [d for d in dims if d != UNKNOWN]
            shape.append(known[0] if known else UNKNOWN)
    return [TensorType(values[0].dtype, tuple(shape))]


def _sum_dims(dims: list[Dim]) -> Dim:
    if all(isinstance(d, int) for d in dims):
        return sum(int(d) for d in dims)
    syms = [s for s in map(dim_to_sym, dims) if isinstance(s, Sym)]
    if len(syms) == len(dims) and len({s.names for s in syms}) == 1:  # 2*N + N = 3*N
        return sym_to_dim(Sym(sum(s.coef for s in syms), syms[0].names))
    return UNKNOWN


def _concat(xp: Any, a: dict[str, Any], *args: Any) -> Any:
    *values, axis = args
    return xp.concatenate(values, axis=static_ints(axis, "ConcatV2's axis")[0])


register(
    "ConcatV2",
    inputs=(2, None),
    infer=_concat_infer,
    xp_fn=_concat,
    doc="concatenate the inputs (all but the last) along the axis given by the last input",
    padding_rule=moves("all_but_last"),
)


def _pack_infer(ctx: InferContext) -> list[TensorType]:
    t = ctx.types[0]
    if t.shape is None:
        return [TensorType(t.dtype, None)]
    shape = list(t.shape)
    shape.insert(norm_axis(ctx, ctx.attrs["axis"], len(shape) + 1), len(ctx.types))
    return [TensorType(t.dtype, tuple(shape))]


register(
    "Pack",
    inputs=(1, None),
    attrs=[Attr("axis", "int", 0)],
    infer=_pack_infer,
    xp_fn=lambda xp, a, *xs: xp.stack(xs, axis=a["axis"]),
    doc="stack the inputs along a new axis",
    padding_rule=moves("all"),
)


def _unpack_infer(ctx: InferContext) -> list[TensorType]:
    t = ctx.types[0]
    num = ctx.attrs["num"]
    if t.shape is None:
        return [TensorType(t.dtype, None)] * num
    ax = norm_axis(ctx, ctx.attrs["axis"], len(t.shape))
    if t.shape[ax] not in (num, UNKNOWN):
        raise ctx.fail(f"cannot unpack axis {ax} of {t} into {num}")
    shape = tuple(d for i, d in enumerate(t.shape) if i != ax)
    return [TensorType(t.dtype, shape)] * num


def _unpack(xp: Any, a: dict[str, Any], x: Any) -> Any:
    ax = a["axis"] % x.ndim
    return tuple(xp.take(x, i, axis=ax) for i in range(a["num"]))


register(
    "Unpack",
    inputs=1,
    attrs=[Attr("num", "int"), Attr("axis", "int", 0)],
    infer=_unpack_infer,
    xp_fn=_unpack,
    doc="split along an axis into `num` tensors of one rank less",
    padding_rule=moves((0,)),
)


def _split_types(
    ctx: InferContext, x: TensorType, axis: list[int] | None, sizes: list[Dim]
) -> list[TensorType]:
    if x.shape is None or axis is None:
        return [TensorType(x.dtype, None)] * len(sizes)
    ax = norm_axis(ctx, axis[0], len(x.shape))
    out = []
    for s in sizes:
        shape = list(x.shape)
        shape[ax] = s
        out.append(TensorType(x.dtype, tuple(shape)))
    return out


def _split_infer(ctx: InferContext) -> list[TensorType]:
    x, axis, n = ctx.types[1], ctx.ints(0), ctx.attrs["num_split"]
    if x.shape is None or axis is None:
        return [TensorType(x.dtype, None)] * n
    d = x.shape[norm_axis(ctx, axis[0], len(x.shape))]
    if isinstance(d, int) and d % n:
        raise ctx.fail(f"axis of size {d} does not split evenly into {n}")
    return _split_types(ctx, x, axis, [d // n if isinstance(d, int) else dim_divide(d, n)] * n)


def _split(xp: Any, a: dict[str, Any], axis: Any, x: Any) -> Any:
    return tuple(xp.split(x, a["num_split"], axis=static_ints(axis, "Split's axis")[0]))


register(
    "Split",
    inputs=2,
    attrs=[Attr("num_split", "int")],
    infer=_split_infer,
    xp_fn=_split,
    doc="split the second input evenly along the axis given by the first",
    padding_rule=moves((1,)),
)


def _split_v_sizes(sizes: list[int], total: Dim) -> list[Dim]:
    if -1 in sizes:
        if not isinstance(total, int):
            return [UNKNOWN if s == -1 else s for s in sizes]
        sizes = list(sizes)
        sizes[sizes.index(-1)] = total - (sum(sizes) + 1)
    return list(sizes)


def int_or_syms(ctx: InferContext, i: int) -> list[int | Sym] | None:
    """Input ``i`` known at compile time as ints and symbolic sizes (``tf.shape(x)[0] * 2``)."""
    v = ctx.known(i)
    if v is None:
        return None
    out = [int(x) if isinstance(x, (int, np.integer)) else x for x in np.asarray(v).reshape(-1).tolist()]
    return out if all(isinstance(x, (int, Sym)) for x in out) else None


def _multiple(x: int | Sym | None, names: tuple[str, ...]) -> int | None:
    """``x`` as a multiple of the product of ``names`` (0 is a multiple of anything), else None."""
    if isinstance(x, Sym):
        return x.coef if x.names == names else None
    if x == 0:
        return 0
    return x if isinstance(x, int) and not names else None


def _symbolic_split_v(sizes: list[int | Sym], total: Dim) -> list[Dim]:
    """SplitV's piece sizes where some are symbolic (``[n, n, n, n]`` of a ``4*N`` axis)."""
    t = dim_to_sym(total)
    if not isinstance(t, Sym) or any(_multiple(x, t.names) is None for x in sizes if x != -1):
        return [UNKNOWN] * len(sizes)
    if -1 in sizes:
        rest = t.coef - sum(_multiple(x, t.names) or 0 for x in sizes if x != -1)
        if rest < 0:
            return [UNKNOWN] * len(sizes)
        sizes = [Sym(rest, t.names) if x == -1 else x for x in sizes]
    return [sym_to_dim(x) for x in sizes]


def _split_v_infer(ctx: InferContext) -> list[TensorType]:
    x, sizes, axis, n = ctx.types[0], ctx.ints(1), ctx.ints(2), ctx.attrs["num_split"]
    symbolic = int_or_syms(ctx, 1) if sizes is None else None
    if (sizes is None and symbolic is None) or x.shape is None or axis is None:
        return [TensorType(x.dtype, None)] * n
    total = x.shape[norm_axis(ctx, axis[0], len(x.shape))]
    if symbolic is not None:
        return _split_types(ctx, x, axis, _symbolic_split_v(symbolic, total))
    assert sizes is not None
    return _split_types(ctx, x, axis, _split_v_sizes(sizes, total))


def _split_v(xp: Any, a: dict[str, Any], x: Any, sizes: Any, axis: Any) -> Any:
    ax = static_ints(axis, "SplitV's axis")[0] % x.ndim
    parts = _split_v_sizes(static_ints(sizes, "SplitV's sizes"), x.shape[ax])
    bounds = np.cumsum([int(p) for p in parts])[:-1].tolist()
    return tuple(xp.split(x, bounds, axis=ax))


register(
    "SplitV",
    inputs=3,
    attrs=[Attr("num_split", "int")],
    infer=_split_v_infer,
    xp_fn=_split_v,
    doc="split along an axis into pieces of the given sizes (one may be -1)",
    padding_rule=moves((0,)),
)

# -- slicing ------------------------------------------------------------------------------------


def strided_index(
    rank: int,
    begin: Sequence[int | Sym],
    end: Sequence[int | Sym],
    strides: Sequence[int],
    attrs: Mapping[str, Any],
) -> tuple[Any, ...]:
    """TensorFlow's StridedSlice spec as a Python index tuple (same meaning in numpy and JAX)."""
    if bin(attrs["ellipsis_mask"] & ((1 << len(begin)) - 1)).count("1") > 1:
        raise ValueError(f"ellipsis_mask {attrs['ellipsis_mask']} sets more than one ellipsis")
    if not len(begin) == len(end) == len(strides):
        raise ValueError(f"begin, end and strides have lengths {len(begin)}, {len(end)}, {len(strides)}")
    index: list[Any] = []
    for i in range(len(begin)):
        bit = 1 << i
        if attrs["ellipsis_mask"] & bit:
            index.append(Ellipsis)
        elif attrs["new_axis_mask"] & bit:
            index.append(None)
        elif attrs["shrink_axis_mask"] & bit:
            index.append(begin[i])
        else:
            b = None if attrs["begin_mask"] & bit else begin[i]
            e = None if attrs["end_mask"] & bit else end[i]
            index.append(slice(b, e, strides[i]))
    return tuple(index)


_INT32_MAX = 2**31 - 1  # an end this large means "to the end" (TensorFlow's idiom)


def _index_shape(shape: tuple[Dim, ...], index: tuple[Any, ...]) -> tuple[Dim, ...]:
    consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
    if consumed > len(shape):
        raise IndexError(f"the slice indexes {consumed} dimensions of a rank-{len(shape)} tensor")
    if Ellipsis in index:
        at = index.index(Ellipsis)
        fill = (slice(None),) * (len(shape) - consumed)
        index = index[:at] + fill + index[at + 1 :]
    else:
        index = index + (slice(None),) * (len(shape) - consumed)
    out: list[Dim] = []
    axis = 0
    for item in index:
        if item is None:
            out.append(1)
            continue
        d = shape[axis]
        axis += 1
        if isinstance(item, (int, Sym)):
            if isinstance(d, int) and isinstance(item, int) and not -d <= item < d:
                raise IndexError(f"index {item} out of range for dimension {d}")
            continue
        symbolic = isinstance(item.start, Sym) or isinstance(item.stop, Sym)
        if isinstance(d, int) and not symbolic:
            out.append(len(range(*item.indices(d))))
        else:
            out.append(_symbolic_slice_length(d, item))
    return tuple(out)


def _symbolic_slice_length(d: Dim, item: slice) -> Dim:
    """The length of ``item`` (step 1) over a symbolic axis, where its bounds are multiples of the
    axis's symbols within it: the whole axis however written (FwFM's begin 0 with the end
    masked), or one head's rows ``[i*N, (i+1)*N)`` of a ``4*N`` axis. Else unknown."""
    total = dim_to_sym(d)
    if item.step not in (None, 1) or not isinstance(total, Sym):
        return UNKNOWN
    start = 0 if item.start is None else _multiple(item.start, total.names)
    whole = item.stop is None or (isinstance(item.stop, int) and item.stop >= _INT32_MAX)
    stop = total.coef if whole else _multiple(item.stop, total.names)
    if start is None or stop is None or not 0 <= start <= total.coef:
        return UNKNOWN
    stop = min(stop, total.coef)
    return sym_to_dim(Sym(stop - start, total.names)) if stop > start else 0


_STRIDED_ATTRS = [
    Attr("begin_mask", "int", 0),
    Attr("end_mask", "int", 0),
    Attr("ellipsis_mask", "int", 0),
    Attr("new_axis_mask", "int", 0),
    Attr("shrink_axis_mask", "int", 0),
]


def _strided_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    b, e, s = int_or_syms(ctx, 1), int_or_syms(ctx, 2), ctx.ints(3)
    if x.shape is None or b is None or e is None or s is None:
        return [TensorType(x.dtype, None)]
    if 0 in s:
        raise ctx.fail("stride 0")
    try:
        shape = _index_shape(x.shape, strided_index(len(x.shape), b, e, s, ctx.attrs))
    except (IndexError, ValueError) as err:
        raise ctx.fail(str(err)) from err
    return [TensorType(x.dtype, shape)]


def _strided(xp: Any, a: dict[str, Any], x: Any, b: Any, e: Any, s: Any) -> Any:
    index = strided_index(
        x.ndim,
        static_ints(b, "StridedSlice's begin"),
        static_ints(e, "StridedSlice's end"),
        static_ints(s, "StridedSlice's strides"),
        a,
    )
    return x[index]


register(
    "StridedSlice",
    inputs=4,
    attrs=_STRIDED_ATTRS,
    infer=_strided_infer,
    xp_fn=_strided,
    doc="numpy-style basic slicing described by begin/end/strides and masks",
    padding_rule=moves((0,)),
)


def _slice_index(begin: list[int], size: list[int]) -> tuple[slice, ...]:
    return tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))


def _slice_infer(ctx: InferContext) -> list[TensorType]:
    x, b, s = ctx.types[0], ctx.ints(1), ctx.ints(2)
    if x.shape is not None and b is None and s is not None and len(s) == len(x.shape):
        # begin computed at run time (a loop's step): the sizes still give the shape
        return [TensorType(x.dtype, tuple(UNKNOWN if n == -1 else n for n in s))]
    if x.shape is None or b is None or s is None:
        return [TensorType(x.dtype, None if x.shape is None else (UNKNOWN,) * len(x.shape))]
    return [TensorType(x.dtype, _index_shape(x.shape, _slice_index(b, s)))]


def _slice(xp: Any, a: dict[str, Any], x: Any, b: Any, s: Any) -> Any:
    size = static_ints(s, "Slice's size")
    if xp is np or isinstance(b, (np.ndarray, np.generic, int, list, tuple)):
        return x[_slice_index(static_ints(b, "Slice's begin"), size)]
    from jax import lax

    # begin known only at run time: each size must be given (-1, to the end, only where the
    # block spans the whole axis); lax.dynamic_slice clamps a block that would leave the array
    # where TensorFlow raises
    if any(n == -1 for n in size):
        raise CompileError("Slice: a size of -1 needs a begin known at compile time")
    begin = [b[i] for i in range(len(size))]
    return lax.dynamic_slice(x, begin, size)


register(
    "Slice",
    inputs=3,
    infer=_slice_infer,
    xp_fn=_slice,
    doc="the block starting at begin with the given size (-1: to the end)",
    padding_rule=moves((0,)),
)

# -- gathering ----------------------------------------------------------------------------------


def _gather_infer(ctx: InferContext) -> list[TensorType]:
    params, indices, axis = ctx.types[0], ctx.types[1], ctx.ints(2)
    if indices.dtype not in ("int32", "int64"):
        raise ctx.fail(f"indices must be int32 or int64, got {indices.dtype}")
    bd = int(ctx.attrs["batch_dims"])
    if params.shape is None or indices.shape is None or axis is None:
        if bd != 0 and indices.shape is None:
            raise ctx.fail(f"batch_dims={bd} needs the rank of the indices")
        return [TensorType(params.dtype, None)]
    ax = norm_axis(ctx, axis[0], len(params.shape))
    if bd < 0:
        bd += len(indices.shape)
    if not 0 <= bd <= min(ax, len(indices.shape)):
        raise ctx.fail(
            f"batch_dims={ctx.attrs['batch_dims']} must be within the indices' rank "
            f"{len(indices.shape)} and at most the axis {ax}"
        )
    for i in range(bd):
        p, q = params.shape[i], indices.shape[i]
        if isinstance(p, int) and isinstance(q, int) and p != q:
            raise ctx.fail(f"batch dimension {i} differs: params {p}, indices {q}")
    shape = params.shape[:ax] + indices.shape[bd:] + params.shape[ax + 1 :]
    return [TensorType(params.dtype, shape)]


def _batch_dims(a: dict[str, Any], indices: Any) -> int:
    bd = int(a.get("batch_dims", 0))
    return bd + indices.ndim if bd < 0 else bd


def _gather_batched(xp: Any, params: Any, indices: Any, ax: int, bd: int) -> Any:
    """GatherV2 with ``bd`` leading batch dimensions shared by params and indices: output
    ``params.shape[:ax] + indices.shape[bd:] + params.shape[ax + 1:]``; out-of-range ids give zeros."""
    n = params.shape[ax]
    valid = (indices >= 0) & (indices < n)
    p = xp.moveaxis(params, ax, bd)  # [B..., n, M..., T...]
    ni = indices.ndim - bd
    batch = tuple(
        xp.arange(params.shape[k]).reshape((1,) * k + (-1,) + (1,) * (bd - k - 1 + ni)) for k in range(bd)
    )
    got = p[(*batch, xp.where(valid, indices, 0))]  # [B..., I..., M..., T...]
    rest = got.ndim - bd - ni
    got = xp.where(valid.reshape(valid.shape + (1,) * rest), got, xp.zeros((), dtype=params.dtype))
    m = ax - bd  # the params' dimensions between the batch and the axis come before the ids'
    perm = [*range(bd), *range(bd + ni, bd + ni + m), *range(bd, bd + ni), *range(bd + ni + m, got.ndim)]
    return xp.transpose(got, perm)


def _gather_ref(a: dict[str, Any], params: np.ndarray, indices: np.ndarray, axis: Any) -> np.ndarray:
    ax = int(np.asarray(axis)) % params.ndim
    if _batch_dims(a, indices):
        return _gather_batched(np, params, indices, ax, _batch_dims(a, indices))
    n = params.shape[ax]
    valid = (indices >= 0) & (indices < n)
    out = np.take(params, np.where(valid, indices, 0), axis=ax)
    mask = valid.reshape((1,) * ax + valid.shape + (1,) * (params.ndim - ax - 1))
    zero = np.zeros((), dtype=params.dtype) if params.dtype != object else 0
    return np.where(mask, out, zero)


def _gather_lower(a: dict[str, Any], params: Any, indices: Any, axis: Any) -> Any:
    import jax.numpy as jnp

    ax = static_ints(axis, "GatherV2's axis")[0] % params.ndim
    if _batch_dims(a, indices):
        return _gather_batched(jnp, params, indices, ax, _batch_dims(a, indices))
    n = params.shape[ax]
    shape = params.shape[:ax] + indices.shape + params.shape[ax + 1 :]
    if 0 in shape or n == 0:  # jnp.take drops the ids' axes when params and ids are both empty
        return jnp.zeros(shape, params.dtype)
    # jnp.take wraps negative ids like numpy; TensorFlow has no negative ids: they are out of range.
    safe = jnp.where(indices < 0, n, indices)
    return jnp.take(params, safe, axis=ax, mode="fill", fill_value=0)


def _gather_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Ids carry rows into the output; gathering along the row axis, or from a table whose
    length depends on the size, mixes"""
    params, indices, _ = ins
    pt, it = node.inputs[0].type, node.inputs[1].type
    if pt.shape is None or it.shape is None:
        return [mixed(node, "operand rank unknown")]
    axes = axis_list(node, 2, len(pt.shape), {symbol: PROBE_SIZES[0]})
    if axes is None:
        return [mixed(node, "gather axis is not known at compile time")]
    axis, bd = axes[0], int(node.attrs.get("batch_dims", 0)) % max(len(it.shape), 1)
    if params.kind != "rows" and maybe_symbol(pt.shape[axis], symbol):
        # Which ids are in range (out-of-range ids give zeros) depends on the size.
        if indices.kind == "rows":
            return [mixed(node, f"looks up a table whose size depends on {symbol}")]
        return [SIZE]
    if indices.kind == "size" or params.kind == "size":
        if "rows" in (params.kind, indices.kind):
            return [mixed(node, f"gathers with a value that depends on the size of {symbol}")]
        return [SIZE]
    if params.kind == "rows" and indices.kind == "rows":
        if (
            params.axis == indices.axis
            and params.axis < bd
            and params.outer == indices.outer
            and params.inner == indices.inner
        ):
            return [params]
        return [mixed(node, f"gathers across {symbol} indices")]
    if params.kind == "rows":
        if params.axis == axis:
            return [mixed(node, f"picks elements along the {symbol} axis by index")]
        if params.axis < axis:
            return [params]
        return [params.moved(params.axis + len(it.shape) - bd - 1)]
    if indices.kind == "rows":
        if indices.axis < bd:
            return [indices]
        return [indices.moved(axis + indices.axis - bd)]
    return [FREE]


register(
    "GatherV2",
    inputs=3,
    attrs=[Attr("batch_dims", "int", 0)],
    infer=_gather_infer,
    reference=_gather_ref,
    lower=_gather_lower,
    doc="take slices of params at indices along axis (batch_dims leading dims shared); out-of-range ids give zeros",
    padding_rule=_gather_padding,
)

# -- filling, tiling, padding ---------------------------------------------------------------------


def _fill_infer(ctx: InferContext) -> list[TensorType]:
    dims = ctx.dims(0)
    return [TensorType(ctx.types[1].dtype, None if dims is None else tuple(dims))]


def _fill_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The fill value's state; filling with indexed data mixes"""
    value = ins[1]
    if value.kind == "rows":
        return [mixed(node, "fills with indexed data")]
    return [value]


register(
    "Fill",
    inputs=2,
    infer=_fill_infer,
    xp_fn=lambda xp, a, dims, v: xp.full(static_ints(dims, "Fill's dims"), v, dtype=v.dtype),
    doc="a tensor of the given shape filled with a scalar",
    padding_rule=_fill_padding,
)

register(
    "ZerosLike",
    inputs=1,
    infer=same_as(0),
    xp_fn=lambda xp, a, x: xp.zeros_like(x),
    doc="zeros of x's shape and dtype",
    padding_rule=always_free,
)
register(
    "OnesLike",
    inputs=1,
    infer=same_as(0),
    xp_fn=lambda xp, a, x: xp.ones_like(x),
    doc="ones of x's shape and dtype",
    padding_rule=always_free,
)


def _tile_infer(ctx: InferContext) -> list[TensorType]:
    x, m = ctx.types[0], ctx.ints(1)
    if x.shape is None or m is None:
        return [TensorType(x.dtype, None)]
    if len(m) != len(x.shape):
        raise ctx.fail(f"multiples {m} do not match rank {len(x.shape)}")
    return [TensorType(x.dtype, tuple(dims_product((d, k)) for d, k in zip(x.shape, m)))]


register(
    "Tile",
    inputs=2,
    infer=_tile_infer,
    xp_fn=lambda xp, a, x, m: xp.tile(x, static_ints(m, "Tile's multiples")),
    doc="repeat x along each axis",
    padding_rule=moves((0,)),
)


def _broadcast_to_infer(ctx: InferContext) -> list[TensorType]:
    dims = ctx.dims(1)
    if dims is None:
        return [TensorType(ctx.types[0].dtype, None)]
    try:
        shape = broadcast_shapes([ctx.types[0].shape, tuple(dims)])
    except ValueError as err:
        raise ctx.fail(str(err)) from err
    return [TensorType(ctx.types[0].dtype, shape)]


register(
    "BroadcastTo",
    inputs=2,
    infer=_broadcast_to_infer,
    xp_fn=lambda xp, a, x, s: xp.broadcast_to(x, static_ints(s, "BroadcastTo's shape")),
    doc="broadcast x to a shape",
    padding_rule=moves((0,)),
)


def _pad_infer(ctx: InferContext) -> list[TensorType]:
    x, p = ctx.types[0], ctx.ints(1)
    if x.shape is None or p is None:
        return [TensorType(x.dtype, None if x.shape is None else (UNKNOWN,) * len(x.shape))]
    pairs = np.asarray(p).reshape(-1, 2)
    if len(pairs) != len(x.shape):
        raise ctx.fail(f"paddings for rank {len(pairs)} given to {x}")
    if (pairs < 0).any():
        raise ctx.fail("negative padding")
    shape = tuple(
        d + int(lo + hi) if isinstance(d, int) else (d if lo == hi == 0 else UNKNOWN)
        for d, (lo, hi) in zip(x.shape, pairs)
    )
    return [TensorType(x.dtype, shape)]


def _pad(xp: Any, a: dict[str, Any], x: Any, p: Any, value: Any = None) -> Any:
    pairs = np.asarray(static_ints(p, "Pad's paddings")).reshape(-1, 2).tolist()
    fill = 0 if value is None else value
    return xp.pad(x, pairs, mode="constant", constant_values=fill)


def _pads_keep_the_axis(node: Node, ins: list[State], symbol: str, really_rows: bool) -> list[State] | None:
    # Common on large feature maps: no padding along the rows' axis needs no probe.
    pads = known_value(node.inputs[1], {symbol: PROBE_SIZES[0]})
    x = ins[0]
    if pads is not None and not np.asarray(pads)[x.axis].any():
        return [x if really_rows else FREE]
    return None


register(
    "Pad",
    inputs=2,
    infer=_pad_infer,
    xp_fn=_pad,
    doc="pad with zeros",
    padding_rule=moves((0,), _pads_keep_the_axis),
)
register(
    "PadV2",
    inputs=3,
    infer=_pad_infer,
    xp_fn=_pad,
    doc="pad with a constant",
    padding_rule=moves((0, 2), _pads_keep_the_axis),
)


def _mirror_pad(xp: Any, a: dict[str, Any], x: Any, p: Any) -> Any:
    pairs = np.asarray(static_ints(p, "MirrorPad's paddings")).reshape(-1, 2).tolist()
    return xp.pad(x, pairs, mode="reflect" if a["mode"] == "REFLECT" else "symmetric")


register(
    "MirrorPad",
    inputs=2,
    attrs=[Attr("mode", "str")],
    infer=_pad_infer,
    xp_fn=_mirror_pad,
    doc="pad by reflecting x (REFLECT or SYMMETRIC)",
    padding_rule=moves((0,), _pads_keep_the_axis),
)


def _range_infer(ctx: InferContext) -> list[TensorType]:
    vals = [ctx.known(i) for i in range(3)]
    dtype = ctx.attrs["Tidx"]
    if any(v is None or v.dtype == object for v in vals):
        first, last, step = (ctx.dims(i) for i in range(3))
        if first == [0] and step == [1] and last is not None and len(last) == 1:
            return [TensorType(dtype, (last[0],))]  # range(N): N elements
        return [TensorType(dtype, (UNKNOWN,))]
    if float(np.asarray(vals[2])) == 0:
        raise ctx.fail("delta is 0")
    return [TensorType(dtype, (_range_size(dtype, *vals),))]  # type: ignore[arg-type]


def _range_size(dtype: str, start: Any, limit: Any, delta: Any) -> int:
    """TensorFlow's element count, computed in the range's own dtype (float32 0 to 0.3 by 0.1 has
    3 elements: 0.3f / 0.1f rounds to 3.0, where float64 arithmetic gives 4)."""
    t = numpy_dtype(dtype)
    s, lim, d = (np.asarray(v).astype(t) for v in (start, limit, delta))
    if (d > 0 and s > lim) or (d < 0 and s < lim):
        return 0
    if np.issubdtype(t, np.integer):
        return int((abs(int(lim) - int(s)) + abs(int(d)) - 1) // abs(int(d)))
    return int(np.ceil(np.abs((lim - s) / d)))


def _range(xp: Any, a: dict[str, Any], start: Any, limit: Any, delta: Any) -> Any:
    # start + i * delta in the range's dtype, as TensorFlow's kernel computes each element
    t = numpy_dtype(a["Tidx"])
    n = _range_size(a["Tidx"], start, limit, delta)
    s, d = np.asarray(start).astype(t), np.asarray(delta).astype(t)
    return (s + np.arange(n, dtype=t) * d).astype(t)


def _range_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Positions: free over a sequence symbol, size-dependent over the batch"""
    start, limit, delta = ins
    if "size" in (start.kind, delta.kind):
        return [SIZE]
    # range(S) holds positions, which padding at the end keeps; range(N) holds a row's position
    # in the batch, which splitting a large batch into chunks changes.
    return [SIZE if limit.kind == "size" and symbol == BATCH else FREE]


register(
    "Range",
    inputs=3,
    attrs=[Attr("Tidx", "type", "int32")],
    infer=_range_infer,
    xp_fn=_range,
    doc="start, start + delta, ... below limit (operands known at compile time)",
    padding_rule=_range_padding,
)


def _one_hot_infer(ctx: InferContext) -> list[TensorType]:
    idx, depth = ctx.types[0], ctx.ints(1)
    dtype = ctx.types[2].dtype
    if idx.shape is None or depth is None:
        return [TensorType(dtype, None)]
    shape = list(idx.shape)
    axis = ctx.attrs["axis"]
    shape.insert(len(shape) if axis == -1 else axis, depth[0])
    return [TensorType(dtype, tuple(shape))]


def _one_hot(xp: Any, a: dict[str, Any], idx: Any, depth: Any, on: Any, off: Any) -> Any:
    d = static_ints(depth, "OneHot's depth")[0]
    axis = a["axis"]
    hot = xp.expand_dims(idx, -1) == xp.arange(d)
    out = xp.where(hot, on, off)
    return out if axis == -1 else xp.moveaxis(out, -1, axis)


def _one_hot_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Indices carry rows into the output; a depth that depends on the size mixes"""
    idx, depth, on, off = ins
    t = node.inputs[0].type
    if any(s.kind != "free" for s in (on, off)):
        return [mixed(node, "on/off values depend on the data")]
    if depth.kind != "free":  # which ids are in range depends on the size
        return [mixed(node, f"one-hot depth depends on the size of {symbol}") if idx.kind == "rows" else SIZE]
    if idx.kind != "rows" or t.shape is None:
        return [idx]
    axis = int(node.attrs.get("axis", -1))
    pos = len(t.shape) if axis < 0 else axis
    return [idx.moved(idx.axis if idx.axis < pos else idx.axis + 1)]


register(
    "OneHot",
    inputs=4,
    attrs=[Attr("axis", "int", -1)],
    infer=_one_hot_infer,
    xp_fn=_one_hot,
    doc="one-hot encoding of indices (out of range: all off)",
    padding_rule=_one_hot_padding,
)
