"""The host part's time against the device part's, per request, for the preprocessing models.

    python bench/host_part.py prepare DIR
    python bench/host_part.py run DIR OUT.jsonl [--batches 1,32,128,1024] [--rounds 20] [--platform P]

The models start with string hashing and lookup tables, which Fourier runs on the host (numpy)
before the dense part runs in XLA: ``ranking`` (`fourier.testing.preprocessing`: Keras
``StringLookup``, ``Hashing``, ``IntegerLookup``, ``Discretization``), ``input_layer`` and
``dense_features`` (`fourier.testing.feature_columns`: ``tf.feature_column`` hash buckets,
vocabularies, crosses and sparse embedding combiners).

``prepare`` (needs TensorFlow) builds the SavedModels and compiles each into the artifact
``DIR/<name>`` for buckets 32, 128 and 1024, and writes ``DIR/host_part.json`` (the models and the
module whose ``random_requests`` feeds each). ``run`` needs neither TensorFlow nor the compiler
(the GPU machine has none): it loads each artifact with `fourier.load` on JAX's default device
(or ``--platform``; an artifact compiled on another device is recompiled from its StableHLO at
load), makes the requests with the modules' own ``random_requests(batch, seed=batch)`` (numpy
only), checks that the outputs are finite and of the signature's shapes, then times the models in
alternating rounds of 10 calls (the order reversed every other round). Reported per model and
batch (medians over calls, µs, host numpy in -> host numpy out): the whole call, the host part's
own time (what the runtime records as ``model.metrics`` ``latency["host"]``, read per call), the
device part (whole minus host per call: input checks, padding to the bucket, copies to and from
the device and the executable), the platform and device kind, and the number of host-part nodes
(all, and without ``Placeholder`` and ``Const``). One JSON object per (model, batch) line is
appended to OUT.jsonl, and a table printed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUCKETS = (32, 128, 1024)
INDEX = "host_part.json"
# name -> (builder module, its ensure function)
MODELS = {
    "ranking": ("fourier.testing.preprocessing", "ensure_preprocessing"),
    "input_layer": ("fourier.testing.feature_columns", "ensure_feature_columns"),
    "dense_features": ("fourier.testing.feature_columns", "ensure_feature_columns"),
}


def prepare(out: Path) -> None:
    """Build the SavedModels (TensorFlow) and compile each into ``out/<name>``."""
    import fourier

    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"buckets": list(BUCKETS), "models": {}}
    for name, (module, ensure) in MODELS.items():
        saved = getattr(importlib.import_module(module), ensure)(name)
        t0 = time.perf_counter()
        report = fourier.compile(saved.path, out / name, list(BUCKETS))
        print(f"{name}: compiled in {time.perf_counter() - t0:.1f} s -> {out / name}")
        if report.host is None:
            raise SystemExit(f"{name}: the compiled artifact has no host part")
        index["models"][name] = {"requests": module, "saved_model": str(saved.path)}
    (out / INDEX).write_text(json.dumps(index, indent=1) + "\n")


def requests_for(module: str, name: str, batch: int) -> dict[str, np.ndarray]:
    """The request the benchmark feeds ``name`` at ``batch`` (numpy only, no TensorFlow)."""
    random_requests = importlib.import_module(module).random_requests
    if module.endswith(".preprocessing"):
        return random_requests(batch, seed=batch, model=name)  # type: ignore[no-any-return]
    return random_requests(batch, seed=batch)  # type: ignore[no-any-return]


def check(name: str, model: Any, feeds: dict[str, np.ndarray], batch: int) -> None:
    """Outputs finite and of the signature's shapes (leading dimension ``batch`` for outputs the
    host part computes); raises AssertionError."""
    expected = {s.name: s.with_batch(batch) for s in model.signature.outputs}
    got = model(feeds)
    assert got, f"{name}: no outputs"
    for k, v in got.items():
        v = np.asarray(v)
        want = expected.get(k)
        shape_ok = v.shape == want if want is not None else v.shape[:1] == (batch,)
        assert shape_ok, f"{name} batch {batch}: {k} has shape {v.shape}, expected {want or (batch, '...')}"
        if v.dtype.kind in "fc":
            assert np.isfinite(v).all(), f"{name} batch {batch}: {k} is not finite"


def _host_seconds(model: Any) -> float:
    """Seconds the runtime has recorded for the host part so far."""
    h = model.metrics.latency.get("host")
    return float(h.sum) if h is not None else 0.0


def _calls(model: Any, feeds: dict[str, np.ndarray], n: int) -> tuple[list[float], list[float]]:
    """``n`` calls: (whole seconds, host-part seconds) per call."""
    whole, host = [], []
    for _ in range(n):
        h0 = _host_seconds(model)
        t0 = time.perf_counter()
        model(feeds)
        whole.append(time.perf_counter() - t0)
        host.append(_host_seconds(model) - h0)
    return whole, host


def _device_kind(model: Any) -> str:
    import jax

    try:
        return str(jax.devices(model.load_info.platform)[0].device_kind)
    except RuntimeError:
        return ""


def run(root: Path, out: Path, batches: list[int], rounds: int, platform: str | None) -> list[dict[str, Any]]:
    """Load every artifact of ``root``, check it, time it; append one row per (model, batch)."""
    import fourier

    index = json.loads((root / INDEX).read_text())
    models: dict[str, Any] = {}
    modules: dict[str, str] = {}
    for name, meta in index["models"].items():
        t0 = time.perf_counter()
        models[name] = fourier.load(root / name, platform, cache_dir=None)
        modules[name] = meta["requests"]
        info = models[name].load_info
        print(
            f"{name}: loaded in {time.perf_counter() - t0:.1f} s on {info.platform}"
            f" ({len(info.recompiled)} shapes recompiled)",
            file=sys.stderr,
        )
    bad = sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")
    if bad:
        print(f"note: TensorFlow is loaded in this process ({bad[0]})", file=sys.stderr)
    rows = []
    with out.open("a") as f:
        for batch in batches:
            feeds = {name: requests_for(modules[name], name, batch) for name in models}
            for name, model in models.items():
                check(name, model, feeds[name], batch)
                _calls(model, feeds[name], 3)  # warm up this batch's path
            whole: dict[str, list[float]] = {k: [] for k in models}
            host: dict[str, list[float]] = {k: [] for k in models}
            order = list(models)
            for r in range(rounds):
                for name in order if r % 2 == 0 else order[::-1]:
                    w, h = _calls(models[name], feeds[name], 10)
                    whole[name] += w
                    host[name] += h
            for name, model in models.items():
                part = model.host_part
                nodes = list(part.graph.nodes) if part is not None else []
                ws, hs = np.array(whole[name]), np.array(host[name])
                row = {
                    "model": name,
                    "batch": batch,
                    "bucket": model.bucket_for(batch) if batch <= max(index["buckets"]) else None,
                    "whole_us": float(np.median(ws) * 1e6),
                    "host_us": float(np.median(hs) * 1e6),
                    "device_us": float(np.median(ws - hs) * 1e6),
                    "host_share": float(np.median(hs / ws)),
                    "calls": len(ws),
                    "platform": model.load_info.platform,
                    "device_kind": _device_kind(model),
                    "copy_path": model.load_info.copy_path,
                    "host_nodes": len(nodes),
                    "host_ops": sum(n.op not in ("Placeholder", "Const") for n in nodes),
                    "crossings": len(part.crossings) if part is not None else 0,
                }
                rows.append(row)
                f.write(json.dumps(row) + "\n")
                f.flush()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width table."""
    head = (
        f"{'model':<16}{'batch':>6}{'whole µs':>11}{'host µs':>11}{'device µs':>11}{'host %':>8}{'nodes':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['model']:<16}{r['batch']:>6}{r['whole_us']:>11.1f}{r['host_us']:>11.1f}"
            f"{r['device_us']:>11.1f}{100 * r['host_share']:>7.0f}%{r['host_nodes']:>7}"
        )
    if rows:
        lines.append(
            f"platform {rows[0]['platform']} ({rows[0]['device_kind']}), copy path {rows[0]['copy_path']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="build and compile the models (needs TensorFlow)")
    p.add_argument("dir", type=Path)
    r = sub.add_parser("run", help="time the compiled models (no TensorFlow needed)")
    r.add_argument("dir", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--batches", default="1,32,128,1024")
    r.add_argument("--rounds", type=int, default=20)
    r.add_argument("--platform", default=None, help="JAX platform to load on (default: JAX's default)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.dir)
    else:
        rows = run(args.dir, args.out, [int(b) for b in args.batches.split(",")], args.rounds, args.platform)
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
