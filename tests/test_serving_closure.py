"""Serving stands alone: loading an artifact and answering requests imports no compiler code.

Before: DIN compiled into an artifact (in this process). Expected: a fresh interpreter that runs
``fourier.load`` and calls the model (packed inputs, its unused ``seq_length`` carried) has none of
the compiler, importer, passes, lowering or TensorFlow modules in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import fourier
from fourier.testing.zoo import ZooModel, random_inputs

FORBIDDEN = (
    "fourier.compiler",
    "fourier.importer",
    "fourier.passes",
    "fourier.backends.jax_lowering",
    "fourier.backends.onnx_export",
    "fourier.host.extract",
    "fourier.host.partition",
    "networkx",
    "fourier.viewer",
    "fourier.cli",
    "tensorflow",
)

SCRIPT = """
import json, sys
import numpy as np
import fourier
feeds = dict(np.load(sys.argv[2]))
model = fourier.load(sys.argv[1], cache_dir=None)
out = model(feeds)
assert all(np.isfinite(v).all() for v in out.values())
print(json.dumps(sorted(sys.modules)))
"""


def test_load_and_call_import_no_compiler_module(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    fourier.compile(zoo["din"].pb, tmp_path / "din", buckets=[8])
    feeds = random_inputs(zoo["din"], 5)
    np.savez(tmp_path / "feeds.npz", **feeds)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "din"), str(tmp_path / "feeds.npz")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    modules = json.loads(run.stdout.strip().splitlines()[-1])
    leaked = [m for m in modules if m.startswith(FORBIDDEN)]
    assert leaked == [], f"serving imported {leaked}"
