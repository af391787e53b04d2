"""Serving metrics: where requests, padding, compiles and time go.

One `Metrics` per loaded model (``model.metrics``), updated under a lock by every call: requests
and rows per bucket, padded rows, the batch-size histogram (exact sizes, for ``fourier buckets``),
latency histograms, compiles (count, seconds, failures), and the batcher's queue depth. Read it as
a Python object (`snapshot`) or as Prometheus text (`prometheus_text`, via ``prometheus_client``).
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Metrics", "LATENCY_BUCKETS"]

# Seconds; fine below a millisecond, where small recommendation batches run.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds
        self.n += 1

    def cumulative(self) -> list[tuple[str, int]]:
        out, total = [], 0
        for bound, c in zip((*map(str, LATENCY_BUCKETS), "+Inf"), self.counts):
            total += c
            out.append((bound, total))
        return out

    def quantile(self, q: float) -> float | None:
        """Upper bound of the histogram bucket holding quantile ``q`` (None when empty)."""
        if not self.n:
            return None
        rank, total = q * self.n, 0
        for bound, c in zip((*LATENCY_BUCKETS, float("inf")), self.counts):
            total += c
            if total >= rank:
                return bound
        return float("inf")


class Metrics:
    """Counters and histograms of one model's serving; thread-safe."""

    def __init__(self, model: str = "") -> None:
        self.model = model
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # by bucket label ("32", "chunked", "static", ...)
        self.rows: Counter[str] = Counter()  # real rows run, by bucket
        self.padded_rows: Counter[str] = Counter()  # rows of padding run, by bucket
        self.batch_sizes: Counter[int] = Counter()  # request batch size -> count
        self.errors: Counter[str] = Counter()  # by error type
        self.latency: dict[str, _Histogram] = {}  # by stage: "request", "batcher_wait", ...
        self.compiles = 0
        self.compile_seconds = 0.0
        self.compile_failures = 0
        self.queue_depth = 0

    # -- updates ------------------------------------------------------------------------------

    def request(self, batch: int, seconds: float) -> None:
        with self._lock:
            self.batch_sizes[batch] += 1
            self.latency.setdefault("request", _Histogram()).observe(seconds)

    def executed(self, bucket: str, rows: int, padded: int) -> None:
        with self._lock:
            self.requests[bucket] += 1
            self.rows[bucket] += rows
            self.padded_rows[bucket] += padded

    def observe(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.latency.setdefault(stage, _Histogram()).observe(seconds)

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def compiled(self, seconds: float, ok: bool) -> None:
        with self._lock:
            self.compiles += 1
            self.compile_seconds += seconds
            self.compile_failures += 0 if ok else 1

    def set_queue_depth(self, depth: int) -> None:
        self.queue_depth = depth

    # -- reading ------------------------------------------------------------------------------

    @property
    def padding_waste(self) -> float:
        """Padded rows per real row over everything run so far."""
        real = sum(self.rows.values())
        return sum(self.padded_rows.values()) / real if real else 0.0

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain data."""
        with self._lock:
            return {
                "requests_by_bucket": dict(self.requests),
                "rows_by_bucket": dict(self.rows),
                "padded_rows_by_bucket": dict(self.padded_rows),
                "padding_waste": self.padding_waste,
                "batch_sizes": dict(sorted(self.batch_sizes.items())),
                "errors": dict(self.errors),
                "latency": {
                    k: {"count": h.n, "sum": h.sum, "p50": h.quantile(0.5), "p99": h.quantile(0.99)}
                    for k, h in self.latency.items()
                },
                "compiles": self.compiles,
                "compile_seconds": self.compile_seconds,
                "compile_failures": self.compile_failures,
                "queue_depth": self.queue_depth,
            }

    def save_histogram(self, path: str | Path) -> Path:
        """Write the batch-size histogram served so far (input of ``fourier buckets``)."""
        path = Path(path)
        with self._lock:
            data = {str(k): v for k, v in sorted(self.batch_sizes.items())}
        path.write_text(json.dumps({"batch_sizes": data}, indent=1) + "\n")
        return path

    def collect(self) -> Iterator[Any]:
        """prometheus_client collector protocol."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        labels = ["model", "bucket"]
        with self._lock:
            for name, doc, counts in (
                ("fourier_requests", "Executions per bucket", self.requests),
                ("fourier_rows", "Real rows run per bucket", self.rows),
                ("fourier_padded_rows", "Padding rows run per bucket", self.padded_rows),
            ):
                fam = CounterMetricFamily(name, doc, labels=labels)
                for bucket, v in sorted(counts.items()):
                    fam.add_metric([self.model, bucket], v)
                yield fam
            err = CounterMetricFamily(
                "fourier_errors", "Failed requests by error type", labels=["model", "type"]
            )
            for kind, v in sorted(self.errors.items()):
                err.add_metric([self.model, kind], v)
            yield err
            yield CounterMetricFamily("fourier_compiles", "Background compiles", value=self.compiles)
            yield CounterMetricFamily(
                "fourier_compile_failures", "Background compiles that failed", value=self.compile_failures
            )
            yield CounterMetricFamily(
                "fourier_compile_seconds", "Seconds spent compiling", value=self.compile_seconds
            )
            yield GaugeMetricFamily(
                "fourier_queue_depth", "Requests waiting in the batcher", value=self.queue_depth
            )
            lat = HistogramMetricFamily(
                "fourier_latency_seconds", "Latency by stage", labels=["model", "stage"]
            )
            for stage, h in sorted(self.latency.items()):
                lat.add_metric([self.model, stage], h.cumulative(), sum_value=h.sum)
            yield lat

    def prometheus_text(self) -> str:
        """The metrics in Prometheus' text exposition format."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry()
        registry.register(self)  # type: ignore[arg-type]
        return generate_latest(registry).decode()
