"""Padding proven safe: the batch- and sequence-independence analysis (passes/independence.py).

Before: a graph built with TensorFlow that mixes rows across the batch in one of many ways.
Expected: with ``require_padding_proof`` compiling it is refused with a CompileError that names
the TensorFlow node where rows mix; without, it compiles with a note naming that node and is
served at exact batch sizes, matching TensorFlow at every size (never padded, chunked or merged). The row-local controls beside them compile and match TensorFlow at odd batch sizes, every
zoo model is proven paddable, and padded rows never change a real row's bits.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.errors import CompileError, GraphImportError
from fourier.importer import load_graph
from fourier.ir.parser import parse_graph
from fourier.ops.padding import rule_of
from fourier.ops.registry import all_ops
from fourier.passes.independence import analyze
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZOO_NAMES, ZooModel, random_inputs
from tests.conftest import ATOL, RTOL

tf = pytest.importorskip("tensorflow")

W = np.random.default_rng(0).uniform(-1, 1, (8, 8)).astype(np.float32)


def _x() -> Any:
    return tf.compat.v1.placeholder(tf.float32, [None, 8], name="x")


def _freeze(build: Callable[[], Any], path: Path) -> Path:
    graph = tf.Graph()
    with graph.as_default():
        out = build()
        tf.identity(out, name="y")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def _f(t: Any) -> Any:
    return tf.cast(t, tf.float32)


# (id, graph, TensorFlow node where rows mix). Each mixes rows of the batch a different way.
MIXING: list[tuple[str, Callable[[], Any], str]] = [
    ("sum-over-batch", lambda: (x := _x()) - tf.reduce_sum(x, 0, keepdims=True, name="mix"), "mix"),
    ("mean-over-batch", lambda: (x := _x()) - tf.reduce_mean(x, 0, name="mix"), "mix"),
    ("max-over-batch", lambda: (x := _x()) / tf.reduce_max(x, 0, name="mix"), "mix"),
    ("min-over-batch", lambda: (x := _x()) - tf.reduce_min(x, 0, name="mix"), "mix"),
    ("prod-over-batch", lambda: (x := _x()) * tf.reduce_prod(x, 0, name="mix"), "mix"),
    ("any-over-batch", lambda: (x := _x()) * _f(tf.reduce_any(x > 0, 0, name="mix")), "mix"),
    ("global-mean", lambda: (x := _x()) - tf.reduce_mean(x, name="mix"), "mix"),
    (
        "batch-statistics",  # batch norm computed the training way, by hand
        lambda: tf.nn.batch_normalization(
            x := _x(), *tf.nn.moments(x, [0], name="mix"), offset=0.0, scale=1.0, variance_epsilon=1e-3
        ),
        "mix/mean",
    ),
    ("l2-normalize-over-batch", lambda: tf.math.l2_normalize(_x(), axis=0, name="mix"), "mix/Sum"),
    ("reshape-pairs-rows", lambda: tf.reshape(tf.reshape(_x(), [-1, 16], name="mix") * 2.0, [-1, 8]), "mix"),
    (
        "transpose-then-softmax",
        lambda: tf.transpose(tf.nn.softmax(tf.transpose(_x()), name="mix")),
        "mix",
    ),
    ("softmax-over-axis-0", lambda: tf.nn.softmax(_x(), axis=0), "Softmax"),  # TF names it so
    (
        "matmul-contracts-batch",
        lambda: tf.matmul(x := _x(), tf.matmul(x, x, transpose_a=True, name="mix")),
        "mix",
    ),
    (
        "attention-across-batch",
        lambda: tf.matmul(tf.nn.softmax(tf.matmul(x := _x(), x, transpose_b=True, name="mix")), x),
        "mix",
    ),
    ("einsum-across-batch", lambda: tf.einsum("ni,mi->nm", x := _x(), x, name="mix") @ x, "mix"),
    (
        "batch-matmul-contracts-batch",
        lambda: (
            tf.reduce_sum(
                tf.matmul(
                    tf.transpose(x3 := tf.reshape(_x(), [-1, 2, 4]), [1, 2, 0]),
                    tf.transpose(x3, [1, 0, 2]),
                    name="mix",
                ),
            )
            * tf.reshape(x3, [-1, 8])
        ),
        "mix",
    ),
    ("cumsum-over-batch", lambda: tf.cumsum(_x(), axis=0, name="mix"), "mix"),
    (
        "top-k-over-batch",
        lambda: (x := _x()) - tf.transpose(tf.math.top_k(tf.transpose(x), 1, name="mix").values),
        "mix",
    ),
    ("sort-over-batch", lambda: tf.sort(_x(), axis=0, name="mix"), "mix"),
    ("argmax-over-batch", lambda: (x := _x()) * _f(tf.argmax(x, 0, name="mix")), "mix"),
    ("first-row", lambda: (x := _x()) - tf.strided_slice(x, [0], [1], name="mix"), "mix"),
    ("gather-a-row", lambda: (x := _x()) - tf.gather(x, [0], name="mix"), "mix"),
    ("reverse-the-batch", lambda: tf.strided_slice(_x(), [-1], [-(2**31)], [-1], name="mix"), "mix"),
    (
        "roll-the-batch",
        lambda: tf.concat([(x := _x())[1:], tf.strided_slice(x, [0], [1], name="mix")], 0),
        "mix",
    ),
    ("tile-then-pair-rows", lambda: tf.reshape(tf.tile(_x(), [2, 1]), [-1, 16], name="mix"), "mix"),
    (
        "divide-by-batch-size",
        lambda: tf.math.truediv(x := _x(), _f(tf.shape(x)[0]), name="mix"),
        "mix",
    ),
    (
        "outer-product-of-rows",
        lambda: tf.reduce_sum(tf.multiply((x := _x())[:, None, :], x[None, :, :], name="mix"), 1),
        "mix",
    ),
    (  # a free tensor over the batch reversed: position i holds N-1-i
        "reversed-row-positions",
        lambda: tf.multiply(x := _x(), _f(tf.range(tf.shape(x)[0]))[::-1][:, None], name="mix"),
        "mix",
    ),
    (  # each row times the sum of a batch-sized free vector
        "reduce-over-a-batch-sized-free-axis",
        lambda: tf.reduce_sum((x := _x())[:, :1] * tf.ones_like(x[:, 0])[None, :], 1, name="mix"),  # x0 * N
        "mix",
    ),
    (  # row ids looked up in a table as long as the batch: in range or not depends on N
        "lookup-in-a-batch-sized-table",
        lambda: (
            tf.gather(tf.ones_like((x := _x())[:, 0]), tf.cast(tf.abs(x[:, 0]) * 3.0, tf.int32), name="mix")[
                :, None
            ]
            * x
        ),
        "mix",
    ),
    (
        "one-hot-as-deep-as-the-batch",
        lambda: (
            tf.one_hot(tf.cast(tf.abs((x := _x())[:, 0]) * 3.0, tf.int32), tf.shape(x)[0], name="mix")[:, :1]
            * x
        ),
        "mix",
    ),
    (  # row i times i: padding keeps it, but a batch split into chunks renumbers rows
        "row-position-within-the-batch",
        lambda: tf.multiply(x := _x(), _f(tf.range(tf.shape(x)[0]))[:, None], name="mix"),
        "mix",
    ),
    (  # a running count over the batch: row i gets i + 1, which chunking renumbers
        "running-count-over-the-batch",
        lambda: tf.multiply(x := _x(), tf.cumsum(tf.ones_like(x[:, :1]), axis=0), name="mix"),
        "mix",
    ),
    (
        "position-from-end-of-batch",
        lambda: tf.multiply(x := _x(), _f(tf.shape(x)[0] - tf.range(tf.shape(x)[0]))[:, None], name="mix"),
        "mix",
    ),
    ("split-the-batch-in-halves", lambda: tf.add(*tf.split(_x(), 2, axis=0, name="mix")), "mix"),
    (  # heads stacked along the batch ([2N, ...]), then split in halves of 2N rows... and paired up
        "split-heads-then-pair-rows",
        lambda: tf.reshape(
            tf.concat(tf.split(tf.reshape(_x(), [-1, 2, 4]), 2, axis=2), axis=0), [-1, 16], name="mix"
        ),
        "mix",
    ),
]


def _culprits(message: str) -> str:
    return message.split("\n", 1)[-1]


@pytest.mark.parametrize("case", MIXING, ids=[c[0] for c in MIXING])
def test_row_mixing_graph_is_refused_naming_the_node(
    case: tuple[str, Callable[[], Any], str], tmp_path: Path
) -> None:
    name, build, node = case
    pb = _freeze(build, tmp_path / f"{name}.pb")
    with pytest.raises(CompileError, match="padding a request to a bucket would change") as e:
        fourier.compile(pb, tmp_path / "out", [4, 16], require_padding_proof=True)
    assert node in _culprits(str(e.value)), str(e.value)
    assert str(pb) in str(e.value), "the error names the file"


EXACT = ["sum-over-batch", "running-count-over-the-batch", "position-from-end-of-batch"]


@pytest.mark.parametrize("case", [c for c in MIXING if c[0] in EXACT], ids=EXACT)
def test_unproven_batch_is_served_at_exact_sizes(
    case: tuple[str, Callable[[], Any], str], tmp_path: Path
) -> None:
    """A graph whose rows mix still compiles: a bucket's own size runs its executable, any other
    size the reference interpreter (its exact size compiles in the background), and a batcher
    never merges two requests of it; every answer equals TensorFlow on the same request."""
    name, build, node = case
    pb = _freeze(build, tmp_path / f"{name}.pb")
    report = fourier.compile(pb, tmp_path / "out", [4, 16])
    assert any("not proven safe" in n and node in n for n in report.notes), report.notes
    model = fourier.load(tmp_path / "out", warmup=False, cache_dir=None)
    assert not model.batch_paddable
    oracle = TFGraph(pb)
    rng = np.random.default_rng(1)
    for n in (4, 1, 7, 16, 33):
        x = rng.uniform(-1, 1, (n, 8)).astype(np.float32)
        np.testing.assert_allclose(model({"x": x})["y"], oracle({"x": x})["y"], rtol=RTOL, atol=ATOL)
    ran = model.metrics.snapshot()
    assert ran["requests_by_bucket"].get("4") == 1 and ran["requests_by_bucket"].get("16") == 1, ran
    assert ran["padding_waste"] == 0.0
    xs = [rng.uniform(-1, 1, (n, 8)).astype(np.float32) for n in (4, 4, 4)]
    with fourier.Batcher(model, max_delay_ms=20) as batcher:
        futures = [batcher.submit({"x": x}) for x in xs]
        got = [f.result(timeout=60)["y"] for f in futures]
    for x, g in zip(xs, got):
        np.testing.assert_allclose(g, oracle({"x": x})["y"], rtol=RTOL, atol=ATOL)
    model.close()


def test_catalogue_has_at_least_20_patterns() -> None:
    assert len(MIXING) >= 20


def test_every_registered_op_has_a_padding_rule() -> None:
    """Walks the registry: every op has a padding rule, registered beside it in its family module
    or implied by its traits, and the analysis itself names no op (it keeps no per-op table)."""
    ops = all_ops()
    missing = [name for name, op in ops.items() if rule_of(op) is None]
    assert not missing, f"ops without a padding rule (the analysis would refuse them as mixing): {missing}"
    for name, op in ops.items():
        if op.padding_rule is not None:
            where = op.padding_rule.__module__
            assert where in (f"fourier.ops.{op.family}", "fourier.ops.padding"), f"{name}: rule in {where}"
    source = Path(inspect.getfile(analyze)).read_text()
    named = [name for name in ops if f'"{name}"' in source]
    assert not named, f"passes/independence.py names ops: {named}"


def test_training_mode_fused_batch_norm_is_refused_naming_the_node(tmp_path: Path) -> None:
    def build() -> Any:
        x = tf.compat.v1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            x, np.ones(2, np.float32), np.zeros(2, np.float32), is_training=True, name="bn"
        )
        return y

    pb = _freeze(build, tmp_path / "bn.pb")
    with pytest.raises((CompileError, GraphImportError), match="bn"):
        fourier.compile(pb, tmp_path / "out", [4])


def _heads(x: Any) -> Any:
    """Two heads of a [N, 2, 4] sequence stacked along the batch, as deepctr's Transformer does:
    tf.split along the features, tf.concat along the batch ([2N, 2, 2]); then self-attention."""
    q = tf.concat(tf.split(tf.reshape(x, [-1, 2, 4]), 2, axis=2), axis=0)
    return tf.matmul(tf.nn.softmax(tf.matmul(q, q, transpose_b=True)), q)


def _heads_back(pieces: list[Any]) -> Any:
    return tf.reshape(tf.concat(pieces, axis=2), [-1, 8])


# Row-local graphs that look like the ones above but keep every row to itself.
ROW_LOCAL: list[tuple[str, Callable[[], Any]]] = [
    ("mean-over-features", lambda: (x := _x()) - tf.reduce_mean(x, 1, keepdims=True)),
    ("reshape-within-rows", lambda: tf.reshape(tf.nn.softmax(tf.reshape(_x(), [-1, 4, 2])), [-1, 8])),
    ("tile-reshape-sum", lambda: tf.reduce_sum(tf.reshape(tf.tile(_x(), [2, 1]), [2, -1, 8]), 0)),
    ("concat-features", lambda: tf.concat([x := _x(), x * x], 1)),
    (
        "distance-to-fixed-centroids",
        lambda: tf.reduce_sum(tf.square(_x()[:, None, :] - W[None, :, :]), -1),
    ),
    (
        "transpose-and-back",
        lambda: tf.transpose(tf.nn.softmax(tf.transpose(tf.reshape(_x(), [-1, 2, 4]), [0, 2, 1])), [0, 2, 1]),
    ),
    ("top-k-per-row", lambda: tf.math.top_k(_x(), 3).values),
    ("sort-per-row", lambda: tf.sort(_x(), axis=1)),
    ("vector-select-picks-rows", lambda: tf.compat.v1.where((x := _x())[:, 0] > 0, x, -x)),
    ("dense-layer", lambda: tf.nn.relu(tf.matmul(_x(), W) + 1.0)),
    ("einsum-per-row", lambda: tf.einsum("ni,ij->nj", _x(), W)),
    (
        "lookup-by-row-values",
        lambda: tf.reshape(tf.gather(W, tf.cast(tf.abs(_x()[:, :2]) * 3.9, tf.int32)), [-1, 16]),
    ),
    # heads split along the features and stacked along the batch, brought back three ways
    ("split-heads-through-the-batch", lambda: _heads_back(tf.split(_heads(_x()), 2, axis=0))),
    (
        "split-heads-sliced-back",
        lambda: _heads_back([(h := _heads(x := _x()))[: (n := tf.shape(x)[0])], h[n : 2 * n]]),
    ),
    (
        "split-heads-split-back-by-sizes",
        lambda: _heads_back(tf.split(_heads(x := _x()), [(n := tf.shape(x)[0]), n], axis=0)),
    ),
    (  # pieces of the features by sizes, slices of them, reordered
        "split-and-slice-features",
        lambda: tf.concat(
            [(p := tf.split(_x(), [3, -1], axis=1))[1][:, ::2], tf.slice(p[0], [0, 1], [-1, 2]), p[0]], 1
        ),
    ),
]


@pytest.mark.parametrize("case", ROW_LOCAL, ids=[c[0] for c in ROW_LOCAL])
def test_row_local_graph_compiles_and_matches_tensorflow(
    case: tuple[str, Callable[[], Any]], tmp_path: Path
) -> None:
    name, build = case
    pb = _freeze(build, tmp_path / f"{name}.pb")
    fourier.compile(pb, tmp_path / "out", [4, 16])
    model, oracle = fourier.load(tmp_path / "out"), TFGraph(pb)
    rng = np.random.default_rng(1)
    for batch in (1, 3, 16, 17):
        x = {"x": rng.uniform(-2, 2, (batch, 8)).astype(np.float32)}
        np.testing.assert_allclose(model(x)["y"], oracle(x)["y"], rtol=RTOL, atol=ATOL)


def _states(text: str) -> tuple[Any, dict[str, str]]:
    """The analysis of the batch over an IR graph, and each value's state as ``rows@axis/outer``
    (``free``, ``mixed``)."""
    graph = parse_graph(textwrap.dedent(text).strip() + "\n")
    result = analyze(graph)
    shown = {}
    for v, s in result.states.items():
        shown[v.name] = f"rows@{s.axis}/{s.outer}" if s.kind == "rows" else s.kind
    return result, shown


def test_split_heads_through_the_batch_is_proven() -> None:
    """Before: deepctr's Transformer in miniature, heads split along the features and stacked
    along the batch ([2*N, ...]: row j of the stack is row j mod N), attended, split back along
    the batch and concatenated along the features.
    Expected: the split of the 2*N axis into 2 gives N rows each, and the output is proven row by
    row along axis 0 (the deepctr BST zoo model is this at [4*N, 50, 8])."""
    result, states = _states(
        """
        graph @heads(%x: float32[N,2,4]) -> (float32[N,2,4]) {
          %ax0 = Const() {value = dense<int32[] [0]>} : int32[]
          %ax2 = Const() {value = dense<int32[] [2]>} : int32[]
          %h, %h:1 = Split(%ax2, %x) {num_split = 2} : float32[N,2,2], float32[N,2,2]
          %q = ConcatV2(%h, %h:1, %ax0) : float32[2*N,2,2]
          %a = BatchMatMulV2(%q, %q) {adj_x = false, adj_y = true} : float32[2*N,2,2]
          %s, %s:1 = Split(%ax0, %a) {num_split = 2} : float32[N,2,2], float32[N,2,2]
          %y = ConcatV2(%s, %s:1, %ax2) : float32[N,2,4]
          return "y" = %y
        }
        """
    )
    assert result.safe and [o.axis for o in result.outputs] == [0], result.explain()
    assert states["%q"] == states["%a"] == "rows@0/2"
    assert states["%s"] == states["%s:1"] == states["%y"] == "rows@0/1"


def test_split_of_the_batch_is_refused() -> None:
    """Before: the batch split in two halves that are added together (row j meets row j + N/2).
    Expected: not proven, naming the Split; the halves' size is not a whole number of N."""
    result, states = _states(
        """
        graph @halves(%x: float32[N,4]) -> (float32[?,4]) {
          %ax0 = Const() {value = dense<int32[] [0]>} : int32[]
          %a, %a:1 = Split(%ax0, %x) {num_split = 2} : float32[?,4], float32[?,4]
          %y = AddV2(%a, %a:1) : float32[?,4]
          return "y" = %y
        }
        """
    )
    assert not result.safe
    assert [(c.node, c.op) for c in result.culprits] == [("a", "Split")], result.explain()
    assert states["%a"] == states["%y"] == "mixed"


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_every_zoo_model_is_proven_paddable_over_the_batch(zoo: dict[str, ZooModel], name: str) -> None:
    result = analyze(load_graph(zoo[name].pb), "N")
    assert result.safe, result.explain()


