"""GPU serving, host numpy in -> host numpy out: Fourier's owned copy path vs JAX's transfers.

    python bench/gpu_serving.py latency ZOO_DIR OUT.jsonl [--models deepfm,dcn,din,transformer]
    python bench/gpu_serving.py load ZOO_DIR OUT.jsonl [--models deepfm,din] [--seconds 6]

Needs no TensorFlow (the GPU machine has none). Models are zoo graphs (``NAME.pb`` +
``NAME.json``, ``python -m fourier.testing.zoo``); their ``NAME.ref.npz`` (TensorFlow's outputs,
``python -m fourier.testing.references``) checks the outputs of every variant first.

``latency``: per model and batch (32, 128, 1024), in alternating rounds (10 x 30 calls each after
30 warm-ups; medians and p99 in µs):

- ``fourier_jax``: Fourier before this path (``copy_path="jax"``: ``jax.device_put`` /
  ``np.asarray``);
- ``fourier_cuda``: Fourier with its own copy path (``copy_path="cuda"``);
- ``plain_jit``: ``jax.jit`` of the *unoptimized* imported graph, numpy in, ``np.asarray`` out;
- the parts of ``fourier_cuda`` timed alone on one slot: ``pack`` (caller arrays -> pinned),
  ``h2d`` (pinned -> device + wait), ``execute`` (executable on resident inputs + wait), ``d2h``
  (outputs -> pinned + wait); ``h2d + d2h`` are this machine's pinned-copy floor for the model's
  bytes.

``load``: 16, 32 and 64 client threads each sending requests of 1-64 rows (uniform) for a fixed
time, straight to the model and through `fourier.Batcher` (max_batch 256, max_delay 1 ms), with
both copy paths: requests/s, rows/s, p50 / p99 latency.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

BATCHES = (32, 128, 1024)


def _stats(ts: list[float]) -> dict[str, float]:
    a = np.asarray(ts) * 1e6
    return {"p50_us": round(float(np.median(a)), 1), "p99_us": round(float(np.percentile(a, 99)), 1)}


def alternate(
    variants: dict[str, Any], rounds: int = 10, per_round: int = 30, warm: int = 30
) -> dict[str, Any]:
    """Warm every variant, then take turns so drift hits all alike."""
    for fn in variants.values():
        for _ in range(warm):
            fn()
    ts: dict[str, list[float]] = {k: [] for k in variants}
    pc = time.perf_counter
    for _ in range(rounds):
        for k, fn in variants.items():
            t = ts[k]
            for _ in range(per_round):
                t0 = pc()
                fn()
                t.append(pc() - t0)
    return {k: _stats(v) for k, v in ts.items()}


def _record(out: Path, rec: dict[str, Any]) -> None:
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


def _tile(feeds: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """Reference inputs repeated to ``batch`` rows (non-batched inputs kept)."""
    out = {}
    for k, v in feeds.items():
        reps = -(-batch // v.shape[0])
        out[k] = np.ascontiguousarray(np.concatenate([v] * reps)[:batch]) if v.ndim else v
    return out


def _plain_jit(pb: Path) -> Any:
    """``jax.jit`` of the imported graph with no Fourier pass: weights resident, numpy in and out."""
    import jax
    from fourier.backends.jax_lowering import lower_graph

    import fourier

    graph = fourier.import_graph(pb)
    lowered = lower_graph(graph)
    names = [n.name for n in graph.inputs]
    with jax.enable_x64(True):
        params = [jax.device_put(p) for p in lowered.param_values]
    fn = jax.jit(lowered.fn)
    out_names = [n for n, _ in graph.outputs]

    def call(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with jax.enable_x64(True):
            outs = fn(params, [feeds[n] for n in names])
        return {k: np.asarray(o) for k, o in zip(out_names, outs)}

    return call


def _parts(model: Any, arrays: list[np.ndarray], batch: int) -> dict[str, Any]:
    """The owned copy path's stages, each timed alone on one slot of bucket ``batch``."""
    copy = model.replicas[0].copy
    key = (batch,)
    exe = model._executables[key][0]
    slot = copy._acquire(key)
    api, stream = copy.api, slot.stream
    try:

        def pack() -> None:
            if copy.layout is not None:
                copy.layout.write(slot.pack_views, arrays, 0, batch, batch)

        def h2d() -> None:
            for dst, src, n in slot.copies_in:
                api.h2d(dst, src, n, stream)
            api.sync(stream)

        outs = exe.execute_resident(slot.device_in)

        def execute() -> None:
            for o in exe.execute_resident(slot.device_in):
                o.block_until_ready()

        def d2h() -> None:
            for o, h in zip(outs, slot.host_out):
                api.d2h(h.ctypes.data, o.unsafe_buffer_pointer(), h.nbytes, stream)
            api.sync(stream)

        result = alternate({"pack": pack, "h2d": h2d, "execute": execute, "d2h": d2h})
        result["h2d_bytes"] = sum(n for _, _, n in slot.copies_in)
        result["d2h_bytes"] = sum(h.nbytes for h in slot.host_out)
        return result
    finally:
        copy._pools[key].put(slot)


