"""On a GPU: every zoo model through the owned copy path equals TensorFlow's outputs.

Skipped without a CUDA device (CI has none). The GPU machine has no TensorFlow, so TensorFlow's
outputs come from ``NAME.ref.npz`` files written beside the zoo graphs on a machine that has it
(``python -m fourier.testing.references``); point ``FOURIER_ZOO_DIR`` at that directory.

Before: each zoo graph with references, compiled for ``cuda`` at buckets 32 and 128.
Expected: loaded with ``copy_path="cuda"`` (pinned staging, owned copies), the reference batches
1, 7, 33, 128 and 300, each sent several times from 32 threads at once, match TensorFlow within
rtol 1e-4 / atol 1e-5; so does a model loaded on every GPU of the machine (one replica each).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fourier

pytestmark = pytest.mark.gpu
RTOL, ATOL = 1e-4, 1e-5


def _cuda_devices() -> list[object]:
    try:
        import jax

        return list(jax.devices("cuda"))
    except Exception:
        return []


def _reference_models() -> list[str]:
    from fourier.testing.zoo import zoo_dir

    directory = Path(os.environ.get("FOURIER_ZOO_DIR") or zoo_dir())
    return sorted(p.name[: -len(".ref.npz")] for p in directory.glob("*.ref.npz"))


if not _cuda_devices():
    pytest.skip("no CUDA device", allow_module_level=True)


@pytest.mark.parametrize("name", _reference_models() or ["<no NAME.ref.npz in FOURIER_ZOO_DIR>"])
def test_zoo_model_through_the_gpu_copy_path_matches_tensorflow(name: str, tmp_path: Path) -> None:
    from fourier.testing.references import read_references, read_zoo_model
    from fourier.testing.zoo import zoo_dir

    directory = Path(os.environ.get("FOURIER_ZOO_DIR") or zoo_dir())
    if not (directory / f"{name}.ref.npz").exists() or not (directory / f"{name}.pb").exists():
        pytest.skip("no reference outputs: run python -m fourier.testing.references where TensorFlow is")
    zm = read_zoo_model(directory, name)
    refs = read_references(directory / f"{name}.ref.npz", zm)
    fourier.compile(zm.pb, tmp_path / name, buckets=[32, 128], platform="cuda", dims=zm.dims)
    devices = len(_cuda_devices())
    for n in sorted({1, devices}):
        model = fourier.load(tmp_path / name, "cuda", copy_path="cuda", devices=n, cache_dir=None)
        assert model.load_info.copy_path in ("cuda-bindings", "cupy")
        requests = [b for b in refs for _ in range(6)]
        with ThreadPoolExecutor(32) as pool:
            got = list(pool.map(lambda b: model(refs[b][0]), requests))
        for batch, outs in zip(requests, got):
            want = refs[batch][1]
            assert set(outs) == set(want)
            for key in want:
                np.testing.assert_allclose(
                    outs[key],
                    want[key],
                    rtol=RTOL,
                    atol=ATOL,
                    err_msg=f"{name} batch {batch} {key} ({n} GPUs)",
                )
        model.close()
