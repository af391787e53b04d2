"""More random differential graphs than the suite runs: Fourier vs TensorFlow.

    python bench/differential.py --start 300 --count 2000

Runs `tests/test_differential.py`'s check (random graph from `fourier.testing.randgraph`, compiled
for buckets 4 and 16, batches 1, 3, 16, 21, rtol 1e-4 / atol 1e-5) for each seed and prints the
seeds that mismatched or failed, with the ops they drew, and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    from tests.test_differential import differential

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=300, help="first seed (the suite runs 0-299)")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    failed: dict[int, str] = {}
    t0 = time.perf_counter()
    for seed in range(args.start, args.start + args.count):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                differential(seed, Path(tmp))
            except Exception as e:  # report every kind of failure, keep going
                failed[seed] = f"{type(e).__name__}: {str(e)[:400]}"
                print(f"seed {seed}: {failed[seed]}", flush=True)
    summary = {"seeds": args.count, "failed": len(failed), "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