def latency(zoo: Path, out: Path, models: list[str]) -> None:
    import jax

    import fourier
    from fourier.testing.references import read_references, read_zoo_model

    for name in models:
        zm = read_zoo_model(zoo, name)
        refs = read_references(zoo / f"{name}.ref.npz", zm)
        work = Path(tempfile.mkdtemp())
        t0 = time.perf_counter()
        fourier.compile(zm.pb, work / name, buckets=list(BATCHES), platform="cuda")
        compile_s = time.perf_counter() - t0
        variants = {
            "fourier_jax": fourier.load(work / name, "cuda", copy_path="jax", cache_dir=None),
            "fourier_cuda": fourier.load(work / name, "cuda", copy_path="cuda", cache_dir=None),
        }
        plain = _plain_jit(zm.pb)
        # Correctness first: every variant against TensorFlow at the reference batches.
        check: dict[str, float] = {}
        for label, call in [*variants.items(), ("plain_jit", plain)]:
            worst = 0.0
            for batch, (feeds, want) in refs.items():
                if label == "plain_jit" and batch not in (7, 128):
                    continue
                got = call(feeds)
                for k, w in want.items():
                    np.testing.assert_allclose(
                        got[k], w, rtol=1e-4, atol=1e-5, err_msg=f"{label} {name} {batch}"
                    )
                    worst = max(worst, float(np.max(np.abs(got[k] - w))) if w.size else 0.0)
            check[label] = worst
        base = refs[128][0]
        for batch in BATCHES:
            feeds = _tile(base, batch)
            model = variants["fourier_cuda"]
            arrays, _ = model.check(feeds)
            calls = {label: (lambda m=m: m(feeds)) for label, m in variants.items()}
            calls["plain_jit"] = lambda: plain(feeds)
            rec: dict[str, Any] = {
                "what": "latency",
                "model": name,
                "batch": batch,
                "device": str(jax.devices("cuda")[0].device_kind),
                "copy_path": model.load_info.copy_path,
                "compile_s": round(compile_s, 1),
                "max_abs_err_vs_tf": check,
            }
            rec.update(alternate(calls))
            rec["parts"] = _parts(model, arrays, batch)
            _record(out, rec)
        for m in variants.values():
            m.close()


def load_test(zoo: Path, out: Path, models: list[str], seconds: float, platform: str) -> None:
    import fourier
    from fourier.testing.references import read_references, read_zoo_model

    for name in models:
        zm = read_zoo_model(zoo, name)
        base = read_references(zoo / f"{name}.ref.npz", zm)[300][0]
        work = Path(tempfile.mkdtemp())
        fourier.compile(zm.pb, work / name, buckets=[16, 64, 256], platform=platform)
        paths = ("jax", "cuda") if platform == "cuda" else ("jax",)
        for path in paths:
            model = fourier.load(work / name, platform, copy_path=path, cache_dir=None)
            for batched in (False, True):
                batcher = fourier.Batcher(model, max_batch=256, max_delay_ms=1.0) if batched else None
                call = batcher if batcher is not None else model
                for threads in (16, 32, 64):
                    lat: list[float] = []
                    rows_done = [0]
                    lock = threading.Lock()
                    stop = time.perf_counter() + seconds

                    def client(
                        seed: int, call: Any = call, lat: list[float] = lat, stop: float = stop
                    ) -> None:
                        rng = random.Random(seed)
                        mine, rows = [], 0
                        while time.perf_counter() < stop:
                            n = rng.randint(1, 64)
                            start = rng.randint(0, 300 - n)
                            feeds = {k: v[start : start + n] if v.ndim else v for k, v in base.items()}
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
                    _record(
                        out,
                        {
                            "what": "load",
                            "model": name,
                            "platform": platform,
                            "copy_path": model.load_info.copy_path,
                            "batcher": batched,
                            "threads": threads,
                            "req_per_s": round(len(lat) / wall, 1),
                            "rows_per_s": round(rows_done[0] / wall, 1),
                            "p50_ms": round(float(np.median(lat)) * 1e3, 3),
                            "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 3),
                        },
                    )
                if batcher is not None:
                    batcher.close()
            model.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["latency", "load"])
    parser.add_argument("zoo", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default=None)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--platform", default="cuda")
    args = parser.parse_args(argv)
    if args.what == "latency":
        latency(args.zoo, args.out, (args.models or "deepfm,dcn,din,transformer").split(","))
    else:
        load_test(args.zoo, args.out, (args.models or "deepfm,din").split(","), args.seconds, args.platform)
    return 0


if __name__ == "__main__":
    sys.exit(main())
