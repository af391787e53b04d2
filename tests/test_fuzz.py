"""Fuzzing the importer and the pass pipeline (fourier/testing/fuzz.py), bounded for CI.

Before: raw bytes, byte-level corruptions of a zoo GraphDef, and structured mutations (ops,
inputs, attributes, constants, names) of zoo GraphDefs.
Expected: every input either compiles through the front end (import, verify, -O2 with
verification, independence analysis, signature) or is refused with a FourierError; nothing else
escapes. ``bench/fuzz.py`` runs the same harness for longer (and optionally through XLA).
Crashes found by fuzzing are kept below as named regression cases.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fourier.importer.protos import GraphDef
from fourier.testing.fuzz import check, mutate
from fourier.testing.hostile import FUZZ_REGRESSIONS
from fourier.testing.zoo import ensure_zoo

SEEDS = ("mlp", "ranker", "bst", "transformer")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@cache
def _seed_bytes(name: str) -> bytes:
    return ensure_zoo([name])[name].pb.read_bytes()


@FUZZ
@given(st.binary(max_size=2048))
def test_raw_bytes_are_imported_or_refused(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_corrupted_bytes_of_a_zoo_graph_are_imported_or_refused(name: str, data: st.DataObject) -> None:
    raw = bytearray(_seed_bytes(name))
    cut = data.draw(st.integers(0, len(raw)), label="truncate at")
    raw = raw[:cut] if data.draw(st.booleans(), label="truncate") else raw
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        if raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    check(bytes(raw))


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(1, 3), st.data())
def test_structured_mutations_of_zoo_graphs_are_imported_or_refused(
    name: str, count: int, data: st.DataObject
) -> None:
    gd = GraphDef()
    gd.ParseFromString(_seed_bytes(name))
    mutate(gd, lambda n: data.draw(st.integers(0, max(n - 1, 0))), count)
    check(gd.SerializeToString())


def test_unmutated_zoo_graphs_pass_the_harness() -> None:
    for name in SEEDS:
        assert check(_seed_bytes(name)) == "ok"


@pytest.mark.parametrize("case", FUZZ_REGRESSIONS, ids=[c[0] for c in FUZZ_REGRESSIONS])
def test_crashes_the_fuzzer_found_stay_fixed(case: tuple[str, Callable[[], bytes], str]) -> None:
    """Each of these escaped with an untyped exception or a PassError before its fix."""
    _, build, expected = case
    assert check(build(), compile=expected.startswith("compile:")) == expected
