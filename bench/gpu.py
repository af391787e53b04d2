"""Fourier on a GPU, buckets 32 ... 4096: where the time goes, against the physical floor and plain jax.jit.

The GPU machine has JAX but no TensorFlow, so the frozen graphs are built here and carried:

    python bench/gpu.py prepare out/gpu deepfm,dcn,wdl          # here: copy the zoo .pb files
    python bench/gpu.py run out/gpu RESULT.json                 # there (carry out/gpu)

For every carried model and bucket (32, 64, ..., 4096), host numpy in and out:

- ``fourier``: the artifact (-O2, packed inputs) called as a serving host calls it, median and p99;
- its split: host packing, host->device copy, compute on device-resident inputs, device->host copy
  (each timed alone with ``block_until_ready``, medians);
- ``plain_jit``: the imported graph lowered with no passes, ``jax.jit`` with the weights on the
  device, called with one numpy array per input (what a user gets without Fourier);
- the physical floor: input and output bytes over the measured copy bandwidths, plus XLA's FLOP
  count over the GPU's dense TF32 peak (``PEAK_TFLOPS``), and the ratio of ``fourier`` to it; and
  the same floor plus the measured fixed cost of one copy each way (a 4-byte array).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BUCKETS = (32, 64, 128, 256, 512, 1024, 2048, 4096)
# Dense TF32 tensor-core peak (NVIDIA's datasheets, SXM, without sparsity): H100 495, H200 495.
PEAK_TFLOPS = {"H100": 495.0, "H200": 495.0}


def prepare(out: Path, names: list[str]) -> None:
    from fourier.testing.zoo import ensure_zoo

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        old.unlink()
    for name, zm in ensure_zoo(names).items():
        shutil.copy(zm.pb, out / zm.pb.name)
        shutil.copy(zm.pb.with_suffix(".json"), out / f"{name}.json")


def _median_us(fn: Any, reps: int) -> tuple[float, float]:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e6, float(np.percentile(ts, 99)) * 1e6


def _bandwidth(device: Any) -> dict[str, float]:
    """Host->device and device->host GB/s for a 256 MiB pageable numpy buffer (median of 5)."""
    import jax

    host = np.ones(64 << 20, dtype=np.float32)
    on = jax.device_put(host, device).block_until_ready()
    h2d = _median_us(lambda: jax.device_put(host, device).block_until_ready(), 5)[0]
    d2h = (
        _median_us(lambda: np.asarray(on + 0), 5)[0] - _median_us(lambda: (on + 0).block_until_ready(), 5)[0]
    )
    tiny = np.ones(1, dtype=np.float32)
    tiny_on = jax.device_put(tiny, device)
    return {
        "h2d_GBps": host.nbytes / h2d / 1e3,
        "d2h_GBps": host.nbytes / max(d2h, 1.0) / 1e3,
        # the fixed cost of one copy: a 4-byte array each way (median of 200)
        "h2d_latency_us": _median_us(lambda: jax.device_put(tiny, device).block_until_ready(), 200)[0],
        "d2h_latency_us": _median_us(lambda: np.asarray(tiny_on + 0), 200)[0]
        - _median_us(lambda: (tiny_on + 0).block_until_ready(), 200)[0],
    }


def _feeds(meta: dict[str, Any], batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    from fourier.testing.zoo import BST_SEQ

    out = {}
    for spec in meta["inputs"]:
        shape = (batch, *(BST_SEQ if isinstance(d, str) else d for d in spec["shape"]))
        if spec["dtype"].startswith("int"):
            out[spec["name"]] = rng.integers(spec["low"], spec["high"], shape).astype(spec["dtype"])
        else:
            out[spec["name"]] = rng.uniform(spec["low"], spec["high"], shape).astype(spec["dtype"])
    return out


def run_model(pb: Path, work: Path, bw: dict[str, float], peak: float) -> dict[str, Any]:
    import jax

    import fourier
    from fourier.backends.jax_lowering import lower_graph
    from fourier.importer import load_graph

    meta = json.loads(pb.with_suffix(".json").read_text())
    dims = {k: [v] for k, v in ((k, _seq()) for k in meta.get("dims", {}))}
    t0 = time.perf_counter()
    report = fourier.compile(pb, work / pb.stem, list(BUCKETS), platform="cuda", dims=dims)
    compile_s = time.perf_counter() - t0
    model = fourier.load(work / pb.stem, "cuda", cache_dir=None)
    device = jax.devices("cuda")[0]

    plain = lower_graph(load_graph(pb))  # no passes
    with jax.enable_x64(True):
        params = [jax.device_put(p, device) for p in plain.param_values]
    jitted = jax.jit(plain.fn)
    rng = np.random.default_rng(0)
    rows: dict[str, Any] = {}
    for b in BUCKETS:
        feeds = _feeds(meta, b, rng)
        reps = 200 if b <= 512 else 60
        full = _median_us(lambda: model(feeds), reps)
        arrays, _ = model.check(feeds)
        key = (b, *(_seq() for _ in model.signature.symbols))
        exe = model._executables[key]
        layout = model._layout
        pack = (lambda: layout.pack(model.signature, arrays, 0, b, b)) if layout else (lambda: arrays)
        args = pack()
        with jax.enable_x64(True):
            resident = [jax.device_put(a, device) for a in args]
        every = exe._params + resident

        def compute() -> Any:
            outs = exe._loaded.execute_sharded(every).disassemble_into_single_device_arrays()
            for o in outs:
                o[0].block_until_ready()
            return outs

        outs = compute()
        split = {
            "pack_us": _median_us(pack, reps)[0],
            "h2d_us": _median_us(lambda: [jax.device_put(a, device).block_until_ready() for a in args], reps)[
                0
            ],
            "compute_us": _median_us(compute, reps)[0],
            "d2h_us": _median_us(lambda: [np.asarray(o[0] + 0) for o in outs], reps)[0]
            - _median_us(lambda: [(o[0] + 0).block_until_ready() for o in outs], reps)[0],
        }
        ins = [feeds[n] for n in plain.input_names]
        jax_ins = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in ins]
        with jax.enable_x64(True):
            cost = jitted.lower(params, jax_ins).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        flops = float(cost.get("flops", 0.0)) if cost else 0.0
        plain_us = _median_us(lambda: [np.asarray(o) for o in jitted(params, ins)], reps)
        bytes_in = sum(x.nbytes for x in feeds.values())
        bytes_out = sum(np.asarray(o[0]).nbytes for o in outs)
        floor_us = (
            bytes_in / bw["h2d_GBps"] / 1e3 + bytes_out / bw["d2h_GBps"] / 1e3 + flops / (peak * 1e12) * 1e6
        )
        latency_floor_us = floor_us + bw["h2d_latency_us"] + bw["d2h_latency_us"]  # one copy each way
        rows[str(b)] = {
            "fourier_us": round(full[0], 1),
            "fourier_p99_us": round(full[1], 1),
            **{k: round(v, 1) for k, v in split.items()},
            "plain_jit_us": round(plain_us[0], 1),
            "plain_jit_p99_us": round(plain_us[1], 1),
            "flops": flops,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "floor_us": round(floor_us, 2),
            "fourier_over_floor": round(full[0] / floor_us, 1),
            "floor_with_latency_us": round(latency_floor_us, 1),
            "fourier_over_latency_floor": round(full[0] / latency_floor_us, 2),
            "plain_jit_over_fourier": round(plain_us[0] / full[0], 2),
        }
        print(f"  {pb.stem:12s} b{b:<5d} " + json.dumps(rows[str(b)]), flush=True)
    return {
        "compile_s_total": round(compile_s, 2),
        "compile_s_by_bucket": {k: round(v, 3) for k, v in report.bucket_seconds.items()},
        "artifact_bytes": report.artifact_bytes,
        "load_s": round(model.load_info.seconds, 3),
        "buckets": rows,
    }


def _seq() -> int:
    from fourier.testing.zoo import BST_SEQ

    return BST_SEQ


def run(carried: Path, out: Path) -> None:
    import tempfile

    import jax

    device = jax.devices("cuda")[0]
    kind = str(device.device_kind)
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in kind), 495.0)
    bw = _bandwidth(device)
    print("bandwidth", bw, flush=True)
    result: dict[str, Any] = {
        "device": kind,
        "jax": jax.__version__,
        "peak_tflops_tf32": peak,
        "bandwidth": bw,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for pb in sorted(carried.glob("*.pb")):
            result["models"][pb.stem] = run_model(pb, Path(tmp), bw, peak)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(Path(sys.argv[2]), sys.argv[3].split(","))
    else:
        run(Path(sys.argv[2]), Path(sys.argv[3]))
