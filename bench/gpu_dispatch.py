"""How much of a GPU call is dispatch, and which entry point dispatches cheapest.

    python bench/gpu_dispatch.py ZOO_DIR OUT.jsonl [--models deepfm,din] [--batches 32,1024]

On inputs already on the device (no copies), per model and bucket, medians of alternating rounds
(µs, each call waited on):

- ``execute_sharded``: what the runtime calls today (PJRT's loaded executable, Python list in,
  ``disassemble_into_single_device_arrays`` out);
- ``jit_fast_path``: the bucket's StableHLO as ``jax.jit(exported.call)``, called with the same
  device arrays: JAX's C++ dispatch path;
- ``jit_fast_path_async``: the same, 8 calls in flight before one wait (per-call cost when the
  host does not wait for each).

Needs no TensorFlow (zoo graphs in ZOO_DIR).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_us(fn: Any, rounds: int = 7, per_round: int = 30) -> float:
    for _ in range(20):
        fn()
    ts = []
    for _ in range(rounds):
        for _ in range(per_round):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("zoo", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", default="deepfm,din")
    ap.add_argument("--batches", default="32,1024")
    args = ap.parse_args()
    import os

    os.environ["FOURIER_ZOO_DIR"] = str(args.zoo)
    import jax
    from jax import export

    import fourier
    from fourier.testing.zoo import ensure_zoo

    batches = [int(b) for b in args.batches.split(",")]
    rows = []
    for name in args.models.split(","):
        zoo = ensure_zoo([name])[name]
        out = Path(tempfile.mkdtemp()) / name
        fourier.compile(zoo.pb, out, batches)
        model = fourier.load(out, copy_path="jax")
        for b in batches:
            ex = model._executables[(b,)][0]
            entry = next(e for e in model.manifest.executables if e.batch == b)
            exported = export.deserialize(bytearray((out / entry.stablehlo).read_bytes()))
            specs = jax.tree_util.tree_unflatten(exported.in_tree, exported.in_avals)[0]
            params = list(ex._params)
            with jax.enable_x64(True):
                inputs = [jax.device_put(np.zeros(s.shape, s.dtype), ex.device) for s in specs[1]]
                call = jax.jit(exported.call)
                jax.block_until_ready(call(params, inputs))

            def sharded() -> None:
                outs = ex.execute_resident(inputs)
                for o in outs:
                    o.block_until_ready()

            def fast() -> None:
                jax.block_until_ready(call(params, inputs))

            def fast_async() -> None:
                outs = [call(params, inputs) for _ in range(8)]
                jax.block_until_ready(outs)

            t = {
                "execute_sharded": _median_us(sharded),
                "jit_fast_path": _median_us(fast),
                "jit_fast_path_async": _median_us(fast_async) / 8,
            }
            row = {"model": name, "batch": b, "device": str(ex.device.device_kind)}
            row.update({k: round(v, 1) for k, v in t.items()})
            print(json.dumps(row), flush=True)
            rows.append(row)
        model.close()
    with args.out.open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
