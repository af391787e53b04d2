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
- ``fourier_cuda_one_copy``: the same with a large packed buffer packed whole, then copied once
  (``fourier_cuda`` copies it in pieces as they are packed);
- ``plain_jit``: ``jax.jit`` of the *unoptimized* imported graph, numpy in, ``np.asarray`` out;
- the parts of ``fourier_cuda`` timed alone on one slot: ``pack`` (caller arrays -> pinned),
  ``h2d`` (pinned -> device + wait), ``execute`` (executable on resident inputs + wait), ``d2h``
  (outputs -> pinned + wait); ``h2d + d2h`` are this machine's pinned-copy floor for the model's
  bytes.

``load``: 16, 32 and 64 client threads in total each sending requests of 1-64 rows (uniform) for
a fixed time, straight to the model and through `fourier.Batcher` (max_batch 256, max_delay 1 ms),
with both copy paths, in one serving process or spread over several (``--processes 1,4``; each
loads the model, the GPU is shared): requests/s, rows/s, p50 / p99 latency.
``--switch-interval-ms`` sets Python's GIL switch interval (default 5 ms).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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

    import fourier
    from fourier.backends.jax_lowering import lower_graph

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


def breakdown(model: Any, feeds: dict[str, np.ndarray], calls: int = 400) -> dict[str, float]:
    """Where one whole request's time goes, stage by stage, timed inside real calls (medians, µs):
    the same steps as ``Model.__call__`` with the owned copy path, with a clock read between them."""
    pc = time.perf_counter
    replica = model.replicas[0]
    copy, api = replica.copy, replica.copy.api
    names = [
        "check",
        "acquire",
        "set_device",
        "pack",
        "h2d_issue",
        "h2d_wait",
        "execute_issue",
        "execute_wait",
        "d2h_issue",
        "d2h_wait",
        "copy_out",
        "release_and_slice",
        "total",
    ]
    stamps: list[list[float]] = []
    for i in range(calls + 50):
        t = [pc()]
        arrays, batch = model.check(feeds)
        t.append(pc())
        key = (model.bucket_for(batch),)
        exe = model._executables[key][0]
        slot = copy._acquire(key)
        t.append(pc())
        api.set_device(copy._ordinal)
        t.append(pc())
        copy.layout.write(slot.pack_views, arrays, 0, batch, key[0])
        t.append(pc())
        for dst, src, n in slot.copies_in:
            api.h2d(dst, src, n, slot.stream)
        t.append(pc())
        api.sync(slot.stream)
        t.append(pc())
        outs = exe.execute_resident(slot.device_in)
        t.append(pc())
        for o in outs:
            o.block_until_ready()
        t.append(pc())
        for o, h in zip(outs, slot.host_out):
            api.d2h(h.ctypes.data, o.unsafe_buffer_pointer(), h.nbytes, slot.stream)
        t.append(pc())
        api.sync(slot.stream)
        t.append(pc())
        res = [h.copy() for h in slot.host_out]
        t.append(pc())
        copy._pools[key].put(slot)
        {s.name: o[:batch] for s, o in zip(model.signature.outputs, res)}
        t.append(pc())
        if i >= 50:
            stamps.append([b - a for a, b in itertools.pairwise(t)] + [t[-1] - t[0]])
    med = np.median(np.asarray(stamps), axis=0) * 1e6
    return {n: round(float(v), 1) for n, v in zip(names, med)}


def latency(zoo: Path, out: Path, models: list[str]) -> None:
    import jax

    import fourier
    from fourier import gpu_copy
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
        chunk, gpu_copy._CHUNK = gpu_copy._CHUNK, 1 << 62  # the same path with one copy in, packed first
        try:
            variants["fourier_cuda_one_copy"] = fourier.load(
                work / name, "cuda", copy_path="cuda", cache_dir=None
            )
        finally:
            gpu_copy._CHUNK = chunk
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
            if model._layout is not None:
                rec["breakdown"] = breakdown(model, feeds)
            _record(out, rec)
        for m in variants.values():
            m.close()


def _drive(
    call: Any, base: dict[str, np.ndarray], threads: int, seconds: float, seed: int
) -> tuple[list[float], int]:
    """``threads`` clients, each sending requests of 1-64 rows (rows of ``base``) to ``call`` for
    ``seconds``: every request's latency, and the rows answered."""
    lat: list[float] = []
    done = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    rows_total = next(v.shape[0] for v in base.values() if v.ndim)

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        mine, rows = [], 0
        while time.perf_counter() < stop:
            n = rng.randint(1, 64)
            start = rng.randint(0, rows_total - n)
            feeds = {k: v[start : start + n] if v.ndim else v for k, v in base.items()}
            t0 = time.perf_counter()
            call(feeds)
            mine.append(time.perf_counter() - t0)
            rows += n
        with lock:
            lat.extend(mine)
            done[0] += rows

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return lat, done[0]


