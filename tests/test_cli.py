"""The command line on the bundled example: compile, inspect, run, import, and a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fourier

EXAMPLE = Path(fourier.__file__).parent / "examples" / "mlp.pb"


def fourier_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fourier", *args], capture_output=True, text=True, timeout=300
    )


def test_compile_inspect_run_on_the_bundled_example(tmp_path: Path) -> None:
    out = tmp_path / "mlp.fourier"
    proc = fourier_cli("compile", str(EXAMPLE), "--buckets", "32,64,128", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    for b in ("32", "64", "128"):
        assert f"compiling bucket {b}" in proc.stderr
    assert "artifact size" in proc.stdout and "compile seconds" in proc.stdout

    proc = fourier_cli("inspect", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "features" in proc.stdout and "32, 64, 128" in proc.stdout and "sha256 verified" in proc.stdout

    proc = fourier_cli("run", str(out), "--batch", "7", "--repeat", "3")
    assert proc.returncode == 0, proc.stderr
    assert "Identity float32[7, 1]" in proc.stdout and "median" in proc.stdout


def test_import_prints_ir() -> None:
    proc = fourier_cli("import", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("graph @mlp(%features: float32[N,64])")


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"not a graph")
    proc = fourier_cli("compile", str(bad))
    assert proc.returncode == 1
    assert "GraphImportError" in proc.stderr and "bad.pb" in proc.stderr
    assert "Traceback" not in proc.stderr
