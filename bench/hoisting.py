"""Request-level hoisting, measured: one user and N candidates, with and without ``--shared``.

    python bench/hoisting.py OUT.jsonl [--models din,ranker,deepfm] [--sizes 100,500,1000]

Per model, two artifacts from the same zoo graph: ``plain`` (every input per row: the serving host
repeats the user's features N times) and ``hoisted`` (``shared=...``: the user's features once).
Both are compiled for buckets 128, 512 and 1024 on JAX's default device (CPU here, the H200 on
the GPU machine) and fed the same request: for ``plain`` with the shared rows repeated, as such a
model is served today. Reported per model and N (medians of alternating rounds, µs): latency host
numpy in -> host numpy out, the bytes of the executable's inputs at the bucket (what is copied to
the device per call), and XLA's FLOP count for the bucket's executable (``cost_analysis``).
Outputs of the two are checked equal (rtol 1e-4, atol 1e-5) before timing. Needs no TensorFlow
when the zoo graphs are present (``FOURIER_ZOO_DIR``).
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

# The user side of each model. DIN and DeepFM: the candidate is the item (C1: item id, C2: its
# category, the fields DIN's histories are over); every other field, the histories and the
# dense features describe the user and the context, the same for every candidate.
_USER_FIELDS = [f"C{i}" for i in range(3, 27)] + [f"I{i}" for i in range(1, 14)]
SHARED = {
    "din": ["hist_C1", "hist_C2", "seq_length", *_USER_FIELDS],
    "ranker": ["user_ids", "user_dense"],
    "twotower": ["user_id", "user_hist", "user_dense"],
    "deepfm": _USER_FIELDS,
}
BUCKETS = (128, 512, 1024)


def _flops(artifact: Path, manifest: Any, bucket: int) -> float | None:
    import jax
    from jax import export

    entry = next(e for e in manifest.executables if e.batch == bucket)
    exported = export.deserialize(bytearray((artifact / entry.stablehlo).read_bytes()))
    with jax.enable_x64(True):
        args, kwargs = jax.tree_util.tree_unflatten(exported.in_tree, exported.in_avals)
        compiled = jax.jit(exported.call).lower(*args, **kwargs).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):
        cost = cost[0] if cost else {}
    return float(cost.get("flops", 0.0)) if cost else None


def _time(fns: dict[str, Any], rounds: int = 7, per_round: int = 10) -> dict[str, float]:
    for fn in fns.values():
        for _ in range(3):
            fn()
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                ts[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) * 1e6 for k, v in ts.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", default="din,ranker,deepfm,twotower")
    ap.add_argument("--sizes", default="100,500,1000")
    args = ap.parse_args()
    import jax

    import fourier
    from fourier.compiler import bucket_input_bytes
    from fourier.longtail import LongTailPolicy
    from fourier.testing.zoo import ensure_zoo, random_inputs

    sizes = [int(s) for s in args.sizes.split(",")]
    device = jax.devices()[0]
    work = Path(tempfile.mkdtemp())
    rows = []
    for name in args.models.split(","):
        zoo = ensure_zoo([name])[name]
        shared = SHARED[name]
        dims = {k: v[:1] for k, v in zoo.dims.items()} or None  # one sequence size (the first)
        seq = zoo.dims["S"][0] if zoo.dims.get("S") else 16
        served = {}
        for kind in ("plain", "hoisted"):
            out = work / f"{name}-{kind}"
            fourier.compile(zoo.pb, out, BUCKETS, dims=dims, shared=shared if kind == "hoisted" else ())
            served[kind] = (out, fourier.load(out, longtail=LongTailPolicy(enabled=False)))
        for n in sizes:
            feeds = random_inputs(zoo, n, seed=n, seq=seq)
            one = {k: (v[:1] if k in shared else v) for k, v in feeds.items()}
            rep = {k: (np.repeat(v[:1], n, 0) if k in shared else v) for k, v in feeds.items()}
            plain, hoisted = served["plain"][1], served["hoisted"][1]
            a, b = plain(rep), hoisted(one)
            for k in a:
                np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-5, err_msg=f"{name} N={n} {k}")
            t = _time({"plain": lambda: plain(rep), "hoisted": lambda: hoisted(one)})
            dim_sizes = {k: v[0] for k, v in (dims or {}).items()}
            bucket = plain.bucket_for(n, tuple(dim_sizes[s] for s in plain.signature.symbols))
            row: dict[str, Any] = {
                "model": name,
                "N": n,
                "bucket": bucket,
                "device": str(device.device_kind),
                "platform": device.platform,
                "plain_us": round(t["plain"], 1),
                "hoisted_us": round(t["hoisted"], 1),
                "speedup": round(t["plain"] / t["hoisted"], 2),
                "plain_bytes": bucket_input_bytes(plain.signature, bucket, dim_sizes),
                "hoisted_bytes": bucket_input_bytes(hoisted.signature, bucket, dim_sizes),
            }
            row["bytes_cut"] = round(row["plain_bytes"] / max(row["hoisted_bytes"], 1), 1)
            fp = _flops(served["plain"][0], plain.manifest, bucket)
            fh = _flops(served["hoisted"][0], hoisted.manifest, bucket)
            row.update(plain_flops=fp, hoisted_flops=fh)
            if fp and fh:
                row["flops_cut"] = round(fp / fh, 2)
            print(json.dumps(row), flush=True)
            rows.append(row)
        for _, m in served.values():
            m.close()
    with args.out.open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
