"""The measurement behind the ``conv-algorithm`` pass: each FusedConv2D formulation on XLA:CPU.

    python bench/conv_algorithms.py     # -> bench/results/conv_algorithms_cpu.json

For MobileNetV2's own layer shapes, times XLA's convolution against the form the pass picks
(``matmul`` for 1x1 stride-1, ``taps`` for depthwise), each jitted alone, host arrays in and
out excluded (inputs are already on the device), median of alternating runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "conv_algorithms_cpu.json"

# (label, input NHWC, filter HWIO or HWCM, depthwise, strides)
CASES = [
    ("pointwise 56x56x24->144", (8, 56, 56, 24), (1, 1, 24, 144), False, 1),
    ("pointwise 14x14x384->64", (8, 14, 14, 384), (1, 1, 384, 64), False, 1),
    ("depthwise 3x3 56x56x144", (8, 56, 56, 144), (3, 3, 144, 1), True, 1),
    ("depthwise 3x3 s2 56x56x144", (8, 56, 56, 144), (3, 3, 144, 1), True, 2),
    ("depthwise 3x3 14x14x576", (8, 14, 14, 576), (3, 3, 576, 1), True, 1),
]


def main(rounds: int = 60) -> None:
    import jax
    import jax.numpy as jnp

    from fourier.ops.registry import get_op

    op = get_op("FusedConv2D")
    rng = np.random.default_rng(0)
    out = {"device": str(jax.devices()[0].device_kind), "jax": jax.__version__, "cases": {}}
    for label, xs, ws, depthwise, s in CASES:
        x = jnp.asarray(rng.standard_normal(xs).astype(np.float32))
        w = jnp.asarray(rng.standard_normal(ws).astype(np.float32))
        fast = "taps" if depthwise else "matmul"
        fns = {}
        for algorithm in ("xla", fast):
            attrs = {
                "strides": [1, s, s, 1],
                "padding": "SAME",
                "explicit_paddings": [],
                "data_format": "NHWC",
                "dilations": [1, 1, 1, 1],
                "depthwise": depthwise,
                "activation": "",
                "algorithm": algorithm,
            }
            fns[algorithm] = jax.jit(lambda x, w, a=attrs: op.lower(a, x, w))
            fns[algorithm](x, w).block_until_ready()
        np.testing.assert_allclose(
            np.asarray(fns["xla"](x, w)), np.asarray(fns[fast](x, w)), rtol=1e-4, atol=1e-4
        )
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(rounds):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f(x, w).block_until_ready()
                times[k].append(time.perf_counter() - t0)
        med = {k: float(np.median(v) * 1e3) for k, v in times.items()}
        out["cases"][label] = {
            "xla_ms": med["xla"],
            f"{fast}_ms": med[fast],
            "speedup": med["xla"] / med[fast],
        }
        print(
            f"| {label} | {med['xla']:.2f} | {fast} {med[fast]:.2f} | {med['xla'] / med[fast]:.1f}x |",
            flush=True,
        )
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    print("| layer (batch 8) | XLA conv ms | chosen form ms | speedup |")
    main()
