"""Does ``conv-algorithm`` help on a GPU too? MobileNetV2 compiled with and without it.

    python bench/gpu_conv_algorithm.py ZOO_DIR RESULT.json     # on the GPU host (no TensorFlow)

Compiles ``ZOO_DIR/mobilenetv2.pb`` for the default device twice — the -O2 pipeline, and the same
pipeline without ``conv-algorithm`` (XLA's own convolutions) — at batch 8 and 32, and times both
from host numpy to host numpy, alternating, median of 50 runs after warm-up.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(zoo: Path, result: Path) -> None:
    import jax

    import fourier
    from fourier.passes.manager import OPT_LEVELS

    with_alg = OPT_LEVELS[2]
    without = ",".join(p for p in with_alg.split(",") if p != "conv-algorithm")
    tmp = Path(tempfile.mkdtemp())
    models = {}
    for key, pipeline in (("conv-algorithm", with_alg), ("xla-convolution", without)):
        fourier.compile(zoo / "mobilenetv2.pb", tmp / key, buckets=[8, 32], pipeline=pipeline)
        models[key] = fourier.load(tmp / key)
    out: dict[str, object] = {"device": str(jax.devices()[0].device_kind), "jax": jax.__version__}
    rng = np.random.default_rng(0)
    for b in (8, 32):
        feeds = {"input_1": rng.uniform(-1, 1, (b, 224, 224, 3)).astype(np.float32)}
        a, c = models["conv-algorithm"](feeds), models["xla-convolution"](feeds)
        np.testing.assert_allclose(a["Identity"], c["Identity"], rtol=1e-4, atol=1e-4)
        for m in models.values():
            for _ in range(5):
                m(feeds)
        times: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(50):
            for k, m in models.items():
                t0 = time.perf_counter()
                m(feeds)
                times[k].append(time.perf_counter() - t0)
        out[str(b)] = {k: float(np.median(v) * 1e3) for k, v in times.items()}
        print(b, out[str(b)], flush=True)
    result.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
