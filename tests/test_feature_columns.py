"""Sparse feature ops (`fourier.ops.sparse`) and a ``tf.feature_column`` model served end to end.

Before: the sparse ops on hand-made cases (empty rows, all-empty batches, unordered entries, gaps
between segments, repeated ids); the feature-column SavedModels of
`fourier.testing.feature_columns` (hash-bucket embeddings with combiners mean and sqrtn, a
vocabulary list with out-of-vocabulary buckets as an embedding and an indicator, an identity
column, a crossed column, a bucketized and numeric columns, a DNN), as a TF1 ``input_layer`` graph
and as Keras ``DenseFeatures``.
Expected: every sparse op's numpy reference equals ``tf.raw_ops`` bit for bit (floats included:
the segment reductions sum and scale in TensorFlow's order, 16-bit floats in float32) and refuses
what TensorFlow refuses; the partition runs the
sparse part on the host and sends only per-row values ([N, D] embeddings, an [N, 2] dense id
matrix) to the device; ``fourier.compile(..., buckets=[32, 64, 128])`` serves it matching TensorFlow
at batches 1, 7, 33, 128, 300 (rtol 1e-4, atol 1e-5; empty, non-ASCII and out-of-vocabulary
strings, rows with only empty strings, a request without a single id), through a Batcher from 8
threads, and from a process that cannot import TensorFlow.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.errors import CompileError, InputShapeError
from fourier.host.extract import load_model
from fourier.host.partition import DEVICE, HOST, partition
from fourier.ir.core import Graph, Value
from fourier.ops.registry import get_op
from fourier.testing.feature_columns import NAMES, ensure_feature_columns, random_requests
from fourier.testing.preprocessing import PreprocessingModel
from tests._serve import serve_without_tensorflow

tf = pytest.importorskip("tensorflow")

SPARSE = (
    "Where",
    "Unique",
    "UniqueV2",
    "SparseFillEmptyRows",
    "SparseReshape",
    "SparseSegmentSum",
    "SparseSegmentMean",
    "SparseSegmentSqrtN",
    "SparseSegmentSumWithNumSegments",
    "SparseSegmentMeanWithNumSegments",
    "SparseSegmentSqrtNWithNumSegments",
    "SparseToDense",
    "SparseCross",
)
COVERED = set(SPARSE)  # reference vs TensorFlow here (they have no lowering to compare with)
RTOL, ATOL = 1e-4, 1e-5  # the served model against TensorFlow (the ops themselves: bit-exact)


def _obj(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _ref(op: str, *args: Any, **attrs: Any) -> list[np.ndarray]:
    out = get_op(op).reference(attrs, *[np.asarray(a) if not isinstance(a, np.ndarray) else a for a in args])
    return [np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))]


def _same(got: list[np.ndarray], want: Any) -> None:
    want = [want] if not isinstance(want, (list, tuple)) else list(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = w.numpy() if hasattr(w, "numpy") else np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        if w.dtype == object:
            assert g.tolist() == w.tolist()
        else:
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w)  # floats too: the same sums in the same order


RNG = np.random.default_rng(18)
DATA = RNG.normal(size=(10, 3)).astype(np.float32)
SEGMENT_CASES = [  # (indices, segment ids, num_segments)
    ([0, 3, 3, 9, 1, 2], [0, 0, 1, 3, 3, 5], 7),  # gaps, a repeated id, trailing empty segments
    ([4], [0], 1),
    ([], [], 3),  # no ids: all segments empty
    ([5, 5, 5, 5, 0, 1, 2], [2, 2, 2, 2, 2, 2, 2], 3),
]


def test_where_and_unique_equal_tensorflow() -> None:
    for x in (
        RNG.random((4, 3)) < 0.4,
        np.zeros((3, 2), bool),
        np.zeros((0, 5), bool),
        (RNG.integers(0, 3, (2, 3, 4))).astype(np.float32),
        RNG.integers(-1, 2, 7).astype(np.int64),
    ):
        _same(_ref("Where", x), tf.raw_ops.Where(condition=x))
    for x in (
        np.array([5, 1, 5, 2, 1, 9, 0], np.int64),
        np.array([], np.int64),
        np.array([3, 3, 3], np.int32),
        _obj([b"b", b"a", b"", b"b", "日本".encode()]),
    ):
        for out_idx in ("int32", "int64"):
            want = tf.raw_ops.Unique(
                x=tf.constant(x.tolist(), dtype=tf.string if x.dtype == object else x.dtype),
                out_idx=tf.as_dtype(out_idx),
            )
            _same(_ref("Unique", x, out_idx=out_idx), want)
    for x, axis in (
        (np.array([5, 1, 5, 2, 1], np.int64), [0]),
        (np.array([4.0, -1.0, 4.0], np.float32), [-1]),
        (np.array([], np.int32), []),
        (np.array([[1, 2], [3, 4], [1, 2], [0, 0]], np.int32), [0]),  # distinct rows
        (np.array([[1, 3, 1], [2, 4, 2]], np.int64), [1]),  # distinct columns
        (np.zeros((0, 3), np.float32), [0]),
        (np.zeros((3, 0), np.float32), [0]),
    ):
        for out_idx in ("int32", "int64"):
            want = tf.raw_ops.UniqueV2(x=x, axis=np.array(axis, np.int64), out_idx=tf.as_dtype(out_idx))
            _same(_ref("UniqueV2", x, np.array(axis, np.int64), out_idx=out_idx), want)


def test_sparse_fill_empty_rows_equals_tensorflow() -> None:
    cases = [
        ([[0, 1], [0, 3], [2, 0], [4, 2]], [10, 11, 12, 13], [6, 4]),  # empty rows 1, 3, 5
        ([[3, 0], [1, 1], [3, 1], [0, 0]], [1, 2, 3, 4], [4, 2]),  # unordered rows, row 2 empty
        ([[0, 0], [1, 0], [2, 1]], [7, 8, 9], [3, 2]),  # no empty row
        (np.zeros((0, 2), np.int64), [], [5, 4]),  # an all-empty batch
        (np.zeros((0, 2), np.int64), [], [0, 4]),  # no rows at all
    ]
    for indices, values, shape in cases:
        idx = np.asarray(indices, np.int64).reshape(-1, 2)
        for vals, default in (
            (np.asarray(values, np.int64), np.int64(-1)),
            (np.asarray(values, np.float32), np.float32(0.5)),
        ):
            want = tf.raw_ops.SparseFillEmptyRows(
                indices=idx, values=vals, dense_shape=np.asarray(shape, np.int64), default_value=default
            )
            _same(_ref("SparseFillEmptyRows", idx, vals, np.asarray(shape, np.int64), default), list(want))
    strings = _obj([b"x", "é".encode(), b""])
    idx = np.array([[2, 0], [0, 1], [2, 1]], np.int64)
    want = tf.raw_ops.SparseFillEmptyRows(
        indices=idx,
        values=tf.constant(strings.tolist()),
        dense_shape=np.array([4, 2], np.int64),
        default_value=b"?",
    )
    _same(
        _ref("SparseFillEmptyRows", idx, strings, np.array([4, 2], np.int64), np.array(b"?", dtype=object)),
        list(want),
    )
    with pytest.raises(ValueError, match="out of bounds"):
        _ref(
            "SparseFillEmptyRows",
            np.array([[5, 0]], np.int64),
            np.array([1], np.int64),
            np.array([3, 2], np.int64),
            np.int64(0),
        )


def test_sparse_reshape_equals_tensorflow() -> None:
    idx3 = np.array([[0, 0, 1], [1, 2, 3], [2, 1, 0], [2, 2, 3]], np.int64)
    for indices, shape, new in (
        (idx3, [3, 3, 4], [9, -1]),
        (idx3, [3, 3, 4], [-1, 4]),
        (idx3, [3, 3, 4], [36]),
        (idx3[:, :2], [3, 3], [9, 1]),
        (np.zeros((0, 2), np.int64), [5, 4], [20, -1]),
    ):
        args = (indices, np.asarray(shape, np.int64), np.asarray(new, np.int64))
        want = tf.raw_ops.SparseReshape(input_indices=args[0], input_shape=args[1], new_shape=args[2])
        _same(_ref("SparseReshape", *args), list(want))
    for new, match in (([5, 5], "cannot reshape"), ([-1, -1], "more than one")):
        with pytest.raises(ValueError, match=match):
            _ref("SparseReshape", idx3, np.array([3, 3, 4], np.int64), np.array(new, np.int64))


@pytest.mark.parametrize("kind", ["Sum", "Mean", "SqrtN"])
def test_sparse_segment_reductions_equal_tensorflow(kind: str) -> None:
    for indices, segments, num in SEGMENT_CASES:
        for itype in (np.int32, np.int64):
            i, s = np.asarray(indices, itype), np.asarray(segments, itype)
            plain = getattr(tf.raw_ops, f"SparseSegment{kind}")(data=DATA, indices=i, segment_ids=s)
            _same(_ref(f"SparseSegment{kind}", DATA, i, s), plain)
            counted = getattr(tf.raw_ops, f"SparseSegment{kind}WithNumSegments")(
                data=DATA, indices=i, segment_ids=s, num_segments=np.int32(num)
            )
            _same(_ref(f"SparseSegment{kind}WithNumSegments", DATA, i, s, np.int32(num)), counted)
    data64 = DATA.astype(np.float64)[:, 0]  # rank-1 data, float64
    i, s = np.array([1, 2, 2, 7]), np.array([0, 0, 2, 2])
    _same(
        _ref(f"SparseSegment{kind}", data64, i, s),
        getattr(tf.raw_ops, f"SparseSegment{kind}")(data=data64, indices=i, segment_ids=s),
    )
    with pytest.raises(ValueError, match="not in"):
        _ref(f"SparseSegment{kind}", DATA, np.array([10]), np.array([0]))
    with pytest.raises(ValueError, match="not increasing"):
        _ref(f"SparseSegment{kind}", DATA, np.array([1, 2]), np.array([1, 0]))


def test_sparse_segment_reductions_are_bit_exact_on_random_cases() -> None:
    """Before: 100 random cases per dtype (up to 200 ids, segments of every count 0..~60, so every
    first-block size and the count >= 10 path). Expected: TensorFlow's bits, every one."""
    import ml_dtypes

    rng = np.random.default_rng(7)
    dtypes = (np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.int32, np.int64)
    for dtype in dtypes:
        for case in range(100):
            data = (rng.normal(size=(50, 3)) * 5).astype(dtype)
            k = int(rng.integers(0, 200))
            i = rng.integers(0, 50, k)
            s = np.sort(rng.integers(0, 1 + case % 30, k)).astype(np.int32)
            kinds = ("Sum",) if np.dtype(dtype).kind == "i" else ("Sum", "Mean", "SqrtN")
            for kind in kinds:
                want = getattr(tf.raw_ops, f"SparseSegment{kind}")(data=data, indices=i, segment_ids=s)
                _same(_ref(f"SparseSegment{kind}", data, i, s), want)
                num = np.int64(int(s[-1]) + 3 if k else 2)
                want = getattr(tf.raw_ops, f"SparseSegment{kind}WithNumSegments")(
                    data=data, indices=i, segment_ids=s, num_segments=num
                )
                _same(_ref(f"SparseSegment{kind}WithNumSegments", data, i, s, num), want)


