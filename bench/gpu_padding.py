"""Check on a GPU that sequence padding (proven safe at compile time) gives TensorFlow's answers.

    python bench/gpu_padding.py prepare [--out out/gpu_rk]   # here: compile the ranker on CPU,
                                                             # save inputs and TensorFlow's outputs
    python bench/gpu_padding.py run [--out out/gpu_rk]       # on the GPU host (no TensorFlow)

``run`` loads the CPU-compiled artifact on the GPU (its executables recompile from StableHLO),
sends candidate lists of lengths between and past the compiled ones (16, 64), and writes the
largest absolute difference to TensorFlow per case and the executables used to
``$OUT/gpu_ranker.json`` (results: bench/results/gpu_h100_ranker_padding.json).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

import numpy as np

CASES = [(5, 23), (31, 63), (40, 17), (3, 70)]  # (batch, candidates)


def prepare(out: Path) -> None:
    import fourier
    import tests.conftest  # noqa: F401  (TensorFlow's environment for the oracle)
    from fourier.testing.oracle import TFGraph
    from fourier.testing.zoo import ensure_zoo, random_inputs

    m = ensure_zoo(["ranker"])["ranker"]
    out.mkdir(parents=True, exist_ok=True)
    fourier.compile(m.pb, out / "ranker.fourier", [8, 32], dims={"S": [16, 64]})
    oracle = TFGraph(m.pb)
    for b, s in CASES:
        x = random_inputs(m, b, seed=b + s, seq=s)
        np.savez(out / f"in_{b}_{s}.npz", **x)
        np.save(out / f"want_{b}_{s}.npy", oracle(x)["Identity"])


def run(out: Path) -> None:
    import jax

    import fourier

    m = fourier.load(out / "ranker.fourier", cache_dir=None)
    res: dict[str, object] = {
        "device": str(jax.devices()[0]),
        "recompiled": [list(k) for k in m.load_info.recompiled],
    }
    for f in sorted(glob.glob(str(out / "in_*.npz"))):
        b, s = Path(f).stem.split("_")[1:]
        got = m(dict(np.load(f)))["Identity"]
        want = np.load(out / f"want_{b}_{s}.npy")
        res[f"{b}x{s}"] = {
            "shape": list(got.shape),
            "max_abs": float(np.max(np.abs(got - want))),
            "ok": bool(np.allclose(got, want, rtol=1e-4, atol=1e-5)),
        }
    res["requests_by_bucket"] = m.metrics.snapshot()["requests_by_bucket"]
    print(json.dumps(res, indent=1))
    dest = Path(os.environ.get("OUT", "."))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "gpu_ranker.json").write_text(json.dumps(res, indent=1))


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("--out", type=Path, default=Path("out/gpu_rk"))
    args = parser.parse_args(argv)
    prepare(args.out) if args.step == "prepare" else run(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
