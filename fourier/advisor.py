"""Which batch buckets to compile: the K sizes that minimize expected padded rows.

Input is the histogram of batch sizes a server saw (``model.metrics.save_histogram(path)``).
Padding is counted the way the runtime runs a batch: the smallest bucket that holds it, or chunks
of the largest bucket plus the smallest bucket that holds the rest. The recommendation always
includes the largest size seen (so nothing is chunked) and is exact: a dynamic program over the
distinct sizes seen (a bucket between two seen sizes only adds padding).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourier.errors import FourierError

__all__ = ["read_histogram", "padded_rows", "recommend", "Advice", "advise"]


def read_histogram(path: str | Path) -> dict[int, int]:
    """A histogram file: ``{"batch_sizes": {"7": 120, ...}}`` or just ``{"7": 120, ...}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        raw = data.get("batch_sizes", data) if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            raise ValueError("expected an object of batch size -> count")
        hist = {int(k): int(v) for k, v in raw.items()}
    except (OSError, ValueError) as e:
        raise FourierError(f"{path}: not a batch-size histogram ({e})") from e
    bad = [k for k, v in hist.items() if k < 1 or v < 0]
    if bad:
        raise FourierError(
            f"{path}: batch sizes must be >= 1 and counts >= 0, got size {bad[0]} -> {hist[bad[0]]}"
        )
    if not any(hist.values()):
        raise FourierError(f"{path}: the histogram is empty")
    return hist


def padded_rows(batch: int, buckets: Sequence[int]) -> int:
    """Rows of padding the runtime runs for one batch of ``batch`` rows."""
    bs = sorted(buckets)
    largest = bs[-1]
    rest = batch % largest  # full chunks of the largest bucket need no padding
    return next(b for b in bs if b >= rest) - rest if rest else 0


def expected_waste(hist: Mapping[int, int], buckets: Sequence[int]) -> float:
    """Padded rows per real row over the histogram."""
    real = sum(k * v for k, v in hist.items())
    return sum(padded_rows(k, buckets) * v for k, v in hist.items()) / real


def recommend(hist: Mapping[int, int], k: int) -> list[int]:
    """The at most ``k`` buckets, among the sizes seen and including the largest, that minimize
    the expected padded rows."""
    if k < 1:
        raise FourierError(f"--max-buckets must be at least 1, got {k}")
    sizes = np.array(sorted(s for s, c in hist.items() if c > 0), dtype=np.float64)
    counts = np.array([hist[int(s)] for s in sizes], dtype=np.float64)
    n = len(sizes)
    k = min(k, n)
    cw = np.concatenate([[0.0], np.cumsum(counts)])  # prefix counts
    cs = np.concatenate([[0.0], np.cumsum(counts * sizes)])  # prefix rows

    def cost(i: np.ndarray, j: int) -> np.ndarray:  # sizes i..j (inclusive) padded to sizes[j]
        return sizes[j] * (cw[j + 1] - cw[i]) - (cs[j + 1] - cs[i])

    best = np.full((k + 1, n), np.inf)
    choice = np.zeros((k + 1, n), dtype=np.int64)
    best[1] = sizes * cw[1:] - cs[1:]  # one bucket at sizes[j] covers everything up to it
    for m in range(2, k + 1):
        for j in range(n):
            if j == 0:
                best[m, j], choice[m, j] = best[1, 0], -1
                continue
            i = np.arange(j)  # previous bucket at sizes[i]; this one covers i+1..j
            total = best[m - 1, i] + cost(i + 1, j)
            at = int(np.argmin(total))
            if total[at] < best[m - 1, j]:
                best[m, j], choice[m, j] = total[at], at
            else:
                best[m, j], choice[m, j] = best[m - 1, j], -2  # fewer buckets do as well
    out, m, j = [], k, n - 1
    while j >= 0 and m >= 1:
        c = choice[m, j] if m > 1 else -1
        if c == -2:
            m -= 1
            continue
        out.append(int(sizes[j]))
        if m == 1 or c == -1:
            break
        j, m = int(c), m - 1
    return sorted(out)


@dataclass(frozen=True)
class Advice:
    current: list[int] | None
    current_waste: float | None
    recommended: list[int]
    recommended_waste: float
    requests: int
    rows: int


def advise(hist: Mapping[int, int], k: int, current: Sequence[int] | None = None) -> Advice:
    rec = recommend(hist, k)
    return Advice(
        current=sorted(current) if current else None,
        current_waste=expected_waste(hist, current) if current else None,
        recommended=rec,
        recommended_waste=expected_waste(hist, rec),
        requests=sum(hist.values()),
        rows=sum(s * c for s, c in hist.items()),
    )
