"""Fourier's optimized IR on ONNX Runtime, side by side with Fourier's XLA path and with tf2onnx.

For each model and batch: median (and p90) latency of one call from host numpy inputs to host numpy
outputs, the engines taking turns in one process so that load on the shared machine hits them
alike:

- ``fourier_xla``         `fourier.compile` (-O2, buckets 32 and 128) + `fourier.load`
- ``fourier_ort``         the -O2 graph exported with a symbolic batch (`export_onnx`), one
                          ONNX Runtime session for every batch (`OrtExecutable`)
- ``fourier_ort_static``  the same graph exported at each batch (one session per bucket)
- ``tf2onnx_ort``         TensorFlow's frozen graph converted by tf2onnx (opset 17), if installed

Every ONNX Runtime session: CPU provider, all graph optimizations, ``--threads`` intra-op threads.
Before timing, each engine's outputs are compared with TensorFlow's (max abs difference recorded).

    python bench/onnx_backend.py [--models deepfm dcn ...] [--batches 32 128] [--seconds 1.0]

Appends one JSON line per (model, batch) to bench/results/onnx_backend.jsonl and prints a markdown
table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

MODELS = ("deepfm", "dcn", "wdl", "xdeepfm", "din")
BATCHES = (32, 128)
RESULTS = Path(__file__).parent / "results" / "onnx_backend.jsonl"

Feeds = dict[str, np.ndarray]
Runner = Callable[[Feeds], list[np.ndarray]]


def _versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for dist in ("jax", "jaxlib", "onnx", "onnxruntime", "tensorflow", "tf2onnx"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


# -- engines ----------------------------------------------------------------------------------------


def fourier_xla(pb: Path, out: Path, batches: list[int], dims: dict[str, list[int]]) -> Runner:
    import fourier

    fourier.compile(pb, out, sorted(set(batches)), opt_level=2, dims=dims)
    model = fourier.load(out, cache_dir=None)

    def run(feeds: Feeds) -> list[np.ndarray]:
        return list(model(feeds).values())  # outputs by name, in the signature's order

    return run


def _ort_runner(onnx_bytes: bytes, threads: int, input_names: list[str]) -> Runner:
    from fourier.backends.onnxruntime_exec import OrtExecutable

    ex = OrtExecutable(onnx_bytes, intra_op_threads=threads)

    def run(feeds: Feeds) -> list[np.ndarray]:
        return ex([feeds[n] for n in input_names])

    return run


def fourier_ort(graph: Any, threads: int, batch: int | None = None, contrib: bool = False) -> Runner:
    from fourier.backends.onnx_export import export_onnx

    model = export_onnx(graph, batch=batch, contrib_ops=contrib)
    return _ort_runner(model.SerializeToString(), threads, [n.name for n in graph.inputs])


def tf2onnx_ort(pb: Path, inputs: list[str], outputs: list[str], threads: int) -> Runner | None:
    try:
        import tf2onnx
    except ImportError:
        return None
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    proto, _ = tf2onnx.convert.from_graph_def(
        gd, input_names=[f"{n}:0" for n in inputs], output_names=[f"{o}:0" for o in outputs], opset=17
    )
    from fourier.backends.onnxruntime_exec import OrtExecutable

    ex = OrtExecutable(proto.SerializeToString(), intra_op_threads=threads)
    order = [n.split(":")[0] for n in ex.input_names]

    def run(feeds: Feeds) -> list[np.ndarray]:
        return ex([feeds[n] for n in order])

    return run


# -- timing -----------------------------------------------------------------------------------------


def take_turns(runners: dict[str, Runner], feeds: Feeds, seconds: float) -> dict[str, dict[str, float]]:
    """Warm every engine up, then let them take turns (a few calls each, in a rotating order)
    until each has run for ``seconds``."""
    for run in runners.values():
        for _ in range(3):
            run(feeds)
    times: dict[str, list[float]] = {k: [] for k in runners}
    spent = dict.fromkeys(runners, 0.0)
    order = list(runners)
    turn = 0
    while any(spent[k] < seconds for k in runners):
        for name in order[turn % len(order) :] + order[: turn % len(order)]:
            if spent[name] >= seconds:
                continue
            for _ in range(10):
                t0 = time.perf_counter()
                runners[name](feeds)
                dt = time.perf_counter() - t0
                times[name].append(dt)
                spent[name] += dt
        turn += 1
    return {
        k: {
            "median_ms": round(float(np.median(v)) * 1e3, 4),
            "p90_ms": round(float(np.percentile(v, 90)) * 1e3, 4),
            "calls": len(v),
        }
        for k, v in times.items()
    }


def bench_model(
    name: str, batches: list[int], seconds: float, threads: int, tmp: Path
) -> list[dict[str, Any]]:
    from fourier.compiler import import_model
    from fourier.testing.oracle import TFGraph
    from fourier.testing.zoo import ensure_zoo, random_inputs

    zm = ensure_zoo([name])[name]
    graph = import_model(zm.pb).optimize(opt_level=2).graph
    inputs = [n.name for n in graph.inputs]
    outputs = [o for o, _ in graph.outputs]
    t0 = time.perf_counter()
    runners: dict[str, Runner] = {"fourier_xla": fourier_xla(zm.pb, tmp / name, batches, zm.dims)}
    setup = {"fourier_xla_compile_s": round(time.perf_counter() - t0, 2)}
    t0 = time.perf_counter()
    runners["fourier_ort"] = fourier_ort(graph, threads)
    setup["fourier_ort_export_s"] = round(time.perf_counter() - t0, 2)
    try:
        converted = tf2onnx_ort(zm.pb, [s["name"] for s in zm.inputs], outputs, threads)
    except Exception as e:  # tf2onnx's graph can be one ORT refuses (the transformer's Erfc)
        print(f"  {name}: tf2onnx -> ORT unavailable ({type(e).__name__}: {str(e)[:160]})", file=sys.stderr)
        setup["tf2onnx_error"] = f"{type(e).__name__}: {str(e)[:300]}"
        converted = None
    if converted is not None:
        runners["tf2onnx_ort"] = converted
    tf = TFGraph(zm.pb, outputs)
    rows = []
    for batch in batches:
        per_batch = dict(runners)
        per_batch["fourier_ort_static"] = fourier_ort(graph, threads, batch=batch)
        feeds = random_inputs(zm, batch, seed=batch)
        want = tf(feeds)
        max_diff = {}
        for k, run in per_batch.items():
            got = run(feeds)
            max_diff[k] = float(max(np.max(np.abs(g - want[o])) for g, o in zip(got, outputs)))
        timing = take_turns(per_batch, feeds, seconds)
        row = {
            "model": name,
            "batch": batch,
            "threads": threads,
            # The host's load average after timing: the 2 cores are shared, and a loaded host
            # slows multi-threaded ONNX Runtime sessions far more than XLA (spinning thread pool).
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "engines": timing,
            "max_abs_diff_vs_tf": max_diff,
            "setup": setup,
            "inputs": len(inputs),
        }
        rows.append(row)
        print(
            f"  {name} @ {batch}: " + "  ".join(f"{k} {v['median_ms']:.3f}" for k, v in timing.items()),
            file=sys.stderr,
            flush=True,
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    engines = ["fourier_xla", "fourier_ort", "fourier_ort_static", "tf2onnx_ort"]
    engines = [e for e in engines if any(e in r["engines"] for r in rows)]
    head = (
        "| model @ batch | "
        + " | ".join(engines)
        + " | fourier_ort / fourier_xla | fourier_ort / tf2onnx_ort |"
    )
    lines = [head, "|" + "---|" * (len(engines) + 3)]
    for r in rows:
        e = r["engines"]
        cells = [f"{e[k]['median_ms']:.3f}" if k in e else "-" for k in engines]
        vs_xla = e["fourier_ort"]["median_ms"] / e["fourier_xla"]["median_ms"]
        vs_tf2onnx = (
            f"{e['fourier_ort']['median_ms'] / e['tf2onnx_ort']['median_ms']:.2f}"
            if "tf2onnx_ort" in e
            else "-"
        )
        lines.append(
            f"| {r['model']} @ {r['batch']} | " + " | ".join(cells) + f" | {vs_xla:.2f} | {vs_tf2onnx} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--batches", nargs="*", type=int, default=list(BATCHES))
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per engine and batch")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    versions = _versions()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            rows += bench_model(name, args.batches, args.seconds, args.threads, Path(tmp))
    if not args.no_save:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as f:
            for r in rows:
                f.write(json.dumps({"run": stamp, **r, "versions": versions}) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
