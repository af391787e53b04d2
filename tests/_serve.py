"""Serving an artifact from a process in which TensorFlow cannot be imported (tests of models
with a host part: the serving side must need neither TensorFlow nor the compiler)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_SERVE = """
import sys, builtins
real = builtins.__import__
def guard(name, *a, **k):
    if name.split(".")[0] == "tensorflow":
        raise ImportError("tensorflow is blocked in this process")
    return real(name, *a, **k)
builtins.__import__ = guard
import importlib, numpy as np, fourier
random_requests = importlib.import_module(sys.argv[3]).random_requests
model = fourier.load(sys.argv[1])
for b in map(int, sys.argv[4].split(",")):
    np.save(sys.argv[2] + f"/out{b}.npy", model(random_requests(b, seed=b))["score"])
bad = ("tensorflow", "fourier.compiler", "fourier.importer", "fourier.passes", "networkx")
print(sorted(m for m in sys.modules if m.startswith(bad)))
"""


def serve_without_tensorflow(
    artifact: Path, requests_module: str, batches: Sequence[int], scratch: Path
) -> dict[int, np.ndarray]:
    """The scores ``artifact`` gives in a process where importing TensorFlow fails, for
    ``requests_module``'s ``random_requests(b, seed=b)`` per batch ``b``; checks that the process
    loaded no compiler, importer, pass or networkx module."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _SERVE,
            str(artifact),
            str(scratch),
            requests_module,
            ",".join(map(str, batches)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout
    return {b: np.load(scratch / f"out{b}.npy") for b in batches}
