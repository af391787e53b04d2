"""Sparse feature ops: the ops whose output size depends on the values (``tf.feature_column``'s
sparse path: ``Where``, ``Unique``, ``SparseFillEmptyRows``, ``SparseReshape``,
``SparseSegment*``, ``SparseToDense``), and the detection models' ``NonMaxSuppressionV3/V4/V5``
(V4's padded form has a static shape and a device lowering: its ``device_if``).

XLA needs every shape before it runs, and these ops' outputs have as many rows as the data says
(how many entries are non-zero, how many ids are distinct, how many rows are empty). They carry
the ``host`` trait: the partitioner (`fourier.host.partition`) places them on the host, with what
reads their value-sized outputs, until a value has a batch-determined shape again (the [batch, D]
embedding a feature column reshapes its combined rows into; a ``SparseToDense`` of a known dense
shape) and crosses to the device. Their shape inference writes the value-dependent size as ``?``;
their numpy reference is what the host executor runs, equal to TensorFlow's CPU kernels bit for
bit (a segment's sum is added in TensorFlow's order and scaled as it scales, `_segment_sums`);
their lowering refuses with a message that says so.

TensorFlow's checks are kept: an id outside the data, unsorted segment ids, a row outside the dense
shape, or a reshape that changes the element count raise ``ValueError`` naming the entry.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

import numpy as np

from fourier.host.hashing import fingerprint64
from fourier.ir.core import Node
from fourier.ir.types import UNKNOWN, Dim, TensorType
from fourier.ops.array import static_ints
from fourier.ops.host import expect_input, host_lowering
from fourier.ops.padding import State, mixed
from fourier.ops.registry import Attr, InferContext, register

__all__: list[str] = []

# Pure (CSE may merge two) but never folded: a constant has a fixed shape, these outputs do not.
_HOST_PURE = ("pure", "no_fold", "host", "value_sized")
_INDEX = ("int32", "int64")
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _value_sized(op: str) -> Any:
    return host_lowering(
        op, "the size of its output depends on the values, which XLA must know before it runs"
    )


def _value_sized_rows(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Value-sized: how many rows come out depends on every row's values (a host op)"""
    return [mixed(node, "the size of its output depends on the values (it runs on the host)")] * len(
        node.outputs
    )


def _dim(t: TensorType, axis: int) -> Dim:
    return t.shape[axis] if t.shape is not None and len(t.shape) > axis else UNKNOWN


def _ints(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).astype(np.int64, copy=False)


# -- Where (one argument) ------------------------------------------------------------------------


def _where_infer(ctx: InferContext) -> list[TensorType]:
    t = ctx.types[0]
    return [TensorType("int64", (UNKNOWN, UNKNOWN if t.shape is None else len(t.shape)))]


def _where(attrs: dict[str, Any], x: np.ndarray) -> np.ndarray:
    # Row-major order of the true (non-zero) entries' coordinates, as TensorFlow lists them.
    return np.argwhere(np.asarray(x)).astype(np.int64).reshape(-1, np.ndim(x))


register(
    "Where",
    inputs=1,
    infer=_where_infer,
    reference=_where,
    lower=_value_sized("Where"),
    traits=_HOST_PURE,
    doc="The coordinates [?, rank] of the true (non-zero) entries in row-major order (one argument).",
    padding_rule=_value_sized_rows,
)


# -- Unique --------------------------------------------------------------------------------------


def _unique_infer(ctx: InferContext) -> list[TensorType]:
    t = expect_input(ctx, 0, None, "x", 1)
    if ctx.attrs["out_idx"] not in _INDEX:
        raise ctx.fail(f"out_idx must be int32 or int64, got {ctx.attrs['out_idx']}")
    return [TensorType(t.dtype, (UNKNOWN,)), TensorType(ctx.attrs["out_idx"], t.shape)]


