"""The batcher serves models with a host part, outputs computed on the host included.

Before: a graph whose request carries a string id and dense features: the id is hashed into 97
buckets (``StringToHashBucketFast``: host only) and returned as an output, and also embedded
(a gather on the device) and summed with a dense layer of the features; compiled at buckets 8
and 32, so the id's hash crosses to the device and is also a host output.
Expected: requests of 1 to 13 rows from 8 threads through a `Batcher` get exactly what the model
gives each of them alone (the hashed ids bit for bit, the scores to float32 rtol 1e-6), outputs in
the model's order; the host stage ran once per request, in the callers' threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import fourier
import fourier.ops  # the op registry the graph is built with
from fourier.ir.core import Graph


def _graph() -> Graph:
    g = Graph()
    ids = g.add_node("Placeholder", [], {"dtype": "string", "shape": ("N",)}, name="user")
    x = g.add_node("Placeholder", [], {"dtype": "float32", "shape": ("N", 4)}, name="x")
    h = g.add_node("StringToHashBucketFast", [ids.output], {"num_buckets": 97}, name="bucket")
    table = np.random.default_rng(0).standard_normal((97, 4)).astype(np.float32)
    t = g.add_node("Const", [], {"value": table}, name="table")
    axis = g.add_node("Const", [], {"value": np.array(0, np.int32)}, name="axis")
    e = g.add_node("GatherV2", [t.output, h.output, axis.output], name="embed")
    w = g.add_node("Const", [], {"value": np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)}, name="w")
    d = g.add_node("MatMul", [x.output, w.output], name="dense")
    s = g.add_node("AddV2", [e.output, d.output], name="score")
    g.set_outputs([("score", s.output), ("bucket", h.output)])
    return g


def _request(rows: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    words = ["", "alice", "bob", "zoë", "東京", "x" * 300]
    user = np.array([words[i] for i in rng.integers(0, len(words), rows)], dtype=object)
    return {"user": user, "x": rng.standard_normal((rows, 4)).astype(np.float32)}


def test_batcher_serves_host_outputs(tmp_path: Path) -> None:
    fourier.compile(_graph(), tmp_path / "art", [8, 32])
    model = fourier.load(tmp_path / "art", cache_dir=None)
    assert model.host_part is not None and model.host_part.host_outputs == ("bucket",)
    requests = [_request(n, seed=n) for n in (1, 3, 5, 8, 13, 2, 7, 4)]
    alone = [model(r) for r in requests]
    hosted = model.metrics.snapshot()["latency"]["host"]["count"]
    with fourier.Batcher(model, max_delay_ms=5) as batcher, ThreadPoolExecutor(8) as pool:
        got = list(pool.map(batcher, requests))
    assert model.metrics.snapshot()["latency"]["host"]["count"] == hosted + len(requests)
    for g, a in zip(got, alone):
        assert list(g) == list(a) == ["score", "bucket"]
        np.testing.assert_array_equal(g["bucket"], a["bucket"])
        np.testing.assert_allclose(g["score"], a["score"], rtol=1e-6)
