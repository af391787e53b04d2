"""Where a Fourier call spends its time on this CPU (the profile behind docs/benchmarks.md).

    python bench/profile_cpu.py     # -> bench/results/profile_cpu.json

For DeepFM, DIN and the transformer at batch 32 and 128 (-O2 artifact, buckets 32/128), medians
of 300 calls (30 for the transformer) of each stage timed alone: the input check, packing into
the bucket's buffers, host->device copies (one ``device_put`` for all arguments, as the runtime
does), the executable on device-resident inputs (blocking), the outputs back to numpy, and the
whole call. Also the same imported graph with no passes through a plain ``jax.jit``, which
shows how much of the time is XLA:CPU itself rather than anything Fourier adds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).parent / "results" / "profile_cpu.json"


def _us(fn: Any, n: int) -> float:
    fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return round(float(np.median(ts)) * 1e6, 1)


def profile(name: str, tmp: Path) -> dict[str, Any]:
    import jax

    import fourier
    from fourier.backends.jax_lowering import lower_graph
    from fourier.importer import load_graph
    from fourier.testing.zoo import ensure_zoo, random_inputs

    zm = ensure_zoo([name])[name]
    fourier.compile(zm.pb, tmp / name, [32, 128])
    model = fourier.load(tmp / name, cache_dir=None)
    plain = lower_graph(load_graph(zm.pb))
    params = [jax.device_put(p) for p in plain.param_values]
    jitted = jax.jit(plain.fn)
    n = 30 if name == "transformer" else 300
    out = {}
    for b in (32, 128):
        feeds = random_inputs(zm, b, seed=1)
        arrays, _ = model.check(feeds)
        exe = model._executables[(b,)][0]  # the first replica
        layout = model._layout
        args = layout.pack(model.signature, arrays, 0, b, b) if layout else arrays
        every = exe._params + list(jax.device_put(list(args)))
        results = [o[0] for o in exe._loaded.execute_sharded(every).disassemble_into_single_device_arrays()]

        def compute() -> None:
            for o in exe._loaded.execute_sharded(every).disassemble_into_single_device_arrays():
                o[0].block_until_ready()

        ins = [feeds[k] for k in plain.input_names]
        out[str(b)] = {
            "whole_call_us": _us(lambda: model(feeds), n),
            "check_us": _us(lambda: model.check(feeds), n),
            "pack_us": _us(lambda: layout.pack(model.signature, arrays, 0, b, b), n) if layout else 0.0,
            "h2d_us": _us(lambda: jax.block_until_ready(jax.device_put(list(args))), n),
            "executable_us": _us(compute, n),
            "d2h_us": _us(lambda: [np.asarray(o) for o in results], n),
            "arguments": len(args),
            "plain_jax_jit_no_passes_us": _us(lambda: [np.asarray(o) for o in jitted(params, ins)], n),
        }
        print(name, b, out[str(b)], flush=True)
    return out


def main() -> int:
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("deepfm", "din", "transformer"):
            result[name] = profile(name, Path(tmp))
    OUT.write_text(json.dumps({"command": "python bench/profile_cpu.py", "models": result}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
