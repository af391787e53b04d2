"""deepctr's DIEN and what its loops needed: dead loop carries, lists of unknown element rank, a
sequence read one step at a time.

Before: deepctr's DIEN (a GRU over the behaviour history, then an attention-gated AUGRU), frozen
by `fourier.testing.dien` with seeded weights: two functional ``StatelessWhile`` loops carrying,
besides their 10-11 real values, 82 TensorList gradient accumulators in all (control flow v2
makes every loop differentiable), element lists reserved with an unknown element rank, and the
AUGRU reading its attention score of step ``t`` as ``scores[:, t:t + 1, :]``; and small
TensorFlow loops with one dead carried value and one such stepped slice.
Expected: the dead carries are dropped before anything else sees the graph (DIEN's loops carry
10 and 11 values, no ``EmptyTensorList`` is left); DIEN compiles at buckets 32, 64, 128 with its
batch padding proven, and matches TensorFlow running the same frozen graph at batches 1, 7, 33,
128 and 300 within float32 rtol 1e-4, atol 1e-5 (measured: 1.2e-7); the history length changes
the answer (the loops are live); the small loops match TensorFlow exactly as floats allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.importer.graphdef import load_graph
from fourier.importer.loops import prune_loop_carries
from fourier.importer.protos import GraphDef
from fourier.interpreter import run_reference
from fourier.testing.oracle import TFGraph

tf = pytest.importorskip("tensorflow")

RTOL, ATOL = 1e-4, 1e-5
BATCHES = (1, 7, 33, 128, 300)


@pytest.fixture(scope="module")
def dien() -> Any:
    from fourier.testing.dien import ensure_dien

    return ensure_dien()


@pytest.fixture(scope="module")
def dien_model(dien: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("dien") / "art"
    fourier.compile(dien.pb, out, [32, 64, 128])
    return fourier.load(out, cache_dir=None)


def _loops(graph_def: Any) -> dict[str, int]:
    return {n.name: len(n.input) for n in graph_def.node if n.op in ("While", "StatelessWhile")}


def test_dien_dead_carries_are_dropped(dien: Any) -> None:
    before = GraphDef.FromString(dien.pb.read_bytes())
    assert _loops(before) == {"gru1/gru1/while": 47, "gru2/gru2/while": 62}
    after, outputs = prune_loop_carries(before, list(dien.outputs))
    assert outputs == list(dien.outputs)
    assert _loops(after) == {"gru1/gru1/while": 11, "gru2/gru2/while": 10}
    readers = {i.split(":")[0] for n in after.node for i in n.input}
    assert not [n.name for n in after.node if n.op == "EmptyTensorList" and n.name in readers]


def test_dien_compiles_with_a_padding_proof(dien_model: Any) -> None:
    padding = dien_model.manifest.padding["N"]
    assert padding["safe"], padding


@pytest.mark.parametrize("batch", BATCHES)
def test_dien_matches_tensorflow(dien: Any, dien_model: Any, batch: int) -> None:
    from fourier.testing.dien import random_inputs

    feeds = random_inputs(dien, batch, seed=batch)
    want = TFGraph(dien.pb, list(dien.outputs))(feeds)
    got = dien_model(feeds)
    for name in dien.outputs:
        assert got[name].shape == want[name].shape == (batch, 1)
        np.testing.assert_allclose(got[name], want[name], rtol=RTOL, atol=ATOL)


def test_dien_history_length_matters(dien: Any, dien_model: Any) -> None:
    from fourier.testing.dien import random_inputs

    feeds = random_inputs(dien, 64, seed=3)
    length = next(n for n in feeds if n.startswith("seq_length"))
    shorter = dict(feeds, **{length: np.maximum(feeds[length] - 3, 1).astype(np.int32)})
    a = next(iter(dien_model(feeds).values()))
    b = next(iter(dien_model(shorter).values()))
    assert np.abs(a - b).max() > 1e-3
    want = TFGraph(dien.pb, list(dien.outputs))(shorter)[dien.outputs[0]]
    np.testing.assert_allclose(b, want, rtol=RTOL, atol=ATOL)


def _frozen_loop(tmp_path: Path) -> Path:
    """A loop over steps t of x [N, 6, 3] summing x[:, t:t + 1, :], carrying a dead value."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=[tf.TensorSpec([None, 6, 3], tf.float32, name="x")])
    def f(x: Any) -> Any:
        def body(t: Any, acc: Any, dead: Any) -> Any:
            return t + 1, acc + tf.reduce_sum(x[:, t : t + 1, :], axis=1), dead * 2.0

        start = (tf.constant(0), tf.zeros_like(x[:, 0, :]), tf.ones([4]))
        _, acc, _ = tf.while_loop(lambda t, a, d: t < 6, body, start)
        return tf.identity(acc, name="out")

    frozen = convert_variables_to_constants_v2(f.get_concrete_function(), lower_control_flow=False)
    path = tmp_path / "loop.pb"
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return path


def test_stepped_slice_and_dead_carry(tmp_path: Path) -> None:
    pb = _frozen_loop(tmp_path)
    before = GraphDef.FromString(pb.read_bytes())
    out = TFGraph(pb).outputs
    # TensorFlow's iteration counter and limit, t, acc, dead, and the captured x
    assert list(_loops(before).values()) == [6]
    after, _ = prune_loop_carries(before, out)
    kept = next(n for n in after.node if n.op.endswith("While"))
    assert list(kept.input) == ["Const", "zeros_like", "x"]  # t, acc, x: read by cond or acc
    graph = load_graph(pb)
    x = np.random.default_rng(0).standard_normal((5, 6, 3)).astype(np.float32)
    want = TFGraph(pb)({"x": x})
    got = run_reference(graph, {"x": x})
    np.testing.assert_allclose(got[out[0]], want[out[0]], rtol=1e-6, atol=1e-6)
    art = tmp_path / "art"
    fourier.compile(pb, art, [4, 8])
    served = fourier.load(art, cache_dir=None)({"x": x})
    np.testing.assert_allclose(served[out[0]], want[out[0]], rtol=1e-6, atol=1e-6)