def test_sequence_padding_is_proven_for_the_ranker_and_refused_for_bst(zoo: dict[str, ZooModel]) -> None:
    ranker = analyze(load_graph(zoo["ranker"].pb), "S")
    assert ranker.safe, ranker.explain()
    assert [o.axis for o in ranker.outputs] == [1]  # scores [N, S]: one per candidate
    bst = analyze(load_graph(zoo["bst"].pb), "S")
    assert not bst.safe
    # Self-attention multiplies positions together; its mask is an outer product of positions.
    ops = {c.op for c in bst.culprits}
    assert ops == {"Einsum", "Mul"}, bst.explain()


@pytest.mark.parametrize("name", ["mlp", "deepfm", "din", "transformer", "ranker"])
def test_padded_rows_never_change_a_real_rows_bits(
    zoo: dict[str, ZooModel], artifacts: Path, name: str
) -> None:
    """Before: 100 real rows run in the 128 bucket, padded by the runtime (repeating the last row);
    the same rows followed by 28 other real rows (no padding at all), and by 28 zero rows.
    Expected: the 100 real rows of the output are bit-identical in every case. (Executables of
    different sizes may round differently, so bits are compared within one executable.)"""
    m = zoo[name]
    dims = {k: v[:1] for k, v in m.dims.items()}
    path = artifacts / f"bits-{name}.fourier"
    if not path.exists():
        fourier.compile(m.pb, path, [128], dims=dims)
    model = fourier.load(path)
    seq = dims["S"][0] if dims else 20
    real = random_inputs(m, 100, seed=3, seq=seq)
    other = random_inputs(m, 28, seed=4, seq=seq)
    padded = model(real)  # 100 rows: the runtime pads 28 rows (repeating the last) into 128
    runs = {
        "no padding: 28 more real rows": model({k: np.concatenate([v, other[k]]) for k, v in real.items()}),
        "zero padding": model({k: np.concatenate([v, np.zeros_like(other[k])]) for k, v in real.items()}),
    }
    for how, out in runs.items():
        for k, v in out.items():
            assert np.array_equal(v[:100], padded[k]), f"{name} output {k}: real rows differ with {how}"