def test_sparse_to_dense_equals_tensorflow() -> None:
    idx = np.array([[0, 1], [1, 0], [2, 3]], np.int64)
    for values, default in ((np.array([4, 5, 6], np.int64), np.int64(-1)), (np.float32(2.5), np.float32(0))):
        want = tf.raw_ops.SparseToDense(
            sparse_indices=idx,
            output_shape=np.array([3, 4], np.int64),
            sparse_values=values,
            default_value=default,
        )
        _same(
            _ref("SparseToDense", idx, np.array([3, 4], np.int64), values, default, validate_indices=True),
            want,
        )
    want = tf.raw_ops.SparseToDense(
        sparse_indices=np.array([3, 0], np.int32),
        output_shape=np.array([5], np.int32),
        sparse_values=np.int64(1),
        default_value=np.int64(0),
        validate_indices=False,
    )
    _same(
        _ref(
            "SparseToDense",
            np.array([3, 0], np.int32),
            np.array([5], np.int32),
            np.int64(1),
            np.int64(0),
            validate_indices=False,
        ),
        want,
    )
    for bad, match in ((idx[::-1], "out of order"), (idx[[0, 0, 1]], "repeated"), (idx + 3, "out of bounds")):
        with pytest.raises(ValueError, match=match):
            _ref(
                "SparseToDense",
                bad,
                np.array([3, 4], np.int64),
                np.array([1, 2, 3], np.int64),
                np.int64(0),
                validate_indices=True,
            )


