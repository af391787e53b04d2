"""TensorFlow's outputs for zoo models, saved beside them, for checks where TensorFlow is absent.

The GPU machine has no TensorFlow, so its tests compare against outputs TensorFlow computed here:
``python -m fourier.testing.references [--out DIR] [names...]`` writes ``NAME.ref.npz`` next to
each zoo graph, holding for every batch in `REFERENCE_BATCHES` the random inputs
(``b{batch}/in/{input}``) and TensorFlow's outputs for them (``b{batch}/out/{output}``).
`read_references` needs only numpy.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from fourier.testing.zoo import ZOO_NAMES, ZooModel, _read, ensure_zoo, random_inputs, zoo_dir

__all__ = ["REFERENCE_BATCHES", "write_references", "read_references", "read_zoo_model"]

REFERENCE_BATCHES = (1, 7, 33, 128, 300)
# Inputs above this many bytes per batch are not stored but regenerated from their seed.
MAX_STORED_INPUT_BYTES = 1 << 20


def write_references(model: ZooModel, batches: tuple[int, ...] = REFERENCE_BATCHES) -> Path:
    """Run ``model`` with TensorFlow on random inputs at ``batches``; write ``NAME.ref.npz``."""
    from fourier.testing.oracle import TFGraph

    oracle = TFGraph(model.pb)
    arrays: dict[str, np.ndarray] = {}
    for batch in batches:
        seq = model.dims["S"][0] if model.dims.get("S") else 16
        feeds = random_inputs(model, batch, seed=batch, seq=seq)
        small = sum(v.nbytes for v in feeds.values()) <= MAX_STORED_INPUT_BYTES
        for k, v in feeds.items():
            if small:
                arrays[f"b{batch}/in/{k}"] = v
            else:  # regenerated from the seed where read; the digest proves they are the same
                arrays[f"b{batch}/sha256/{k}"] = np.frombuffer(_digest(v).encode(), np.uint8)
        for k, v in oracle(feeds).items():
            arrays[f"b{batch}/out/{k}"] = v
    path = model.pb.with_suffix(".ref.npz")
    np.savez(path, **arrays)
    return path


def _digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def read_references(
    path: Path, model: ZooModel | None = None
) -> dict[int, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """``{batch: (inputs, TensorFlow's outputs)}`` from a ``NAME.ref.npz``; inputs too large to
    have been stored are regenerated from ``model`` and checked against their digests."""
    out: dict[int, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
    digests: dict[int, dict[str, str]] = {}
    with np.load(path) as data:
        for key in data.files:
            batch, kind, name = key.split("/", 2)
            feeds, outputs = out.setdefault(int(batch[1:]), ({}, {}))
            if kind == "sha256":
                digests.setdefault(int(batch[1:]), {})[name] = bytes(data[key]).decode()
            else:
                (feeds if kind == "in" else outputs)[name] = data[key]
    for batch, want in digests.items():
        if model is None:
            raise ValueError(f"{path}: batch {batch}'s inputs are regenerated from the zoo model: pass it")
        seq = model.dims["S"][0] if model.dims.get("S") else 16
        feeds = random_inputs(model, batch, seed=batch, seq=seq)
        for name, digest in want.items():
            if _digest(feeds[name]) != digest:
                raise ValueError(
                    f"{path}: regenerated input {name!r} at batch {batch} differs from the one stored"
                )
            out[batch][0][name] = feeds[name]
    return out


def read_zoo_model(directory: Path, name: str) -> ZooModel:
    """A zoo model already on disk (no TensorFlow needed)."""
    return _read(directory, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(ZOO_NAMES))
    parser.add_argument("--out", type=Path, default=None, help="zoo directory [the zoo cache]")
    args = parser.parse_args(argv)
    for name, model in ensure_zoo(args.names, args.out or zoo_dir()).items():
        print(name, write_references(model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