def _unique(attrs: dict[str, Any], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    idx_dtype = np.dtype(attrs["out_idx"])
    if x.size == 0:
        return x.copy(), np.zeros(0, idx_dtype)
    # TensorFlow keeps the order of first occurrence: y[idx] == x.
    values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return values[order], rank[inverse.reshape(-1)].astype(idx_dtype)


register(
    "Unique",
    inputs=1,
    attrs=[Attr("out_idx", "type", "int32")],
    infer=_unique_infer,
    reference=_unique,
    lower=_value_sized("Unique"),
    traits=_HOST_PURE,
    doc="The distinct values y [?] in order of first occurrence, and each entry's index into y.",
    padding_rule=_value_sized_rows,
)


def _unique_v2_infer(ctx: InferContext) -> list[TensorType]:
    t = ctx.types[0]
    axis = ctx.ints(1)
    if ctx.attrs["out_idx"] not in _INDEX:
        raise ctx.fail(f"out_idx must be int32 or int64, got {ctx.attrs['out_idx']}")
    if axis is None or len(axis) > 1:
        raise ctx.fail(f"axis must be known at compile time and hold at most one value, got {axis}")
    if t.shape is None:
        return [TensorType(t.dtype, None), TensorType(ctx.attrs["out_idx"], (UNKNOWN,))]
    if not axis and len(t.shape) != 1:
        raise ctx.fail(f"with no axis x must be 1-D, got {t}")
    ax = axis[0] if axis else 0
    if not -len(t.shape) <= ax < len(t.shape):
        raise ctx.fail(f"axis {ax} out of range for {t}")
    ax %= len(t.shape)
    y = tuple(UNKNOWN if i == ax else d for i, d in enumerate(t.shape))
    return [TensorType(t.dtype, y), TensorType(ctx.attrs["out_idx"], (t.shape[ax],))]


def _unique_v2(attrs: dict[str, Any], x: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, ax_list = np.asarray(x), np.asarray(axis).reshape(-1).tolist()
    ax = int(ax_list[0]) % x.ndim if ax_list else 0
    if x.ndim == 1:
        return _unique(attrs, x)
    # slices along the axis as rows; distinct rows in order of first occurrence, as Unique
    idx_dtype = np.dtype(attrs["out_idx"])
    if x.shape[ax] == 0:
        return x.copy(), np.zeros(0, idx_dtype)
    if x.size == 0:  # every slice is empty, so all are one
        return np.take(x, [0], axis=ax), np.zeros(x.shape[ax], idx_dtype)
    rows = np.moveaxis(x, ax, 0).reshape(x.shape[ax], -1)
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    y = np.take(x, first[order], axis=ax)
    return y, rank[inverse.reshape(-1)].astype(idx_dtype)


register(
    "UniqueV2",
    inputs=2,
    attrs=[Attr("out_idx", "type", "int32")],
    infer=_unique_v2_infer,
    reference=_unique_v2,
    lower=_value_sized("UniqueV2"),
    traits=_HOST_PURE,
    doc="Unique along an axis (known at compile time): the distinct slices in order of first "
    "occurrence, and each slice's index into them.",
    padding_rule=_value_sized_rows,
)


# -- SparseFillEmptyRows -------------------------------------------------------------------------


def _fill_infer(ctx: InferContext) -> list[TensorType]:
    indices = expect_input(ctx, 0, ("int64",), "indices", 2)
    values = expect_input(ctx, 1, None, "values", 1)
    shape = expect_input(ctx, 2, ("int64",), "dense_shape", 1)
    default = expect_input(ctx, 3, (values.dtype,), "default_value")
    if default.shape is not None and default.shape != ():
        raise ctx.fail(f"default_value must be a scalar, got {default}")
    rank = _dim(indices, 1)
    dense = ctx.dims(2)
    rows = dense[0] if dense else UNKNOWN
    n = _dim(indices, 0)
    return [
        TensorType("int64", (UNKNOWN, rank if rank != UNKNOWN else _dim(shape, 0))),
        TensorType(values.dtype, (UNKNOWN,)),
        TensorType("bool", (rows,)),
        TensorType("int64", (n,)),
    ]


def _fill(
    attrs: dict[str, Any],
    indices: np.ndarray,
    values: np.ndarray,
    dense_shape: np.ndarray,
    default: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    indices, dense_shape, values = _ints(indices), _ints(dense_shape), np.asarray(values)
    if indices.ndim != 2 or values.ndim != 1 or len(values) != len(indices):
        raise ValueError(f"indices {indices.shape} and values {values.shape} do not match")
    if np.ndim(default) != 0:
        raise ValueError(f"default_value must be a scalar, got shape {np.shape(default)}")
    if dense_shape.ndim != 1 or len(dense_shape) != indices.shape[1] or len(dense_shape) == 0:
        raise ValueError(
            f"dense_shape {dense_shape.tolist()} does not match indices of shape {indices.shape}"
        )
    n, rank, dense_rows = len(indices), indices.shape[1], int(dense_shape[0])
    rows = indices[:, 0]
    bad = np.flatnonzero((rows < 0) | (rows >= dense_rows))
    if len(bad):
        raise ValueError(
            f"indices[{bad[0]}] = {indices[bad[0]].tolist()} is out of bounds: dense_shape {dense_shape.tolist()}"
        )
    counts = np.bincount(rows, minlength=dense_rows) if n else np.zeros(dense_rows, np.int64)
    empty = counts == 0
    sizes = np.maximum(counts, 1)
    starts = np.cumsum(sizes) - sizes
    # Each row's entries keep their order; an empty row gets one entry [row, 0, ...] = default.
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    first_of_row = np.cumsum(counts) - counts
    where = np.empty(n, np.int64)
    where[order] = starts[sorted_rows] + (np.arange(n) - first_of_row[sorted_rows])
    total = int(sizes.sum()) if dense_rows else 0
    out_indices = np.zeros((total, rank), np.int64)
    out_values = np.empty(total, values.dtype)
    empty_rows = np.flatnonzero(empty)
    out_indices[starts[empty_rows], 0] = empty_rows
    out_values[starts[empty_rows]] = np.asarray(default).reshape(())
    out_indices[where] = indices
    out_values[where] = values
    return out_indices, out_values, empty, where


register(
    "SparseFillEmptyRows",
    inputs=4,
    infer=_fill_infer,
    reference=_fill,
    lower=_value_sized("SparseFillEmptyRows"),
    traits=_HOST_PURE,
    doc="A sparse tensor with default_value at [row, 0, ...] of each empty row (entries grouped by "
    "row, in order); which rows were empty; each entry's new position.",
    padding_rule=_value_sized_rows,
)


# -- SparseReshape -------------------------------------------------------------------------------


def _reshape_infer(ctx: InferContext) -> list[TensorType]:
    indices = expect_input(ctx, 0, ("int64",), "input_indices", 2)
    expect_input(ctx, 1, ("int64",), "input_shape", 1)
    new = expect_input(ctx, 2, ("int64",), "new_shape", 1)
    rank = _dim(new, 0)
    return [TensorType("int64", (_dim(indices, 0), rank)), TensorType("int64", (rank,))]


def _new_shape(shape: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``new`` with its -1 (at most one) resolved so that it holds as many elements as ``shape``."""
    dense = int(np.prod(shape, dtype=np.int64))
    unknown = np.flatnonzero(new == -1)
    if len(unknown) > 1:
        raise ValueError(f"new_shape {new.tolist()} has more than one -1")
    if (new < -1).any():
        raise ValueError(f"new_shape {new.tolist()} has a negative size")
    out = new.copy()
    if len(unknown):
        known = int(np.prod(np.delete(new, unknown), dtype=np.int64))
        if known == 0 or dense % known:
            raise ValueError(f"cannot reshape a sparse tensor of shape {shape.tolist()} to {new.tolist()}")
        out[unknown[0]] = dense // known
    if int(np.prod(out, dtype=np.int64)) != dense:
        raise ValueError(
            f"cannot reshape a sparse tensor of shape {shape.tolist()} ({dense} elements) to {new.tolist()}"
        )
    return out


def _strides(shape: np.ndarray) -> np.ndarray:
    return np.concatenate([np.cumprod(shape[::-1][:-1], dtype=np.int64)[::-1], [1]]).astype(np.int64)


def _sparse_reshape(
    attrs: dict[str, Any], indices: np.ndarray, shape: np.ndarray, new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    indices, shape, new = _ints(indices), _ints(shape), _ints(new)
    if indices.ndim != 2 or indices.shape[1] != len(shape):
        raise ValueError(f"input_indices {indices.shape} do not match input_shape {shape.tolist()}")
    out_shape = _new_shape(shape, new)
    linear = indices @ _strides(shape) if len(shape) else np.zeros(len(indices), np.int64)
    strides = _strides(out_shape)
    out = np.empty((len(indices), len(out_shape)), np.int64)
    for axis, stride in enumerate(strides.tolist()):
        out[:, axis] = linear // stride
        linear = linear - out[:, axis] * stride
    return out, out_shape


register(
    "SparseReshape",
    inputs=3,
    infer=_reshape_infer,
    reference=_sparse_reshape,
    lower=_value_sized("SparseReshape"),
    traits=_HOST_PURE,
    doc="A sparse tensor's indices for a new dense shape (one -1 inferred), and that shape.",
    padding_rule=_value_sized_rows,
)


# -- SparseSegmentSum / Mean / SqrtN (and WithNumSegments) ---------------------------------------


def _segment_infer(ctx: InferContext) -> list[TensorType]:
    data = expect_input(ctx, 0, None if ctx.op.startswith("SparseSegmentSum") else _FLOATS, "data")
    expect_input(ctx, 1, _INDEX, "indices", 1)
    expect_input(ctx, 2, _INDEX, "segment_ids", 1)
    if data.shape is None or not data.shape:
        raise ctx.fail(f"data must have rank 1 or more, got {data}")
    rows: Dim = UNKNOWN  # the last segment id + 1: the values say
    if len(ctx.types) == 4:
        expect_input(ctx, 3, _INDEX, "num_segments", 0)
        known = ctx.dims(3)
        rows = known[0] if known else UNKNOWN
    return [TensorType(data.dtype, (rows, *data.shape[1:]))]


def _segment_sums(rows: np.ndarray, starts: np.ndarray, counts: np.ndarray, kind: str) -> np.ndarray:
    """Each segment's reduction of its consecutive ``rows``, rounded as TensorFlow's CPU kernel
    rounds it: a first block of ``count % 8`` rows (8 when that is 0, 9 when it is 1) summed left
    to right and divided by the count (mean) or its square root (sqrtn) when the count is under
    10, then each further block of 8 summed left to right and added; a count of 10 or more is
    divided at the end. One row is itself."""
    n_seg = len(starts)
    seg = np.repeat(np.arange(n_seg), counts)
    pos = np.arange(len(rows)) - np.repeat(starts, counts)  # position within the segment
    lead = np.where(counts % 8 == 0, 8, np.where(counts % 8 == 1, 9, counts % 8))
    lead = np.minimum(lead, counts)  # one row: a block of one
    blocks = 1 + (counts - lead) // 8
    first = lead[seg]
    block = np.where(pos < first, 0, 1 + (pos - first) // 8)
    in_block = np.where(pos < first, pos, (pos - first) % 8)
    sums = np.zeros((n_seg, int(blocks.max()), *rows.shape[1:]), rows.dtype)
    for p in range(int(in_block.max()) + 1):  # left to right within each block
        at = in_block == p
        sums[seg[at], block[at]] = rows[at] if p == 0 else sums[seg[at], block[at]] + rows[at]
    shape = (-1, *([1] * (rows.ndim - 1)))
    root = np.sqrt(counts.astype(np.float64)).astype(rows.dtype)
    scale = {"Sum": np.ones(n_seg, rows.dtype), "Mean": counts.astype(rows.dtype), "SqrtN": root}[kind]
    small = ((counts > 1) & (counts < 10)).reshape(shape)
    inverse = (np.ones((), rows.dtype) / scale).reshape(shape)  # the first block is multiplied by 1/m
    out = np.where(small, sums[:, 0] * inverse, sums[:, 0])
    for b in range(1, sums.shape[1]):
        out = np.where((b < blocks).reshape(shape), out + sums[:, b], out)
    return np.where((counts >= 10).reshape(shape), out / scale.reshape(shape), out)


def _segment(kind: str) -> Any:
    def reference(
        attrs: dict[str, Any], data: np.ndarray, indices: np.ndarray, segments: np.ndarray, *num: np.ndarray
    ) -> np.ndarray:
        data, indices, segments = np.asarray(data), _ints(indices), _ints(segments)
        if indices.ndim != 1 or segments.shape != indices.shape:
            raise ValueError(
                f"indices {indices.shape} and segment_ids {segments.shape} must be 1-D of one length"
            )
        bad = np.flatnonzero((indices < 0) | (indices >= len(data)))
        if len(bad):
            raise ValueError(f"indices[{bad[0]}] = {indices[bad[0]]} is not in [0, {len(data)})")
        if len(segments) and ((np.diff(segments) < 0).any() or segments[0] < 0):
            raise ValueError("segment ids are not increasing")
        if num:
            rows = int(np.asarray(num[0]))
            if len(segments) and segments[-1] >= rows:
                raise ValueError(f"segment id {segments[-1]} is out of range [0, {rows})")
        else:
            rows = int(segments[-1]) + 1 if len(segments) else 0
        out = np.zeros((rows, *data.shape[1:]), data.dtype)
        if not len(segments):
            return out
        acc = np.float32 if data.dtype.itemsize == 2 and data.dtype.kind in "fV" else data.dtype
        starts = np.flatnonzero(np.concatenate([[True], segments[1:] != segments[:-1]]))
        counts = np.diff(np.append(starts, len(segments)))
        out[segments[starts]] = _segment_sums(data[indices].astype(acc), starts, counts, kind).astype(
            data.dtype
        )
        return out

    return reference


_SEGMENT_DOCS = {
    "Sum": "the sum of data's rows at indices, per segment (segment_ids sorted)",
    "Mean": "the mean of data's rows at indices, per segment (segment_ids sorted; empty: 0)",
    "SqrtN": "the sum of data's rows at indices divided by sqrt(count), per segment (empty: 0)",
}
for _kind, _what in _SEGMENT_DOCS.items():
    for _suffix, _rows in (
        ("", "the last segment id + 1 rows ([?, ...])"),
        ("WithNumSegments", "num_segments rows"),
    ):
        _name = f"SparseSegment{_kind}{_suffix}"
        register(
            _name,
            inputs=4 if _suffix else 3,
            infer=_segment_infer,
            reference=_segment(_kind),
            lower=_value_sized(_name),
            traits=_HOST_PURE,
            doc=f"{_what[0].upper()}{_what[1:]}: {_rows}.",
            padding_rule=_value_sized_rows,
        )


# -- SparseToDense -------------------------------------------------------------------------------


def _to_dense_infer(ctx: InferContext) -> list[TensorType]:
    expect_input(ctx, 0, _INDEX, "sparse_indices")
    shape_t = expect_input(ctx, 1, _INDEX, "output_shape")
    values = expect_input(ctx, 2, None, "sparse_values")
    expect_input(ctx, 3, (values.dtype,), "default_value", 0)
    dims = ctx.dims(1)
    if dims is not None:
        return [TensorType(values.dtype, tuple(dims))]
    rank = _dim(shape_t, 0) if shape_t.shape else 0
    if rank == UNKNOWN:
        return [TensorType(values.dtype, None)]
    return [TensorType(values.dtype, (UNKNOWN,) * int(rank))]


def _to_dense(
    attrs: dict[str, Any], indices: np.ndarray, shape: np.ndarray, values: np.ndarray, default: np.ndarray
) -> np.ndarray:
    indices, shape, values = _ints(indices), _ints(shape).reshape(-1), np.asarray(values)
    if indices.ndim < 2:
        indices = indices.reshape(-1, 1) if len(shape) == 1 or indices.ndim == 0 else indices.reshape(1, -1)
    n = len(indices)
    if values.ndim and len(values) != n:
        raise ValueError(f"{len(values)} sparse values for {n} indices")
    if indices.shape[1] != len(shape):
        raise ValueError(f"indices of rank {indices.shape[1]} for output_shape {shape.tolist()}")
    bad = np.flatnonzero(((indices < 0) | (indices >= shape)).any(axis=1)) if n else np.zeros(0, np.int64)
    if len(bad):
        raise ValueError(
            f"indices[{bad[0]}] = {indices[bad[0]].tolist()} is out of bounds: output_shape {shape.tolist()}"
        )
    linear = indices @ _strides(shape) if len(shape) else np.zeros(n, np.int64)
    if attrs["validate_indices"] and n > 1:
        step = np.diff(linear)
        if (step < 0).any():
            raise ValueError(f"indices[{int(np.flatnonzero(step < 0)[0]) + 1}] is out of order")
        if (step == 0).any():
            raise ValueError(f"indices[{int(np.flatnonzero(step == 0)[0]) + 1}] is repeated")
    out = np.full(int(np.prod(shape, dtype=np.int64)), np.asarray(default).reshape(()), values.dtype)
    out[linear] = values
    return out.reshape(tuple(shape.tolist()))


register(
    "SparseToDense",
    inputs=4,
    attrs=[Attr("validate_indices", "bool", True)],
    infer=_to_dense_infer,
    reference=_to_dense,
    lower=_value_sized("SparseToDense"),
    traits=_HOST_PURE,
    doc="A dense tensor of output_shape: sparse_values at sparse_indices, default_value elsewhere.",
    padding_rule=_value_sized_rows,
)


# -- SparseCross (tf.feature_column's crossed_column) --------------------------------------------

_CROSS_MUL = np.uint64(0xC6A4A7935BD1E995)
_INT64_MAX = np.uint64(2**63 - 1)


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> np.uint64(47))


def fingerprint_cat64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TensorFlow's FingerprintCat64: two 64-bit fingerprints combined into one (uint64)."""
    with np.errstate(over="ignore"):
        out = np.asarray(a, np.uint64) ^ _CROSS_MUL
        out = out ^ (_shift_mix(np.asarray(b, np.uint64) * _CROSS_MUL) * _CROSS_MUL)
        out = out * _CROSS_MUL
        return _shift_mix(_shift_mix(out) * _CROSS_MUL)


def _cross_split(attrs: Any, args: list[Any]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    n = int(attrs["N"])
    return args[:n], args[n : 2 * n], args[2 * n : 3 * n], args[3 * n :]


def _cross_infer(ctx: InferContext) -> list[TensorType]:
    n, dense_types = ctx.attrs["N"], list(ctx.attrs["dense_types"])
    if len(ctx.types) != 3 * n + len(dense_types):
        raise ctx.fail(f"expected {3 * n} sparse and {len(dense_types)} dense inputs, got {len(ctx.types)}")
    if n + len(dense_types) == 0:
        raise ctx.fail("nothing to cross")
    _, values, _, dense = _cross_split(ctx.attrs, list(ctx.types))
    for t in (*values, *dense):
        if t.dtype not in ("string", "int64"):
            raise ctx.fail(f"crossed features must be string or int64, got {t}")
    out = "int64" if ctx.attrs["hashed_output"] else "string"
    if ctx.attrs["out_type"] != out:
        raise ctx.fail(f"out_type must be {out} when hashed_output is {ctx.attrs['hashed_output']}")
    return [TensorType("int64", (UNKNOWN, 2)), TensorType(out, (UNKNOWN,)), TensorType("int64", (2,))]


def _cross_rows(
    indices: np.ndarray, values: np.ndarray, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sparse feature as (its values grouped by row, each row's start, each row's count)."""
    indices = _ints(indices).reshape(-1, 2) if np.size(indices) else np.zeros((0, 2), np.int64)
    rows = indices[:, 0]
    if len(rows) and (rows.min() < 0 or rows.max() >= batch):
        raise ValueError(f"a row index is outside the batch of {batch}")
    order = np.argsort(rows, kind="stable")
    counts = np.bincount(rows, minlength=batch)[:batch] if len(rows) else np.zeros(batch, np.int64)
    return np.asarray(values)[order], np.cumsum(counts) - counts, counts


def _cross(attrs: dict[str, Any], *args: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indices, values, shapes, dense = _cross_split(attrs, list(args))
    batch = int(_ints(shapes[0])[0]) if shapes else int(np.shape(dense[0])[0])
    features = [_cross_rows(i, v, batch) for i, v in zip(indices, values)]
    for d in dense:
        d = np.asarray(d).reshape(batch, -1)
        width = d.shape[1]
        features.append((d.reshape(-1), np.arange(batch) * width, np.full(batch, width, np.int64)))
    counts = np.stack([c for _, _, c in features], axis=1).astype(np.int64)
    per_row = np.prod(counts, axis=1)
    total = int(per_row.sum())
    row = np.repeat(np.arange(batch), per_row)
    k = np.arange(total) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    stride = np.ones_like(counts)  # the first feature varies slowest, the last fastest
    for f in range(counts.shape[1] - 2, -1, -1):
        stride[:, f] = stride[:, f + 1] * counts[:, f + 1]
    at = []  # per feature, which of its values each combination takes
    for f, (_, starts, _) in enumerate(features):
        local = (k // stride[row, f]) % np.maximum(counts[row, f], 1)
        at.append(starts[row] + local if total else np.zeros(0, np.int64))
    out_indices = np.stack([row, k], axis=1).astype(np.int64).reshape(-1, 2)
    shape = np.array([batch, int(per_row.max()) if batch else 0], np.int64)
    if attrs["hashed_output"]:
        h = np.full(total, np.uint64(attrs["hash_key"] % 2**64), np.uint64)
        for (vals, _, _), where in zip(features, at):
            # each value hashed once: a string by Fingerprint64, an integer as its own 64 bits
            fp = fingerprint64(vals) if vals.dtype == object else _ints(vals).view(np.uint64)
            h = fingerprint_cat64(h, fp[where])
        buckets = np.uint64(attrs["num_buckets"]) if attrs["num_buckets"] > 0 else _INT64_MAX
        return out_indices, (h % buckets).astype(np.int64), shape
    picked = [vals[where] for (vals, _, _), where in zip(features, at)]

    def text(x: Any) -> bytes:
        return x if isinstance(x, bytes) else str(int(x)).encode()

    joined = [b"_X_".join(text(p[i]) for p in picked) for i in range(total)]
    out = np.empty(total, dtype=object)
    out[:] = joined
    return out_indices, out, shape


register(
    "SparseCross",
    inputs=(1, None),
    attrs=[
        Attr("N", "int"),
        Attr("hashed_output", "bool"),
        Attr("num_buckets", "int"),
        Attr("hash_key", "int"),
        Attr("sparse_types", "types"),
        Attr("dense_types", "types"),
        Attr("out_type", "type"),
        Attr("internal_type", "type"),
    ],
    infer=_cross_infer,
    reference=_cross,
    lower=_value_sized("SparseCross"),
    traits=_HOST_PURE,
    doc="Per row, every combination of the features' values (first feature slowest), as "
    "FingerprintCat64-hashed buckets or strings joined by _X_ (crossed_column).",
    padding_rule=_value_sized_rows,
)


# -- NonMaxSuppressionV3 / V4 / V5 ----------------------------------------------------------------

_NMS_TYPES = ("float16", "float32")


def _nms_infer(ctx: InferContext) -> list[TensorType]:
    boxes = expect_input(ctx, 0, _NMS_TYPES, "boxes", 2)
    scores = expect_input(ctx, 1, (boxes.dtype,), "scores", 1)
    expect_input(ctx, 2, ("int32",), "max_output_size", 0)
    names = ["iou_threshold", "score_threshold", "soft_nms_sigma"]
    for i in range(3, len(ctx.types)):
        expect_input(ctx, i, _NMS_TYPES, names[i - 3], 0)
    if boxes.shape is not None and boxes.shape[1] not in (4, UNKNOWN):
        raise ctx.fail(f"boxes must be [num_boxes, 4], got {boxes}")
    if boxes.shape is not None and scores.shape is not None:
        n, m = boxes.shape[0], scores.shape[0]
        if isinstance(n, int) and isinstance(m, int) and n != m:
            raise ctx.fail(f"{n} boxes and {m} scores")
    rows: Dim = UNKNOWN  # how many survive: the values say
    size = ctx.ints(2)
    if ctx.attrs.get("pad_to_max_output_size", False) and size is not None:
        rows = max(size[0], 0)
    out = [TensorType("int32", (rows,))]
    if ctx.op == "NonMaxSuppressionV5":
        out.append(TensorType(boxes.dtype, (rows,)))
    if ctx.op != "NonMaxSuppressionV3":
        out.append(TensorType("int32", ()))
    return out


def _iou(corners: np.ndarray, area: np.ndarray, i: int, j: int) -> np.float32:
    """Intersection over union of boxes i and j in float32, as TensorFlow computes it (0 when
    either box has no area)."""
    if area[i] <= 0 or area[j] <= 0:
        return np.float32(0)
    lo = np.maximum(corners[i, :2], corners[j, :2])
    hi = np.minimum(corners[i, 2:], corners[j, 2:])
    side = np.maximum(hi - lo, np.float32(0))
    inter = side[0] * side[1]
    return np.float32(inter / (area[i] + area[j] - inter))


def _nms(
    attrs: dict[str, Any],
    boxes: np.ndarray,
    scores: np.ndarray,
    max_output_size: np.ndarray,
    iou_threshold: np.ndarray,
    score_threshold: np.ndarray,
    soft_nms_sigma: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy selection as TensorFlow's kernel makes it: (indices, their scores, how many).

    Candidates above score_threshold leave a queue by score, the lower index first on ties; one
    is compared with the boxes selected since it was last looked at, newest first, and dropped as
    soon as its IoU with one exceeds iou_threshold. Under soft-NMS (sigma > 0) nothing is dropped
    that way: each comparison scales the score by exp(-0.5 * iou^2 / sigma) instead, and a decayed
    candidate still above score_threshold goes back into the queue with its new score. IoUs are
    computed in float32 (as TensorFlow's kernel does for float16 boxes too), then rounded to the
    dtype; the decay, the scores and the thresholds are in the dtype."""
    boxes, scores = np.asarray(boxes), np.asarray(scores)
    t, f = boxes.dtype.type, np.float32
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
        raise ValueError(f"boxes {boxes.shape} must be [num_boxes, 4] and scores {scores.shape} [num_boxes]")
    limit = int(np.asarray(max_output_size))
    if limit < 0:
        raise ValueError(f"max_output_size {limit} is negative")
    thr, floor = t(np.asarray(iou_threshold)), t(np.asarray(score_threshold))
    if not 0 <= thr <= 1:
        raise ValueError(f"iou_threshold {float(thr)} is not in [0, 1]")
    sigma = t(0) if soft_nms_sigma is None else t(np.asarray(soft_nms_sigma))
    if sigma < 0:
        raise ValueError(f"soft_nms_sigma {float(sigma)} is negative")
    soft = bool(sigma > 0)
    scale = t(t(-0.5) / sigma) if soft else t(0)
    b = boxes.astype(f)
    corners = np.concatenate([np.minimum(b[:, 0:2], b[:, 2:4]), np.maximum(b[:, 0:2], b[:, 2:4])], axis=1)
    area = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    # (-score, index) orders the queue; each entry carries its score and the first selection it
    # has not been compared with yet
    queue = [(-float(scores[i]), i, scores[i], 0) for i in range(len(scores)) if scores[i] > floor]
    heapq.heapify(queue)
    chosen: list[int] = []
    chosen_scores: list[np.floating] = []
    while queue and len(chosen) < limit:
        _, i, score, begin = heapq.heappop(queue)
        original, suppressed = score, False
        for j in range(len(chosen) - 1, begin - 1, -1):
            sim = _iou(corners, area, i, chosen[j])
            if not soft and sim > thr:
                suppressed = True
                break
            if soft:  # expf, then rounded to the dtype
                s = t(sim)
                score = t(score * t(f(np.exp(np.float64(t(t(scale * s) * s))))))
                if score <= floor:
                    break
        if suppressed:
            continue
        if score == original:
            chosen.append(i)
            chosen_scores.append(score)
        elif score > floor:
            heapq.heappush(queue, (-float(score), i, score, len(chosen)))
    valid = len(chosen)
    if attrs.get("pad_to_max_output_size", False):
        chosen += [0] * (limit - valid)
        chosen_scores += [t(0)] * (limit - valid)
    return (
        np.asarray(chosen, np.int32),
        np.asarray(chosen_scores, boxes.dtype).reshape(-1),
        np.asarray(valid, np.int32),
    )


def _nms_selects(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Selects among all boxes: any indexed input mixes (a host op)"""
    if all(s.kind == "free" for s in ins):
        return [State("free")] * len(node.outputs)
    return _value_sized_rows(node, ins, symbol)


def _nms_v3(attrs: dict[str, Any], *args: np.ndarray) -> np.ndarray:
    return _nms(attrs, *args)[0]


def _nms_v4(attrs: dict[str, Any], *args: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    indices, _, valid = _nms(attrs, *args)
    return indices, valid


def _padded(attrs: Mapping[str, Any]) -> bool:
    return bool(attrs.get("pad_to_max_output_size", False))


def _nms_v4_lower(attrs: dict[str, Any], *args: Any) -> Any:
    """The padded form on the device: the same greedy choice over the boxes in queue order (score,
    then index), a box kept when it scores above score_threshold, fewer than max_output_size are
    kept, and its IoU with none of them exceeds iou_threshold."""
    if not _padded(attrs):
        return _value_sized("NonMaxSuppressionV4")(attrs)
    boxes, scores, max_output_size, iou_threshold, score_threshold = args
    import jax.numpy as jnp
    from jax import lax

    limit = max(static_ints(max_output_size, "NonMaxSuppressionV4's max_output_size")[0], 0)
    if limit == 0 or boxes.shape[0] == 0:
        return jnp.zeros(limit, jnp.int32), jnp.int32(0)
    t, f = boxes.dtype, jnp.float32
    thr = jnp.asarray(iou_threshold).astype(t).astype(f)
    floor = jnp.asarray(score_threshold).astype(t).astype(f)
    b, s = boxes.astype(f), scores.astype(f)
    lo, hi = jnp.minimum(b[:, :2], b[:, 2:]), jnp.maximum(b[:, :2], b[:, 2:])
    area = (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])
    side = jnp.maximum(jnp.minimum(hi[:, None], hi[None]) - jnp.maximum(lo[:, None], lo[None]), f(0))
    inter = side[..., 0] * side[..., 1]
    solid = (area[:, None] > 0) & (area[None, :] > 0)
    overlap = jnp.where(solid, inter / jnp.where(solid, area[:, None] + area[None, :] - inter, 1), 0) > thr
    order = jnp.argsort(-s, stable=True)

    def step(k: Any, state: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        kept, count, out = state
        i = order[k]
        ok = (s[i] > floor) & (count < limit) & ~jnp.any(kept & overlap[i])
        out = out.at[jnp.where(ok, count, limit)].set(i.astype(jnp.int32), mode="drop")  # limit: dropped
        return kept.at[i].set(ok), count + ok.astype(jnp.int32), out

    state = (jnp.zeros(b.shape[0], bool), jnp.int32(0), jnp.zeros(limit, jnp.int32))
    _, count, out = lax.fori_loop(0, b.shape[0], step, state)
    return out, count


_NMS_ATTRS = [Attr("T", "type", "float32"), Attr("T_threshold", "type", "float32")]
_PAD = Attr("pad_to_max_output_size", "bool", False)
register(
    "NonMaxSuppressionV3",
    inputs=5,
    attrs=_NMS_ATTRS,
    infer=_nms_infer,
    reference=_nms_v3,
    lower=_value_sized("NonMaxSuppressionV3"),
    traits=_HOST_PURE,
    doc="Greedy non-max suppression: the indices [?] of the boxes kept, best score first (boxes "
    "overlapping a kept one by IoU > iou_threshold, or scoring <= score_threshold, dropped).",
    padding_rule=_nms_selects,
)
register(
    "NonMaxSuppressionV4",
    inputs=5,
    attrs=[*_NMS_ATTRS, _PAD],
    infer=_nms_infer,
    reference=_nms_v4,
    lower=_nms_v4_lower,
    traits=_HOST_PURE,
    device_if=_padded,  # a static [max_output_size]: the device runs it
    doc="NonMaxSuppressionV3's indices and how many are valid; with pad_to_max_output_size, "
    "max_output_size indices, zeros after the valid ones (a static shape: that form runs on the device).",
    padding_rule=_nms_selects,
)
register(
    "NonMaxSuppressionV5",
    inputs=6,
    attrs=[Attr("T", "type", "float32"), _PAD],
    infer=_nms_infer,
    reference=_nms,
    lower=_value_sized("NonMaxSuppressionV5"),
    traits=_HOST_PURE,
    doc="Non-max suppression; with soft_nms_sigma > 0, soft-NMS (scores decayed by exp(-0.5 iou^2 / "
    "sigma), nothing dropped by IoU): the indices kept, their scores, and how many are valid "
    "(pad_to_max_output_size as V4).",
    padding_rule=_nms_selects,
)
