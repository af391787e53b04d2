"""Embedding tables in host memory (``--host-tables``) against tables resident with the executable.

    python bench/host_tables.py OUT.jsonl [--models deepfm,din] [--batches 32,128,1024] [--limit 100000]

Per model, two artifacts from the same zoo graph, buckets = the batches: ``resident`` (every table
compiled into the executable, as by default) and ``host`` (``host_tables=LIMIT``: gathers from
larger tables run in the host part, on numpy, and only their rows cross). Reported per model and
batch (medians of alternating rounds of 10 calls, µs, host numpy in -> host numpy out): each
artifact's whole call, the host part's own time (``model.metrics`` ``latency["host"]``), the bytes
of tables kept on the host and of the rows crossing per call. Outputs are checked equal (rtol 1e-5,
atol 1e-6) first. On a CPU both sides are host memory, so this measures what the split costs;
on a GPU the resident side would also hold the tables in device memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _time(model: Any, feeds: dict[str, np.ndarray]) -> list[float]:
    out = []
    for _ in range(10):
        t0 = time.perf_counter()
        model(feeds)
        out.append(time.perf_counter() - t0)
    return out


def measure(name: str, batches: list[int], limit: int, rounds: int) -> list[dict[str, Any]]:
    import fourier
    from fourier.testing.zoo import ensure_zoo, random_inputs

    zoo = ensure_zoo([name])[name]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fourier.compile(zoo.pb, Path(tmp) / "resident", batches)
        report = fourier.compile(zoo.pb, Path(tmp) / "host", batches, host_tables=limit)
        resident = fourier.load(Path(tmp) / "resident", cache_dir=None)
        host = fourier.load(Path(tmp) / "host", cache_dir=None)
        kept = (Path(tmp) / "host" / "host_weights.safetensors").stat().st_size
        part = host.host_part
        outs = dict(part.graph.outputs) if part is not None else {}
        crossing = sum(  # bytes per row of the values crossing to the device
            int(np.prod([int(d) for d in outs[c].type.shape[1:]])) * np.dtype(outs[c].type.dtype).itemsize
            for c in (part.crossings if part is not None else ())
        )
        for batch in batches:
            feeds = random_inputs(zoo, batch, seed=batch)
            a, b = resident(feeds), host(feeds)
            for k in a:
                np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6)
            times: dict[str, list[float]] = {"resident": [], "host": []}
            for _ in range(3):
                resident(feeds), host(feeds)
            before = host.metrics.snapshot()["latency"]["host"]
            for r in range(rounds):
                order = [("resident", resident), ("host", host)]
                for label, m in order if r % 2 == 0 else order[::-1]:
                    times[label] += _time(m, feeds)
            after = host.metrics.snapshot()["latency"]["host"]
            host_part = (after["sum"] - before["sum"]) / max(after["count"] - before["count"], 1)
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    "limit_bytes": limit,
                    "tables_on_host_bytes": kept,
                    "rows_crossing_bytes": crossing * batch if crossing else None,
                    "resident_us": float(np.median(times["resident"]) * 1e6),
                    "host_us": float(np.median(times["host"]) * 1e6),
                    "host_part_mean_us": host_part * 1e6,
                    "plan_lines": len((report.host or "").splitlines()),
                }
            )
            print(json.dumps(rows[-1]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default="deepfm,din")
    parser.add_argument("--batches", default="32,128,1024")
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    with args.out.open("a") as f:
        for name in args.models.split(","):
            for row in measure(name, batches, args.limit, args.rounds):
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