def test_sparse_tensor_ops_equal_tensorflow_on_random_cases() -> None:
    """Before: 60 random sparse tensors (dense shapes up to [12, 5], 0..40 entries, unordered,
    duplicates, all rows empty). Expected: Where, Unique, SparseFillEmptyRows, SparseReshape and
    SparseToDense give TensorFlow's outputs exactly."""
    rng = np.random.default_rng(11)
    for case in range(60):
        shape = np.array([rng.integers(0, 13), rng.integers(1, 6)], np.int64)
        dense = (rng.random(shape) < rng.random()) * rng.integers(1, 9, shape)
        _same(_ref("Where", dense), tf.raw_ops.Where(condition=dense))
        ids = rng.integers(0, 1 + case % 9, int(rng.integers(0, 40)))
        _same(_ref("Unique", ids, out_idx="int64"), tf.raw_ops.Unique(x=ids, out_idx=tf.int64))
        where = np.argwhere(dense).astype(np.int64)
        idx = where[rng.permutation(len(where))] if case % 2 else where
        vals = rng.normal(size=len(idx)).astype(np.float32)
        args = (idx, vals, shape, np.float32(-2))
        want = tf.raw_ops.SparseFillEmptyRows(indices=idx, values=vals, dense_shape=shape, default_value=-2.0)
        _same(_ref("SparseFillEmptyRows", *args), list(want))
        new = np.array([-1, int(shape[1])] if case % 3 else [int(shape.prod())], np.int64)
        want = tf.raw_ops.SparseReshape(input_indices=idx, input_shape=shape, new_shape=new)
        _same(_ref("SparseReshape", idx, shape, new), list(want))
        want = tf.raw_ops.SparseToDense(
            sparse_indices=where, output_shape=shape, sparse_values=vals, default_value=np.float32(0.5)
        )
        _same(_ref("SparseToDense", where, shape, vals, np.float32(0.5), validate_indices=True), want)


