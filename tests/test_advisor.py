"""``fourier buckets``: the K buckets that minimize expected padding for a served histogram.

Before: a batch-size histogram (as `Metrics.save_histogram` writes it).
Expected: the recommendation equals the best of every possible bucket set (brute force), padding
is counted the way the runtime chunks, and the CLI prints current vs recommended waste.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from fourier.advisor import expected_waste, padded_rows, read_histogram, recommend
from fourier.cli import cli
from fourier.errors import FourierError
from fourier.metrics import Metrics


def test_padding_is_counted_as_the_runtime_chunks() -> None:
    assert padded_rows(20, [32, 64, 128]) == 12
    assert padded_rows(128, [32, 64, 128]) == 0
    assert padded_rows(300, [32, 64, 128]) == 20  # 128 + 128 + 44 rows in the 64 bucket
    assert padded_rows(256, [32, 64, 128]) == 0


def test_recommendation_is_optimal_against_brute_force() -> None:
    rng = random.Random(0)
    for _ in range(150):
        hist = {rng.randint(1, 80): rng.randint(1, 30) for _ in range(rng.randint(1, 9))}
        k = rng.randint(1, 4)
        rec = recommend(hist, k)
        sizes = sorted(hist)
        best = min(
            expected_waste(hist, [*c, sizes[-1]])
            for r in range(k)
            for c in itertools.combinations(sizes[:-1], r)
        )
        assert len(rec) <= k and sizes[-1] in rec
        assert expected_waste(hist, rec) == pytest.approx(best, abs=1e-12)


def test_cli_compares_current_and_recommended(tmp_path: Path) -> None:
    metrics = Metrics("m")
    for size, times in ((1, 500), (3, 300), (17, 100), (40, 60), (100, 30), (300, 5)):
        for _ in range(times):
            metrics.request(size, 0.001)
    path = metrics.save_histogram(tmp_path / "hist.json")
    assert read_histogram(path)[300] == 5
    result = CliRunner().invoke(
        cli, ["buckets", "--histogram", str(path), "-k", "3", "--current", "32,64,128"]
    )
    assert result.exit_code == 0, result.output
    assert "│ current     │ 32,64,128 │ 2.808" in result.output
    assert "│ recommended │ 3,40,300  │ 0.930" in result.output
    assert "fourier compile MODEL --buckets 3,40,300" in result.output


def test_bad_histograms_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"batch_sizes": {"0": 3}}')
    with pytest.raises(
        FourierError, match=r"bad.json: batch sizes must be >= 1 and counts >= 0, got size 0 -> 3"
    ):
        read_histogram(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(FourierError, match="not a batch-size histogram"):
        read_histogram(bad)
