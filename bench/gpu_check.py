"""Check that artifacts load and run on a GPU host that has no TensorFlow.

Two steps, because the GPU machine has JAX but no TensorFlow:

    python bench/gpu_check.py prepare out/      # here: zoo graphs, CPU artifacts, TF's answers
    python bench/gpu_check.py check out/ RESULT_DIR   # on the GPU host (carry out/ there)

``check`` loads each CPU-compiled artifact on the GPU (its executables are for another platform,
so the StableHLO is compiled there), compiles the same graph on the GPU from the ``.pb`` (the
importer needs no TensorFlow), compares both with TensorFlow's saved outputs at batch 7 and 300,
and times the GPU-compiled model from host numpy to host numpy.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

MODELS = ("deepfm", "transformer")
BATCHES = (7, 300)


def prepare(out: Path) -> None:
    import shutil

    import fourier
    from fourier.testing.oracle import TFGraph
    from fourier.testing.zoo import ensure_zoo, random_inputs

    zoo = ensure_zoo(MODELS)
    (out / "zoo").mkdir(parents=True, exist_ok=True)
    for name, zm in zoo.items():
        shutil.copy(zm.pb, out / "zoo" / zm.pb.name)
        shutil.copy(zm.pb.with_suffix(".json"), out / "zoo" / f"{name}.json")
        fourier.compile(zm.pb, out / "art" / name, buckets=[32, 64, 128])
        oracle = TFGraph(zm.pb)
        for b in BATCHES:
            feeds = random_inputs(zm, b, seed=b)
            np.savez(out / "zoo" / f"{name}_in_{b}.npz", **feeds)
            np.savez(out / "zoo" / f"{name}_want_{b}.npz", **oracle(feeds))


def _max_diff(model, out: Path, name: str) -> float:  # type: ignore[no-untyped-def]
    worst = 0.0
    for b in BATCHES:
        feeds = dict(np.load(out / "zoo" / f"{name}_in_{b}.npz"))
        want = dict(np.load(out / "zoo" / f"{name}_want_{b}.npz"))
        got = model(feeds)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5)
            worst = max(worst, float(np.abs(got[k] - want[k]).max()))
    return worst


def _median_ms(model, feeds, reps: int = 200) -> float:  # type: ignore[no-untyped-def]
    for _ in range(10):
        model(feeds)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        model(feeds)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def check(out: Path, result_dir: Path) -> None:
    import fourier
    from fourier.testing.zoo import _read, random_inputs

    result_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in MODELS:
        t = time.perf_counter()
        cpu_art = fourier.load(out / "art" / name)
        r = {
            "cpu_artifact_on_gpu": {
                "load_s": time.perf_counter() - t,
                "recompiled": list(cpu_art.load_info.recompiled),
                "platform": cpu_art.load_info.platform,
                "max_abs_diff_vs_tf": _max_diff(cpu_art, out, name),
            }
        }
        zm = _read(out / "zoo", name)
        report = fourier.compile(zm.pb, result_dir / name, buckets=[32, 64, 128])
        t = time.perf_counter()
        gpu_art = fourier.load(result_dir / name)
        r["gpu_compiled"] = {
            "compile_s": {str(k): v for k, v in report.bucket_seconds.items()},
            "load_s": time.perf_counter() - t,
            "recompiled": list(gpu_art.load_info.recompiled),
            "max_abs_diff_vs_tf": _max_diff(gpu_art, out, name),
            "median_ms": {str(b): _median_ms(gpu_art, random_inputs(zm, b, seed=1)) for b in (32, 128)},
        }
        results[name] = r
        print(name, json.dumps(r), flush=True)
    (result_dir / "gpu_check.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(Path(sys.argv[2]))
    else:
        check(Path(sys.argv[2]), Path(sys.argv[3]))
