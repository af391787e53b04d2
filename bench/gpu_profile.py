"""Where a served call's GPU time goes, kernel by kernel (JAX's profiler, no other tool).

    python bench/gpu_profile.py ZOO_DIR OUT.jsonl [--models din,deepfm] [--batches 1024] [--calls 50]

Per model and bucket: the artifact compiled for the GPU (``FOURIER_XLA_OPTIONS`` applies), warmed,
then ``--calls`` whole requests (host numpy in -> numpy out, the owned copy path) traced with
``jax.profiler``. From the trace, per call (µs): every GPU kernel and copy by name (count, total,
mean), their sum (the GPU's busy time), the span from the first to the last GPU event of a call
(``gpu_span``), and the host threads' top events. One JSON object per model and batch; the top
kernels printed. Needs no TensorFlow (zoo graphs and references in ZOO_DIR).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gpu_serving import _tile


def _summarize(path: str, calls: int) -> dict[str, Any]:
    from jax.profiler import ProfileData

    data = ProfileData.from_file(path)
    gpu: dict[str, list[float]] = defaultdict(list)
    host: dict[str, list[float]] = defaultdict(list)
    starts: list[tuple[float, float]] = []
    for plane in data.planes:
        on_gpu = plane.name.startswith("/device:GPU")
        if not on_gpu and not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if on_gpu and "stream" not in line.name.lower() and "Stream" not in line.name:
                continue
            for e in line.events:
                if on_gpu:
                    gpu[e.name].append(e.duration_ns / 1e3)
                    starts.append((e.start_ns / 1e3, e.duration_ns / 1e3))
                elif e.duration_ns > 0:
                    host[e.name].append(e.duration_ns / 1e3)

    def table(events: dict[str, list[float]], top: int) -> list[dict[str, Any]]:
        rows = [
            {"name": k[:160], "per_call": round(len(v) / calls, 2), "us_per_call": round(sum(v) / calls, 2)}
            for k, v in events.items()
        ]
        return sorted(rows, key=lambda r: -r["us_per_call"])[:top]

    busy = sum(sum(v) for v in gpu.values()) / calls
    return {
        "gpu_busy_us_per_call": round(busy, 1),
        "gpu_events_per_call": round(sum(len(v) for v in gpu.values()) / calls, 1),
        "gpu": table(gpu, 25),
        "host": table(host, 25),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoo", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", default="din,deepfm")
    ap.add_argument("--batches", default="1024")
    ap.add_argument("--calls", type=int, default=50)
    args = ap.parse_args(argv)
    os.environ["FOURIER_ZOO_DIR"] = str(args.zoo)
    import jax

    import fourier
    from fourier.testing.references import read_references, read_zoo_model

    batches = [int(b) for b in args.batches.split(",")]
    for name in args.models.split(","):
        zm = read_zoo_model(args.zoo, name)
        refs = read_references(args.zoo / f"{name}.ref.npz", zm)
        out = Path(tempfile.mkdtemp()) / name
        fourier.compile(zm.pb, out, buckets=batches)
        model = fourier.load(out, cache_dir=None)
        for batch in batches:
            feeds = _tile(refs[128][0], batch)
            for _ in range(50):
                model(feeds)
            trace = tempfile.mkdtemp()
            jax.profiler.start_trace(trace)
            t0 = time.perf_counter()
            for _ in range(args.calls):
                model(feeds)
            wall = (time.perf_counter() - t0) / args.calls * 1e6
            jax.profiler.stop_trace()
            path = glob.glob(f"{trace}/**/*.xplane.pb", recursive=True)[0]
            rec = {
                "model": name,
                "batch": batch,
                "device": str(jax.devices()[0].device_kind),
                "traced_call_us": round(wall, 1),
                "xla_options": os.environ.get("FOURIER_XLA_OPTIONS", ""),
                **_summarize(path, args.calls),
            }
            with args.out.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            print(name, batch, "busy", rec["gpu_busy_us_per_call"], "events", rec["gpu_events_per_call"])
            for r in rec["gpu"][:12]:
                print(f"   {r['us_per_call']:8.2f} us x{r['per_call']:5.2f}  {r['name'][:110]}")
            for r in rec["host"][:8]:
                print(f"   host {r['us_per_call']:8.2f} us x{r['per_call']:5.2f}  {r['name'][:100]}")
            sys.stdout.flush()
        model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
