"""Serving under load: packed vs per-input transfers, and concurrent load with and without the batcher.

    python bench/serving.py [--pb PATH] [--platform cpu|cuda] [--out FILE]

Needs no TensorFlow (the GPU machine has none): the frozen graph is imported by Fourier, inputs
are random ids in [0, 10) and floats in [0, 1). Reports medians and p99 over alternating runs.

1. ``packing``: one thread, batch 1 / 32 / 128, the same graph compiled with and without packed
   inputs, host numpy in and out; 400 alternating calls each.
2. ``load``: 16 client threads each sending requests of 1-64 rows (uniform) for a fixed time,
   straight to the model, then through `fourier.Batcher` (max_batch 128, max_delay 1 ms):
   requests/s, rows/s, p50 / p99 request latency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"


def _feeds(model: Any, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for s in model.signature.inputs:
        shape = s.with_batch(batch)
        if s.dtype.startswith("int"):
            out[s.name] = rng.integers(0, 10, shape).astype(s.dtype)
        else:
            out[s.name] = rng.random(shape).astype(s.dtype)
    return out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def packing(pb: Path, plat: str | None, tmp: Path) -> dict[str, Any]:
    import fourier

    models = {}
    for pack in (False, True):
        out = tmp / f"pack{pack}"
        fourier.compile(pb, out, [1, 32, 128], platform=plat, pack_inputs=pack)
        models[pack] = fourier.load(out, plat, cache_dir=None)
    rng = np.random.default_rng(0)
    rows = {}
    for b in (1, 32, 128):
        feeds = _feeds(models[False], b, rng)
        a, c = models[False](feeds), models[True](feeds)
        same = all(np.array_equal(a[k], c[k]) for k in a)
        t: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(400):
            for pack in (False, True):
                t0 = time.perf_counter()
                models[pack](feeds)
                t[pack].append(time.perf_counter() - t0)
        rows[str(b)] = {
            "unpacked_p50_us": round(statistics.median(t[False]) * 1e6, 1),
            "packed_p50_us": round(statistics.median(t[True]) * 1e6, 1),
            "unpacked_p99_us": round(_pct(t[False], 0.99) * 1e6, 1),
            "packed_p99_us": round(_pct(t[True], 0.99) * 1e6, 1),
            "speedup": round(statistics.median(t[False]) / statistics.median(t[True]), 2),
            "bit_identical": same,
        }
    return {"inputs": len(models[True].signature.inputs), "batches": rows}


def load(pb: Path, plat: str | None, tmp: Path, seconds: float, threads: int) -> dict[str, Any]:
    import fourier
    from fourier.batcher import Batcher

    out = tmp / "load"
    fourier.compile(pb, out, [8, 32, 64, 128], platform=plat)
    model = fourier.load(out, plat, cache_dir=None)
    rng = np.random.default_rng(1)
    pool = _feeds(model, 4096, rng)
    result = {}
    for mode in ("model", "batcher"):
        batcher = (
            Batcher(model, max_batch=128, max_delay_ms=1.0, max_queue=10_000) if mode == "batcher" else None
        )
        call = batcher if batcher is not None else model
        lat: list[float] = []
        rows_done = [0]
        lock = threading.Lock()
        stop = time.perf_counter() + seconds

        def client(seed: int, call: Any = call, lat: list[float] = lat, stop: float = stop) -> None:
            r = random.Random(seed)
            mine, rows = [], 0
            while time.perf_counter() < stop:
                n = r.randint(1, 64)
                at = r.randrange(4096 - n)
                feeds = {k: v[at : at + n] for k, v in pool.items()}
                t0 = time.perf_counter()
                call(feeds)
                mine.append(time.perf_counter() - t0)
                rows += n
            with lock:
                lat.extend(mine)
                rows_done[0] += rows

        workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t0
        if batcher is not None:
            batcher.close()
        result[mode] = {
            "requests_per_s": round(len(lat) / wall, 1),
            "rows_per_s": round(rows_done[0] / wall, 1),
            "p50_ms": round(statistics.median(lat) * 1e3, 3),
            "p99_ms": round(_pct(lat, 0.99) * 1e3, 3),
            "requests": len(lat),
        }
    result["padding_waste"] = round(model.metrics.padding_waste, 3)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pb", type=Path, default=None, help="frozen graph [the zoo's DeepFM]")
    ap.add_argument("--platform", default=None)
    ap.add_argument("--seconds", type=float, default=10.0, help="per load run")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    pb = args.pb
    if pb is None:
        from fourier.testing.zoo import ensure_zoo

        pb = ensure_zoo(["deepfm"])["deepfm"].pb
    import jax

    device = jax.devices(args.platform)[0] if args.platform else jax.devices()[0]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        res = {
            "command": "python bench/serving.py "
            + " ".join(f"--{k} {v}" for k, v in vars(args).items() if v is not None and k != "out"),
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "device": str(device.device_kind),
                "jax": jax.__version__,
            },
            "model": pb.name,
            "packing": packing(pb, args.platform, tmp),
            "load": load(pb, args.platform, tmp, args.seconds, args.threads),
        }
    out = args.out or RESULTS / f"serving_{device.platform}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