def test_sparse_cross_equals_tensorflow_on_random_cases() -> None:
    """Before: 100 random crosses of 0-2 sparse and 0-2 dense features (string or int64; empty
    rows, empty and non-ASCII strings, negative ids), hashed (FingerprintCat64 chains, modulo
    num_buckets or 2^63 - 1) and joined as strings. Expected: TensorFlow's outputs exactly."""
    rng = np.random.default_rng(5)
    words = _obj([b"a", b"bb", "é".encode(), b"", b"xyz", "東京".encode()])
    for case in range(100):
        batch, n_sparse = int(rng.integers(1, 6)), int(rng.integers(0, 3))
        n_dense = int(rng.integers(0 if n_sparse else 1, 3))
        strings = case % 2 == 1
        indices, values, shapes, dense = [], [], [], []
        for _ in range(n_sparse):
            idx = np.argwhere(rng.random((batch, 3)) < 0.5).astype(np.int64)
            n = len(idx)
            values.append(words[rng.integers(0, 6, n)] if strings else rng.integers(-5, 2**40, n))
            indices.append(idx)
            shapes.append(np.array([batch, 3], np.int64))
        for _ in range(n_dense):
            shape = (batch, int(rng.integers(1, 3)))
            dense.append(words[rng.integers(0, 6, shape)] if strings else rng.integers(-5, 100, shape))
        kind = "string" if strings else "int64"

        def tf_value(x: np.ndarray) -> Any:
            return tf.constant(x.tolist(), dtype=tf.string) if x.dtype == object else tf.constant(x)

        for hashed in (True, False):
            attrs = {
                "N": n_sparse,
                "hashed_output": hashed,
                "num_buckets": int(rng.integers(0, 50)) if hashed else 0,
                "hash_key": 0xDECAFCAFFE if hashed else 0,
                "sparse_types": [kind] * n_sparse,
                "dense_types": [kind] * n_dense,
                "out_type": "int64" if hashed else "string",
                "internal_type": kind,
            }
            want = tf.raw_ops.SparseCross(
                indices=indices,
                values=[tf_value(v) for v in values],
                shapes=shapes,
                dense_inputs=[tf_value(d) for d in dense],
                hashed_output=hashed,
                num_buckets=attrs["num_buckets"],
                hash_key=attrs["hash_key"],
                out_type=tf.int64 if hashed else tf.string,
                internal_type=tf.string if strings else tf.int64,
            )
            got = get_op("SparseCross").reference(attrs, *indices, *values, *shapes, *dense)
            _same([np.asarray(g) for g in got], list(want))


def test_sparse_ops_are_host_ops_whose_lowering_refuses() -> None:
    for op in SPARSE:
        d = get_op(op)
        assert {"host", "value_sized"} <= d.traits and d.family == "sparse", op
        with pytest.raises(CompileError, match=f"{op} runs on the host only .*depends on the values"):
            d.lower({})


