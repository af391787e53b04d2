"""Hostile graphs (fourier/testing/hostile.py) are refused with a typed error, fast and small.

Before: a crafted GraphDef of one advisory class (dangling or self inputs, cycles, recursive
functions, huge Fill/Range/Tile/Reshape sizes, int64-overflowing element counts, dtype confusion,
short TensorProtos, missing or wrong attributes, absurd ranks, a million nodes, garbage bytes).
Expected: ``fourier.compile`` raises a `FourierError` whose message names the problem, within 1 s
and with the process's peak memory growing by less than 256 MiB; the process lives on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import fourier
from fourier.errors import FourierError
from fourier.testing.hostile import CASES, HostileCase

LIMIT_SECONDS = 1.0
LIMIT_BYTES = 256 << 20


def _status(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)
        return True
    except OSError:
        return False


def test_at_least_20_hostile_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_graph_is_refused_quickly_in_bounded_memory(case: HostileCase, tmp_path: Path) -> None:
    pb = tmp_path / f"{case.name}.pb"
    pb.write_bytes(case.build())
    measured = _reset_peak()
    before = _status("VmRSS")
    t0 = time.perf_counter()
    with pytest.raises(FourierError) as e:
        fourier.compile(pb, tmp_path / "out", [4])
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM")
    assert case.expect in str(e.value), str(e.value)
    assert str(pb) in str(e.value), "the error names the file"
    assert seconds < LIMIT_SECONDS, f"{case.name}: refused after {seconds:.2f} s"
    if measured and before is not None and peak is not None:
        assert peak - before < LIMIT_BYTES, f"{case.name}: peak memory grew {(peak - before) >> 20} MiB"
    assert not (tmp_path / "out").exists(), "nothing is written for a refused graph"
