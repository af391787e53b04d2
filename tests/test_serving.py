"""Serving under load: concurrency, the batcher, long-tail compiles, the executable cache, metrics.

Before: DeepFM compiled for buckets 32, 64, 128 (inputs packed into one buffer per dtype).
Expected: 32 threads x 300 requests of 1-400 rows, straight to the model and through the batcher,
give 0 errors and every caller exactly TensorFlow's rows for its own inputs; an unseen batch size
is answered before its background compile finishes, later requests use the new executable, and a
restart loads it from the cache; corrupt cache entries are rebuilt; a failing compile does not
break serving.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.batcher import Batcher, QueueFullError, RequestTimeoutError
from fourier.longtail import LongTailPolicy
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel, random_inputs
from tests.conftest import ATOL, RTOL

POOL = 2000  # rows TensorFlow answers once; requests are random row subsets of it


@pytest.fixture(scope="module")
def deepfm(zoo: dict[str, ZooModel], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("serving")
    fourier.compile(zoo["deepfm"].pb, root / "deepfm.fourier", [32, 64, 128])
    pool = random_inputs(zoo["deepfm"], POOL, seed=11)
    want = TFGraph(zoo["deepfm"].pb)(pool)
    return {"artifact": root / "deepfm.fourier", "pool": pool, "want": want, "root": root}


def _hammer(
    call: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], data: dict[str, Any]
) -> list[str]:
    """32 threads x 300 requests of random sizes 1-400; returns every mismatch or error."""
    pool, want = data["pool"], data["want"]
    problems: list[str] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for i in range(300):
            rows = np.array([rng.randrange(POOL) for _ in range(rng.randint(1, 400))])
            feeds = {k: v[rows] for k, v in pool.items()}
            try:
                got = call(feeds)
                for name, expected in want.items():
                    np.testing.assert_allclose(got[name], expected[rows], rtol=RTOL, atol=ATOL)
            except Exception as e:
                with lock:
                    problems.append(f"thread {seed} request {i} ({len(rows)} rows): {type(e).__name__}: {e}")

    with ThreadPoolExecutor(32) as ex:
        list(ex.map(worker, range(32)))
    return problems


@pytest.mark.slow
def test_32_threads_straight_to_the_model(deepfm: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path)
    assert model.ready
    problems = _hammer(model, deepfm)
    model.close()
    assert problems == []
    m = model.metrics.snapshot()
    assert sum(m["batch_sizes"].values()) == 32 * 300 and m["errors"] == {}
    assert m["compiles"] >= 1 and m["compile_failures"] == 0  # 256 and/or 512 compiled meanwhile


@pytest.mark.slow
def test_32_threads_through_the_batcher(deepfm: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path)
    with Batcher(model, max_batch=128, max_delay_ms=2, max_queue=4096) as batcher:
        problems = _hammer(batcher, deepfm)
    model.close()
    assert problems == []
    m = model.metrics.snapshot()
    assert m["latency"]["batcher_wait"]["count"] == 32 * 300


def test_batcher_coalesces_small_requests(deepfm: dict[str, Any], tmp_path: Path) -> None:
    """40 one-row requests at once run as far fewer executions, each caller getting its row."""
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path)
    pool, want = deepfm["pool"], deepfm["want"]
    with Batcher(model, max_batch=64, max_delay_ms=50) as batcher:
        futures = [batcher.submit({k: v[i : i + 1] for k, v in pool.items()}) for i in range(40)]
        outs = [f.result(10) for f in futures]
    for i, out in enumerate(outs):
        for name, expected in want.items():
            np.testing.assert_allclose(out[name], expected[i : i + 1], rtol=RTOL, atol=ATOL)
    executions = sum(model.metrics.snapshot()["requests_by_bucket"].values())
    assert executions <= 4, executions


def test_batcher_turns_requests_away_when_full_and_times_out(deepfm: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path)
    release = threading.Event()
    original = model.run_checked

    def slow(arrays: Any, batch: Any) -> Any:
        release.wait(10)
        return original(arrays, batch)

    model.run_checked = slow  # type: ignore[method-assign]
    one = {k: v[:1] for k, v in deepfm["pool"].items()}
    with Batcher(model, max_batch=1, max_delay_ms=0, max_queue=2) as batcher:
        first = batcher.submit(one)  # taken by the worker, blocked in slow()
        time.sleep(0.2)
        waiting = [batcher.submit(one, timeout_ms=50), batcher.submit(one, timeout_ms=50)]
        with pytest.raises(QueueFullError, match="queue is full"):
            batcher.submit(one)
        time.sleep(0.1)
        release.set()
        assert first.result(10)
        for f in waiting:
            with pytest.raises(RequestTimeoutError, match="past its timeout"):
                f.result(10)
    assert model.metrics.snapshot()["errors"] == {"QueueFullError": 1, "RequestTimeoutError": 2}


def test_bad_request_fails_alone_in_the_batcher(deepfm: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path)
    good = {k: v[:3] for k, v in deepfm["pool"].items()}
    bad = dict(good, C1=good["C1"].astype(np.int64))
    with Batcher(model) as batcher:
        with pytest.raises(fourier.errors.InputDtypeError, match="'C1': expected dtype int32, got int64"):
            batcher.submit(bad)
        assert batcher(good)["Identity"].shape == (3, 1)


def test_long_tail_batch_answers_before_its_compile_then_uses_it_and_survives_a_restart(
    deepfm: dict[str, Any], tmp_path: Path
) -> None:
    policy = LongTailPolicy(min_seen=1)
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path, longtail=policy)
    assert model.longtail is not None
    gate = threading.Event()
    compile_size = model.longtail._compile

    def gated(size: int) -> Any:  # hold the compile until the first answer is back
        gate.wait(30)
        return compile_size(size)

    model.longtail._compile = gated
    feeds = {k: v[:300] for k, v in deepfm["pool"].items()}
    first = model(feeds)  # 300 rows: no bucket covers it, 512 starts compiling
    answered_while_compiling = not model.longtail.wait((512,), timeout=0)
    gate.set()
    assert answered_while_compiling
    assert model.longtail.wait((512,), timeout=60) and model.buckets == (32, 64, 128, 512)
    second = model(feeds)
    np.testing.assert_allclose(first["Identity"], deepfm["want"]["Identity"][:300], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(second["Identity"], first["Identity"], rtol=RTOL, atol=ATOL)
    assert model.metrics.snapshot()["requests_by_bucket"]["512"] == 1
    model.close()

    restarted = fourier.load(deepfm["artifact"], cache_dir=tmp_path)  # from the cache, not compiled
    assert restarted.load_info.from_cache == ((512,),) and restarted.buckets == (32, 64, 128, 512)
    assert restarted.metrics.compiles == 0
    np.testing.assert_allclose(restarted(feeds)["Identity"], first["Identity"], rtol=RTOL, atol=ATOL)


def test_corrupt_or_mismatched_cache_entries_are_rebuilt_not_loaded(
    deepfm: dict[str, Any], tmp_path: Path
) -> None:
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path, longtail=LongTailPolicy(min_seen=1))
    feeds = {k: v[:200] for k, v in deepfm["pool"].items()}
    model(feeds)
    assert model.longtail is not None and model.longtail.wait((256,), timeout=60)
    model.close()
    blob = next(tmp_path.glob("*-b256-*.xla"))
    meta = blob.with_suffix(".json")

    blob.write_bytes(blob.read_bytes()[:-100] + b"\0" * 100)  # corrupt
    again = fourier.load(deepfm["artifact"], cache_dir=tmp_path, longtail=LongTailPolicy(min_seen=1))
    assert again.load_info.from_cache == () and not blob.exists()  # detected, dropped
    again(feeds)
    assert again.longtail is not None and again.longtail.wait((256,), timeout=60) and blob.exists()  # rebuilt
    again.close()

    info = json.loads(meta.read_text())
    meta.write_text(json.dumps(dict(info, jaxlib="0.0.1")))  # claims another jaxlib
    third = fourier.load(deepfm["artifact"], cache_dir=tmp_path)
    assert third.load_info.from_cache == () and not meta.exists()


def test_a_failing_compile_is_counted_and_serving_goes_on(deepfm: dict[str, Any], tmp_path: Path) -> None:
    model = fourier.load(deepfm["artifact"], cache_dir=tmp_path, longtail=LongTailPolicy(min_seen=1))
    assert model.longtail is not None

    def broken(size: int) -> Any:
        raise RuntimeError("XLA ran out of memory (simulated)")

    model.longtail._compile = broken
    feeds = {k: v[:150] for k, v in deepfm["pool"].items()}
    out = model(feeds)
    assert model.longtail.wait((256,), timeout=30)
    out2 = model(feeds)  # still served, chunked; no retry of the failed size
    np.testing.assert_allclose(out2["Identity"], out["Identity"], rtol=0, atol=0)
    assert model.longtail.failed[(256,)].startswith("RuntimeError: XLA ran out of memory")
    m = model.metrics.snapshot()
    assert (m["compiles"], m["compile_failures"]) == (1, 1) and model.buckets == (32, 64, 128)


def test_warmup_and_metrics_in_prometheus_text(deepfm: dict[str, Any], tmp_path: Path) -> None:
    cold = fourier.load(deepfm["artifact"], cache_dir=tmp_path, warmup=False)
    assert not cold.ready
    assert cold.warmup() > 0 and cold.ready
    assert cold.metrics.snapshot()["requests_by_bucket"] == {}  # warm-up is not traffic
    cold({k: v[:20] for k, v in deepfm["pool"].items()})
    text = cold.metrics.prometheus_text()
    assert 'fourier_requests_total{bucket="32",model="deepfm.fourier"} 1.0' in text
    assert 'fourier_padded_rows_total{bucket="32",model="deepfm.fourier"} 12.0' in text
    assert 'fourier_latency_seconds_count{model="deepfm.fourier",stage="request"} 1.0' in text
    assert cold.metrics.padding_waste == pytest.approx(12 / 20)