# -- the partition of value-sized ops -------------------------------------------------------------


def _bag_graph(fill: bool, num_segments: bool = False) -> Graph:
    """ids string[N, 3] -> ids present (Where) -> hashed -> mean of a table's rows per row -> MatMul."""
    g = Graph()

    def const(name: str, value: Any) -> Value:
        return g.add_node("Const", [], {"value": np.asarray(value)}, name=name).output

    x = g.add_node("Placeholder", [], {"dtype": "string", "shape": ("N", 3)}, name="ids").output
    empty = np.empty((), dtype=object)
    empty[()] = b""
    present = g.add_node("NotEqual", [x, const("empty", empty)], name="present").output
    where = g.add_node("Where", [present], name="where").output
    words = g.add_node("GatherNd", [x, where], name="words").output
    hashed = g.add_node("StringToHashBucketFast", [words], {"num_buckets": 20}, name="hashed").output
    shape = g.add_node("Shape", [x], {"out_type": "int64"}, name="dense_shape").output
    indices, values = where, hashed
    if fill:
        filled = g.add_node(
            "SparseFillEmptyRows", [where, hashed, shape, const("zero", np.int64(0))], name="fill"
        )
        indices, values = filled.outputs[0], filled.outputs[1]
    rows = g.add_node(
        "GatherV2", [indices, const("col", np.int64(0)), const("axis", np.int64(1))], name="rows"
    )
    table = const("table", np.arange(80, dtype=np.float32).reshape(20, 4) / 10)
    if num_segments:
        n = g.add_node(
            "GatherV2", [shape, const("first", np.int64(0)), const("axis0", np.int64(0))], name="n"
        )
        inputs = [table, values, rows.output, n.output]
        bag = g.add_node("SparseSegmentMeanWithNumSegments", inputs, name="bag").output
    else:
        bag = g.add_node("SparseSegmentMean", [table, values, rows.output], name="bag").output
    w = const("w", np.ones((4, 2), np.float32))
    g.set_outputs([("y", g.add_node("MatMul", [bag, w], name="dense").output)])
    return g


def test_a_segment_mean_over_filled_rows_crosses_per_row() -> None:
    """Before: ids -> Where -> hash -> SparseFillEmptyRows -> SparseSegmentMean (inferred
    float32[?,4]: the largest row id + 1) -> MatMul.
    Expected: the probes find the mean's rows are the batch (every row is filled): it crosses as
    float32[N,4] and the MatMul runs on the device."""
    plan = partition(_bag_graph(fill=True))
    assert plan.placement["dense"] == DEVICE
    assert [(c.value.name, str(c.type)) for c in plan.crossings] == [("%bag", "float32[N,4]")]
    assert plan.device is not None and str(plan.device.outputs[0][1].type) == "float32[N,2]"


def test_a_segment_mean_with_num_segments_needs_no_probe() -> None:
    """Before: the same without the fill, the mean WithNumSegments = the batch (Shape(ids)[0]).
    Expected: inferred float32[N,4]; it crosses, the MatMul on the device."""
    g = _bag_graph(fill=False, num_segments=True)
    bag = next(n for n in g.nodes if n.name == "bag")
    assert str(bag.output.type) == "float32[N,4]"
    plan = partition(g)
    assert plan.placement["dense"] == DEVICE and [str(c.type) for c in plan.crossings] == ["float32[N,4]"]


def test_a_value_sized_result_never_reaches_the_device() -> None:
    """Before: SparseSegmentMean without the fill: trailing rows without ids are dropped, so its
    row count depends on the data (the all-empty probe gives 0 rows).
    Expected: not per-row: the MatMul reading it stays on the host, with the reason; nothing is
    left for the device."""
    plan = partition(_bag_graph(fill=False))
    assert plan.placement["dense"] == HOST
    assert plan.reasons["dense"] == "reads %bag, whose size depends on the values"
    assert plan.device is None


# -- the feature-column model --------------------------------------------------------------------


@pytest.fixture(scope="module", params=NAMES)
def model(request: pytest.FixtureRequest) -> PreprocessingModel:
    return ensure_feature_columns(request.param)


@pytest.fixture(scope="module")
def oracle(model: PreprocessingModel) -> Any:
    loaded = tf.saved_model.load(str(model.path))
    fn = loaded.signatures["serving_default"]
    fn._keep = loaded  # type: ignore[attr-defined]  # the signature's variables live with the object
    return fn


