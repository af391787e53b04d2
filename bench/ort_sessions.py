"""ONNX Runtime sessions side by side in one process: what moves a session's latency on this CPU.

Two experiments, one alternating run each (`compare.alternate`: the engines take turns, each turn
after an untimed pause), appending one JSON line each to ``bench/results/ort_sessions_cpu.jsonl``:

- ``options MODEL BATCH``: the model's -O2 graph as Fourier exports it (one session per session
  option tried) against tf2onnx's conversion of the frozen graph, all with 2 explicit intra-op
  threads: ONNX Runtime's defaults, ``session.set_denormal_as_zero``, ``session.dynamic_block_base``
  4, spinning off, and the batch split in two halves run by two 1-thread sessions at once.
- ``shards MODEL BATCH``: Fourier's session as served (`OrtExecutable`, 2 threads) against the
  same graph run in row slices on 1-thread sessions at once (``shards``), and tf2onnx's session.
- ``placement MODEL BATCH``: five identical 2-thread sessions of the -O2 graph taking turns, with
  the threads left to the OS scheduler (``free``), then with the caller pinned to CPU 0 and every
  session's pool thread to CPU 1 (``pinned``; needs 2 CPUs). The spread between identical sessions
  in ``free`` is what the OS's placement of the caller and the pool thread on one CPU costs.

    python bench/ort_sessions.py options mobilenetv2 32 [--seconds 5]
    python bench/ort_sessions.py placement din 128 [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

RESULTS = Path(__file__).parent / "results" / "ort_sessions_cpu.jsonl"


def _session(path: Path, threads: int, config: dict[str, str] | None = None) -> Any:
    import onnxruntime as rt

    opts = rt.SessionOptions()
    opts.graph_optimization_level = rt.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    for key, value in (config or {}).items():
        opts.add_session_config_entry(key, value)
    return rt.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _fourier_onnx(name: str, tmp: Path) -> tuple[Path, Any, list[str]]:
    """The zoo model compiled at -O2 for ONNX Runtime: its .onnx, the zoo entry, the signature."""
    import fourier
    from fourier.testing.zoo import ensure_zoo

    zm = ensure_zoo([name])[name]
    out = tmp / name
    fourier.compile(zm.pb, out, [32], opt_level=2, backend="onnxruntime", dims={k: [20] for k in zm.dims})
    manifest = json.loads((out / "manifest.json").read_text())
    model = fourier.load(out, cache_dir=None, backend="xla")
    return out / manifest["backend"]["onnx"], zm, [i.name for i in model.signature.inputs]


def _zoo_feeds(zm: Any, batch: int) -> dict[str, np.ndarray]:
    from fourier.testing.zoo import random_inputs

    return random_inputs(zm, batch, seed=batch, seq=20)


def _feeds_for(path: Path, feeds: dict[str, np.ndarray], signature: list[str]) -> dict[str, np.ndarray]:
    """The session's own feeds (packed inputs concatenated) for the zoo's random inputs
    (`_zoo_feeds`)."""
    from fourier.backends.onnxruntime_exec import OrtExecutable

    ex = OrtExecutable(path, intra_op_threads=1)
    plan = ex.bind(signature)
    arrays = [feeds[n] for n in signature]
    return {
        n: arrays[p] if isinstance(p, int) else np.concatenate([arrays[i] for i in p], axis=-1)
        for n, p in zip(ex.input_names, plan)
    }


def _with_tf2onnx(name: str, batch: int, tmp: Path) -> tuple[Path, dict[str, np.ndarray], dict[str, Any]]:
    """Fourier's .onnx, its session feeds at ``batch``, and runners holding tf2onnx's session."""
    import compare

    from fourier.importer import load_graph

    path, zm, signature = _fourier_onnx(name, tmp)
    zoo_feeds = _zoo_feeds(zm, batch)
    graph = load_graph(zm.pb)
    peer, _ = compare.ort(zm.pb, [n.name for n in graph.inputs], [o for o, _ in graph.outputs], tmp)
    runners: dict[str, Any] = {"tf2onnx": lambda f: peer(zoo_feeds)}
    return path, _feeds_for(path, zoo_feeds, signature), runners


def _over_tf2onnx(result: dict[str, Any]) -> dict[str, Any]:
    peer_ms = result["tf2onnx"]["median_ms"]
    return {
        "over_tf2onnx": {k: round(v["median_ms"] / peer_ms, 3) for k, v in result.items()},
        "engines": result,
    }


def options(name: str, batch: int, seconds: float, tmp: Path) -> dict[str, Any]:
    import compare

    path, feeds, runners = _with_tf2onnx(name, batch, tmp)
    configs = {
        "defaults": {},
        "denormal_as_zero": {"session.set_denormal_as_zero": "1"},
        "dynamic_block_base_4": {"session.dynamic_block_base": "4"},
        "no_spinning": {"session.intra_op.allow_spinning": "0"},
    }
    for key, config in configs.items():
        s = _session(path, 2, config)
        runners[key] = lambda f, s=s: s.run(None, feeds)
    one = _session(path, 1, {"session.intra_op.allow_spinning": "0"})
    pool = ThreadPoolExecutor(2)
    half = batch // 2

    def split(f: Any) -> Any:
        parts = [{k: v[:half] for k, v in feeds.items()}, {k: v[half:] for k, v in feeds.items()}]
        runs = [pool.submit(one.run, None, p) for p in parts]
        return np.concatenate([r.result()[0] for r in runs])

    runners["split_2x1_thread"] = split
    return _over_tf2onnx(compare.alternate(runners, {}, seconds))


def shards(name: str, batch: int, seconds: float, tmp: Path) -> dict[str, Any]:
    import compare

    from fourier.backends.onnxruntime_exec import OrtExecutable, usable_cores

    path, feeds, runners = _with_tf2onnx(name, batch, tmp)
    whole = OrtExecutable(path)
    sharded = OrtExecutable(path, shards=usable_cores())
    args = [feeds[n] for n in whole.input_names]
    np.testing.assert_allclose(sharded.run_trusted(args)[0], whole.run_trusted(args)[0], rtol=1e-5, atol=1e-6)
    runners["fourier_ort"] = lambda f: whole.run_trusted(args)
    runners[f"fourier_ort_{sharded.shards}_shards"] = lambda f: sharded.run_trusted(args)
    result = compare.alternate(runners, {}, seconds)
    sharded.close()
    return _over_tf2onnx(result)


def placement(name: str, batch: int, seconds: float, tmp: Path, sessions: int = 5) -> dict[str, Any]:
    import compare

    path, zm, signature = _fourier_onnx(name, tmp)
    feeds = _feeds_for(path, _zoo_feeds(zm, batch), signature)
    out: dict[str, Any] = {}
    for mode in ("free", "pinned"):
        config = {"session.intra_op_thread_affinities": "2"} if mode == "pinned" else {}
        before = os.sched_getaffinity(0)
        if mode == "pinned":
            os.sched_setaffinity(0, {0})
        try:
            ss = [_session(path, 2, config) for _ in range(sessions)]
            runners = {f"session_{i}": (lambda f, s=s: s.run(None, feeds)) for i, s in enumerate(ss)}
            out[mode] = compare.alternate(runners, {}, seconds)
        finally:
            os.sched_setaffinity(0, before)
        medians = [v["median_ms"] for v in out[mode].values()]
        out[mode + "_spread"] = round(max(medians) / min(medians), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=["options", "shards", "placement"])
    parser.add_argument("model")
    parser.add_argument("batch", type=int)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        run = {"options": options, "shards": shards, "placement": placement}[args.experiment]
        result = run(args.model, args.batch, args.seconds, Path(tmp))
    line = {
        "command": "python bench/ort_sessions.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "experiment": args.experiment,
        "model": args.model,
        "batch": args.batch,
        "onnxruntime": onnxruntime.__version__,
        "cpus": sorted(os.sched_getaffinity(0)),
        **result,
    }
    print(json.dumps({k: v for k, v in line.items() if k not in ("engines", "free", "pinned")}, indent=1))
    with args.out.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
