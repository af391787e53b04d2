"""A model whose sequence length is unknown: compiled lengths, the reference path, long-tail compiles.

Before: the zoo's bst (behaviour-sequence transformer; history length ``S`` left unknown when
frozen), compiled for buckets 8, 32 and history lengths 16, 32.
Expected: requests at compiled lengths run their executables; a length with no executable is
answered at once by the reference interpreter while (bucket, length) compiles in the background,
later requests use that executable, and a restart loads it from the cache -- every answer equal to
TensorFlow's (rtol 1e-4). Inputs that disagree on ``S``, or give ``S`` = 0, are refused by name.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.errors import CompileError, InputShapeError
from fourier.longtail import LongTailPolicy
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel, random_inputs
from tests.conftest import ATOL, RTOL


@pytest.fixture(scope="module")
def bst(zoo: dict[str, ZooModel], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sequence")
    report = fourier.compile(zoo["bst"].pb, root / "bst.fourier", [8, 32], dims={"S": [16, 32]})
    return {
        "artifact": root / "bst.fourier",
        "zoo": zoo["bst"],
        "oracle": TFGraph(zoo["bst"].pb),
        "report": report,
    }


def _check(model: fourier.Model, bst: dict[str, Any], batch: int, seq: int) -> dict[str, np.ndarray]:
    feeds = random_inputs(bst["zoo"], batch, seed=batch * 100 + seq, seq=seq)
    got, want = model(feeds), bst["oracle"](feeds)
    np.testing.assert_allclose(
        got["Identity"], want["Identity"], rtol=RTOL, atol=ATOL, err_msg=f"{batch}x{seq}"
    )
    return got


def test_signature_and_compiled_shapes(bst: dict[str, Any], tmp_path: Path) -> None:
    report = bst["report"]
    sig = report.signature
    assert sorted(map(str, sig.inputs)) == [
        "hist_gaps: int32[N,S]",
        "hist_items: int32[N,S]",
        "item: int32[N,1]",
        "user_features: float32[N,13]",
    ]
    assert list(map(str, sig.outputs)) == ["Identity: float32[N,1]"] and sig.symbols == ("S",)
    assert sorted(report.bucket_seconds) == ["b32-S16", "b32-S32", "b8-S16", "b8-S32"]
    model = fourier.load(bst["artifact"], cache_dir=tmp_path)
    assert model.shapes == ((8, 16), (8, 32), (32, 16), (32, 32))
    for batch, seq in [(1, 16), (8, 32), (9, 16), (32, 32), (70, 16)]:
        _check(model, bst, batch, seq)
    by_bucket = model.metrics.snapshot()["requests_by_bucket"]
    assert "reference" not in by_bucket and by_bucket["32,16"] == 3  # 9 rows, then 70 = 32 + 32 + 6


def test_new_length_is_answered_by_the_reference_path_while_it_compiles(
    bst: dict[str, Any], tmp_path: Path
) -> None:
    model = fourier.load(bst["artifact"], cache_dir=tmp_path, longtail=LongTailPolicy(min_seen=1))
    assert model.longtail is not None
    gate = threading.Event()
    compile_shape = model.longtail._compile

    def gated(key: Any) -> Any:  # hold the compile until the first answer is back
        gate.wait(30)
        return compile_shape(key)

    model.longtail._compile = gated
    first = _check(model, bst, 5, 23)  # S=23: no executable; bucket 8 x 23 starts compiling
    answered_while_compiling = not model.longtail.wait((8, 23), timeout=0)
    gate.set()
    assert answered_while_compiling
    assert model.longtail.wait((8, 23), timeout=120) and (8, 23) in model.shapes
    again = _check(model, bst, 5, 23)
    np.testing.assert_allclose(again["Identity"], first["Identity"], rtol=RTOL, atol=ATOL)
    m = model.metrics.snapshot()
    assert m["requests_by_bucket"] == {"reference": 1, "8,23": 1} and m["compiles"] == 1
    model.close()

    restarted = fourier.load(bst["artifact"], cache_dir=tmp_path)
    assert restarted.load_info.from_cache == ((8, 23),) and restarted.metrics.compiles == 0
    _check(restarted, bst, 7, 23)
    assert restarted.metrics.snapshot()["requests_by_bucket"] == {"8,23": 1}


def test_lengths_past_the_policy_limit_stay_on_the_reference_path(
    bst: dict[str, Any], tmp_path: Path
) -> None:
    model = fourier.load(bst["artifact"], cache_dir=tmp_path, longtail=LongTailPolicy(min_seen=1, max_dim=40))
    _check(model, bst, 3, 41)
    assert model.longtail is not None and not model.longtail.wait((8, 41), timeout=0)
    assert model.metrics.snapshot()["compiles"] == 0


def test_inputs_that_disagree_on_the_length_are_refused(bst: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(bst["artifact"], cache_dir=tmp_path, warmup=False)
    feeds = random_inputs(bst["zoo"], 4, seq=16)
    with pytest.raises(
        InputShapeError,
        match=r"inputs disagree on dimension S: 'hist_(items' has 16, 'hist_gaps' has 15|gaps' has 15, 'hist_items' has 16)",
    ):
        model(dict(feeds, hist_gaps=feeds["hist_gaps"][:, :15]))
    with pytest.raises(InputShapeError, match=r"'hist_(gaps|items)': dimension S must be at least 1, got 0"):
        model(dict(feeds, hist_gaps=feeds["hist_gaps"][:, :0], hist_items=feeds["hist_items"][:, :0]))


def test_batcher_never_merges_different_lengths(bst: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(bst["artifact"], cache_dir=tmp_path)
    requests = [random_inputs(bst["zoo"], 3, seed=i, seq=(16, 32)[i % 2]) for i in range(12)]
    with fourier.Batcher(model, max_batch=32, max_delay_ms=20) as batcher:
        futures = [batcher.submit(r) for r in requests]
        for r, f in zip(requests, futures):
            np.testing.assert_allclose(
                f.result(30)["Identity"], bst["oracle"](r)["Identity"], rtol=RTOL, atol=ATOL
            )


def test_compiling_without_the_lengths_says_which_to_give(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    with pytest.raises(
        CompileError,
        match=r"input 'hist_(gaps|items)' has the unknown dimension 'S': give the sizes.*--dim S=",
    ):
        fourier.compile(zoo["bst"].pb, tmp_path / "x", [8])
    with pytest.raises(CompileError, match="the graph has no symbolic dimension 'T'"):
        fourier.compile(zoo["bst"].pb, tmp_path / "x", [8], dims={"S": [4], "T": [2]})


def test_candidate_lists_are_padded_where_the_analysis_proves_it_safe(
    zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    """Before: the zoo's ranker (candidate lists of unknown length S, one score per candidate),
    compiled for buckets 8, 32 and lengths 16, 64. The analysis proves padding S safe.
    Expected: a length between the compiled ones runs in the next longer executable with the list
    padded and the scores sliced back -- no reference path, no compile -- equal to TensorFlow; a
    length past the longest goes to the reference path and compiles rounded up (power of two)."""
    ranker, oracle = zoo["ranker"], TFGraph(zoo["ranker"].pb)
    fourier.compile(ranker.pb, tmp_path / "ranker.fourier", [8, 32], dims={"S": [16, 64]})
    model = fourier.load(tmp_path / "ranker.fourier", cache_dir=tmp_path, longtail=LongTailPolicy(min_seen=1))
    assert model.manifest.paddable("S") and model.manifest.paddable("N")
    for batch, seq in [(5, 23), (1, 1), (8, 16), (31, 63), (40, 17)]:
        feeds = random_inputs(ranker, batch, seed=batch + seq, seq=seq)
        got, want = model(feeds)["Identity"], oracle(feeds)["Identity"]
        assert got.shape == (batch, seq)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{batch}x{seq}")
    m = model.metrics.snapshot()
    assert m["requests_by_bucket"] == {"8,64": 2, "8,16": 2, "32,64": 2} and m["compiles"] == 0
    feeds = random_inputs(ranker, 3, seq=70)
    np.testing.assert_allclose(model(feeds)["Identity"], oracle(feeds)["Identity"], rtol=RTOL, atol=ATOL)
    assert model.metrics.snapshot()["requests_by_bucket"]["reference"] == 1
    assert model.longtail is not None and model.longtail.wait((8, 128), timeout=120)
    assert (8, 128) in model.shapes
    model.close()
