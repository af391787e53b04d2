"""Every zoo model's outputs through a compiled artifact, saved for a bit-for-bit comparison.

A refactor that must not change numbers (or two commits of the compiler) is checked by running
this under both trees on the same machine and comparing the files::

    python bench/zoo_outputs.py /tmp/after.npz
    python bench/zoo_outputs.py --compare /tmp/before.npz /tmp/after.npz

Each model is compiled at -O2 for buckets 8 and 64 (zoo dims for sequence models) and run at
batches 1, 7, 33 and 64 on seeded inputs; the file holds the outputs by ``model/batch/output``
and the artifact's optimized IR text by ``model/graph.fir``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

BATCHES = (1, 7, 33, 64)


def collect(out: Path, names: list[str]) -> None:
    import fourier
    from fourier.testing.zoo import ensure_zoo, random_inputs

    zoo = ensure_zoo(names)
    saved: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            m = zoo[name]
            art = Path(tmp) / name
            fourier.compile(str(m.pb), str(art), buckets=[8, 64], dims=m.dims or None)
            model = fourier.load(str(art))
            saved[f"{name}/graph.fir"] = np.frombuffer((art / "graph.fir").read_bytes(), np.uint8)
            for b in BATCHES:
                for k, v in model(random_inputs(m, b, seed=b)).items():
                    saved[f"{name}/{b}/{k}"] = np.asarray(v)
            print(name, "done", flush=True)
    np.savez(out, **saved)


def compare(a: Path, b: Path) -> int:
    x, y = np.load(a), np.load(b)
    bad = sorted(set(x.files) ^ set(y.files))
    for k in sorted(set(x.files) & set(y.files)):
        if x[k].dtype != y[k].dtype or x[k].shape != y[k].shape or x[k].tobytes() != y[k].tobytes():
            bad.append(k)
    outputs = [k for k in x.files if not k.endswith("graph.fir")]
    print(
        f"{len(outputs)} outputs, {len(x.files) - len(outputs)} IR texts compared; differing: {bad or 'none'}"
    )
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--models", default=None, help="comma-separated zoo names (default: all)")
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    from fourier.testing.zoo import ZOO_NAMES

    collect(args.out, args.models.split(",") if args.models else list(ZOO_NAMES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
