"""The host's string hashes against TensorFlow's ops: equal on 10^6 strings, and how fast.

    python bench/host_hash.py [--count 1000000] [--seed 0] [--out OUT.json]

The strings (`fourier.testing.preprocessing.random_strings`) cover every length 0..64 (each
branch of FarmHash and SipHash), 65..1024 and 1..5 KB, random bytes and multibyte UTF-8. For each
op (``StringToHashBucketFast``, ``StringToHashBucketStrong`` with two keys, the deprecated
``StringToHashBucket``) Fourier's numpy form (`fourier.host.hashing`) and TensorFlow's kernel hash
them with ``num_buckets = 2**63 - 1`` (almost all of the 64 bits kept): every result must be equal.
Reported: mismatches (0), and seconds per call for each (best of 3), Fourier's single-threaded
numpy against TensorFlow's C++ kernel. With ``--ranking``, also the host part of the preprocessing
ranking model (`fourier.testing.preprocessing`: two lookups, two hashes) per request at batches
1, 32, 256 and 1024 (median of 50 calls, µs). Needs TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fourier.host import hashing
from fourier.testing.preprocessing import random_strings

BUCKETS = 2**63 - 1
KEYS = ([7, 1234567], [-0x2152411035014542, 0x0123456789ABCDEF])


def _best(fn: Callable[[], Any], rounds: int = 3) -> tuple[Any, float]:
    best, out = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--ranking", action="store_true", help="time the ranking model's host part")
    args = parser.parse_args(argv)

    import tensorflow as tf

    strings = random_strings(args.count, args.seed)
    tensor = tf.constant(strings.tolist(), dtype=tf.string)
    lengths = np.fromiter(map(len, strings.tolist()), dtype=np.int64)
    print(
        f"{args.count} strings: {int((lengths == 0).sum())} empty, lengths 0..{int(lengths.max())}, "
        f"{int((lengths > 1024).sum())} over 1 KB, {int(lengths.sum()) >> 20} MiB"
    )
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "StringToHashBucketFast",
            lambda: hashing.hash_bucket_fast(strings, BUCKETS),
            lambda: tf.strings.to_hash_bucket_fast(tensor, BUCKETS).numpy(),
        ),
        *(
            (
                f"StringToHashBucketStrong key={key}",
                lambda key=key: hashing.hash_bucket_strong(strings, BUCKETS, key),
                lambda key=key: tf.strings.to_hash_bucket_strong(tensor, BUCKETS, key).numpy(),
            )
            for key in KEYS
        ),
        (
            "StringToHashBucket",
            lambda: hashing.hash_bucket_legacy(strings, BUCKETS),
            lambda: tf.compat.v1.string_to_hash_bucket(tensor, BUCKETS).numpy(),
        ),
    ]
    results = []
    failed = False
    for name, ours, theirs in cases:
        got, t_ours = _best(ours)
        want, t_tf = _best(theirs)
        bad = int(np.count_nonzero(got != want))
        failed |= bad > 0
        results.append(
            {"op": name, "count": args.count, "mismatches": bad, "fourier_s": t_ours, "tensorflow_s": t_tf}
        )
        print(f"{name:<58} mismatches {bad}  fourier {t_ours:.3f}s  tensorflow {t_tf:.3f}s")
    if args.ranking:
        results += _ranking_host_part()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


def _ranking_host_part() -> list[dict[str, Any]]:
    from fourier.host.executor import HostExecutor
    from fourier.host.extract import load_model
    from fourier.host.partition import partition
    from fourier.testing.preprocessing import ensure_preprocessing, random_requests

    model = load_model(ensure_preprocessing("ranking").path)
    host = HostExecutor(partition(model.graph).host, model.tables)
    rows = []
    for batch in (1, 32, 256, 1024):
        request = random_requests(batch, seed=batch)
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            host(request)
            times.append(time.perf_counter() - t0)
        us = float(np.median(times)) * 1e6
        rows.append({"op": "ranking host part", "batch": batch, "median_us": us})
        print(f"ranking host part, batch {batch:>5}: {us:9.1f} µs per request")
    return rows


if __name__ == "__main__":
    sys.exit(main())