def _serve_process(args: tuple[Any, ...]) -> tuple[list[float], int, float]:
    """One serving process of a multi-process load test: load, warm, wait for the common start."""
    art, platform, copy_path, batched, threads, seconds, base, start_at, switch = args
    import fourier

    sys.setswitchinterval(switch)
    model = fourier.load(art, platform, copy_path=copy_path, cache_dir=None)
    call = fourier.Batcher(model, max_batch=256, max_delay_ms=1.0) if batched else model
    _drive(call, base, 2, 0.5, 99)  # warm the path
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    lat, rows = _drive(call, base, threads, seconds, os.getpid())
    return lat, rows, time.perf_counter() - t0


def load_test(
    zoo: Path,
    out: Path,
    models: list[str],
    seconds: float,
    platform: str,
    processes: list[int],
    switch: float,
) -> None:
    """Requests/s and p99 under concurrent load: 16-64 client threads in total, spread over
    ``processes`` serving processes (each loads the model; clients live in the serving process, as
    in-process serving does), straight to the model and through the batcher, for each copy path."""
    import multiprocessing as mp

    import fourier
    from fourier.testing.references import read_references, read_zoo_model

    sys.setswitchinterval(switch)
    for name in models:
        zm = read_zoo_model(zoo, name)
        base = read_references(zoo / f"{name}.ref.npz", zm)[300][0]
        work = Path(tempfile.mkdtemp())
        fourier.compile(zm.pb, work / name, buckets=[16, 64, 256], platform=platform)
        paths = ("jax", "cuda") if platform == "cuda" else ("jax",)
        for path in paths:
            for batched in (False, True):
                for procs in processes:
                    if procs > 1 and path == "jax" and platform == "cuda":
                        continue  # several processes: only the copy path this bench is about
                    for threads in (16, 32, 64) if procs == 1 else (32, 64):
                        if procs == 1:
                            model = fourier.load(work / name, platform, copy_path=path, cache_dir=None)
                            call = (
                                fourier.Batcher(model, max_batch=256, max_delay_ms=1.0) if batched else model
                            )
                            t0 = time.perf_counter()
                            lat, rows = _drive(call, base, threads, seconds, 1)
                            wall = time.perf_counter() - t0
                            if isinstance(call, fourier.Batcher):
                                call.close()
                            copy_name = model.load_info.copy_path
                            model.close()
                        else:
                            start_at = time.time() + 20.0  # every process loaded and warm by then
                            job = (
                                work / name,
                                platform,
                                path,
                                batched,
                                threads // procs,
                                seconds,
                                base,
                                start_at,
                                switch,
                            )
                            with mp.get_context("spawn").Pool(procs) as pool:
                                parts = pool.map(_serve_process, [job] * procs)
                            lat = [x for part in parts for x in part[0]]
                            rows = sum(part[1] for part in parts)
                            wall = max(part[2] for part in parts)
                            copy_name = path
                        _record(
                            out,
                            {
                                "what": "load",
                                "model": name,
                                "platform": platform,
                                "copy_path": copy_name,
                                "batcher": batched,
                                "processes": procs,
                                "threads": threads,
                                "switch_interval_ms": switch * 1e3,
                                "req_per_s": round(len(lat) / wall, 1),
                                "rows_per_s": round(rows / wall, 1),
                                "p50_ms": round(float(np.median(lat)) * 1e3, 3),
                                "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 3),
                            },
                        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["latency", "load"])
    parser.add_argument("zoo", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default=None)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--platform", default="cuda")
    parser.add_argument("--processes", default="1", help="serving processes per load point, e.g. 1,4")
    parser.add_argument("--switch-interval-ms", type=float, default=5.0, help="sys.setswitchinterval")
    args = parser.parse_args(argv)
    if args.what == "latency":
        latency(args.zoo, args.out, (args.models or "deepfm,dcn,din,transformer").split(","))
    else:
        load_test(
            args.zoo,
            args.out,
            (args.models or "deepfm,din").split(","),
            args.seconds,
            args.platform,
            [int(x) for x in args.processes.split(",")],
            args.switch_interval_ms / 1e3,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