def _want(oracle: Any, request: dict[str, np.ndarray]) -> np.ndarray:
    feeds = {}
    for k, v in request.items():
        if v.dtype == object:  # TensorFlow takes bytes; the request mixes str and bytes
            v = np.vectorize(lambda s: s if isinstance(s, bytes) else s.encode("utf-8"), otypes=[object])(v)
        feeds[k] = tf.constant(v)
    return oracle(**feeds)["score"].numpy()


def test_partition_sends_only_per_row_values_to_the_device(model: PreprocessingModel) -> None:
    """Expected: every sparse op on the host; the crossings are the five embeddings [N, D] and the
    indicator's dense ids [N, 2] (no dense shape: the identity column's Shape(slots) could run on
    the device, but a host-made shape must not cross); the DNN and the bucketized age on the
    device."""
    imported = load_model(model.path)
    plan = partition(imported.graph, imported.tables)
    ops = {n.op: plan.placement[n.name] for n in imported.graph.nodes if n.name in plan.placement}
    for op in (
        "Where",
        "Unique",
        "SparseFillEmptyRows",
        "SparseReshape",
        "SparseSegmentMean",
        "SparseSegmentSqrtN",
        "SparseSegmentSum",
        "SparseToDense",
        "SparseCross",
        "LookupTableSizeV2",
    ):
        assert ops[op] == HOST, op
    for op in ("MatMul", "Bucketize", "OneHot", "Sigmoid"):
        assert ops[op] == DEVICE, op
    assert sorted(str(c.type) for c in plan.crossings) == [
        "float32[N,4]",
        "float32[N,4]",
        "float32[N,4]",
        "float32[N,8]",
        "float32[N,8]",
        "int64[N,2]",
    ]
    assert plan.device is not None
    assert all(n.output.type.shape is not None and "?" not in n.output.type.shape for n in plan.device.nodes)


@pytest.fixture(scope="module")
def artifact(model: PreprocessingModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fc") / "fc.fourier"
    report = fourier.compile(model.path, out, buckets=[32, 64, 128])
    assert report.host is not None and "SparseSegmentMean" in report.host
    return out


def test_feature_column_model_serves_and_matches_tensorflow(artifact: Path, oracle: Any) -> None:
    served = fourier.load(artifact)
    for batch in (1, 7, 33, 128, 300):
        request = random_requests(batch, seed=batch)
        assert all(v == "" for v in request["items"][0].tolist())  # row 0: every string empty
        got = served(request)["score"]
        np.testing.assert_allclose(got, _want(oracle, request), rtol=RTOL, atol=ATOL, err_msg=str(batch))
    empty = random_requests(5, seed=1)
    for k in ("items", "tags", "country"):
        empty[k][:] = ""  # a whole batch without a single id
    empty["slots"][:] = -1
    np.testing.assert_allclose(served(empty)["score"], _want(oracle, empty), rtol=RTOL, atol=ATOL)
    assert served.metrics.snapshot()["latency"]["host"]["count"] == 6
    requests = [random_requests(n, seed=200 + n) for n in (1, 3, 5, 8, 13, 2, 7, 4)]
    with fourier.Batcher(served, max_delay_ms=5) as batcher, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(batcher, requests))
    for g, r in zip(answers, requests):
        np.testing.assert_allclose(g["score"], _want(oracle, r), rtol=RTOL, atol=ATOL)


def test_a_host_value_breaking_its_probed_rows_is_refused_not_served(artifact: Path) -> None:
    """Before: the served model with its host part patched to drop a row of one crossing (what a
    value the probes wrongly called per-row would do). Expected: InputShapeError naming it."""
    served = fourier.load(artifact)
    real, name = served._host, served.host_part.crossings[0]

    class Short:
        inputs = real.inputs

        def __call__(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
            out = real(feeds)
            out[name] = out[name][:-1]
            return dict(out)

    served._host = Short()
    with pytest.raises(InputShapeError, match="disagree on the batch size"):
        served(random_requests(7, seed=1))


def test_a_process_without_tensorflow_serves_it(artifact: Path, oracle: Any, tmp_path: Path) -> None:
    got = serve_without_tensorflow(
        artifact, "fourier.testing.feature_columns", (1, 7, 33, 128, 300), tmp_path
    )
    for b, scores in got.items():
        want = _want(oracle, random_requests(b, seed=b))
        np.testing.assert_allclose(scores, want, rtol=RTOL, atol=ATOL, err_msg=str(b))
