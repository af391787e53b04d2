"""The long fuzz run: structured mutations and byte corruptions of zoo GraphDefs for a while.

    python bench/fuzz.py --seconds 600 [--seed 0] [--compile] [--out fuzz-crashes]

Each case goes through `fourier.testing.fuzz.check` (parse, import, verify, -O2 with verification,
independence analysis, signature); with ``--compile`` the ones that pass are also compiled for one
bucket through XLA and run once on random inputs. Inputs that escape with anything but a
FourierError are written to ``--out`` with their traceback; the outcome counts are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from fourier.importer.protos import GraphDef
    from fourier.testing.fuzz import check, mutate
    from fourier.testing.zoo import ensure_zoo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="mlp,ranker,bst,transformer")
    parser.add_argument("--compile", action="store_true", help="also compile and run what passes")
    parser.add_argument("--out", type=Path, default=Path("fuzz-crashes"))
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    zoo = ensure_zoo(args.models.split(","))
    seeds = {name: m.pb.read_bytes() for name, m in zoo.items()}
    counts: Counter[str] = Counter()
    crashes = 0
    t_end = time.monotonic() + args.seconds
    while time.monotonic() < t_end:
        name = rng.choice(sorted(seeds))
        if rng.random() < 0.2:
            raw = bytearray(seeds[name])
            if rng.random() < 0.5:
                raw = raw[: rng.randrange(len(raw) + 1)]
            for _ in range(rng.randint(1, 8)):
                if raw:
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
            data, how = bytes(raw), ["bytes"]
        else:
            gd = GraphDef()
            gd.ParseFromString(seeds[name])
            how = mutate(gd, lambda n: rng.randrange(max(n, 1)), rng.randint(1, 3))
            data = gd.SerializeToString()
        try:
            counts[check(data, compile=args.compile)] += 1
        except Exception:
            crashes += 1
            args.out.mkdir(parents=True, exist_ok=True)
            stem = args.out / f"crash-{name}-{crashes}"
            stem.with_suffix(".pb").write_bytes(data)
            stem.with_suffix(".txt").write_text(" ".join(how) + "\n" + traceback.format_exc())
            print(f"crash {crashes}: {name} {how}: {traceback.format_exc().splitlines()[-1]}", flush=True)
    print(
        json.dumps(
            {
                "cases": sum(counts.values()) + crashes,
                "crashes": crashes,
                "outcomes": dict(counts.most_common()),
            },
            indent=1,
        )
    )
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
