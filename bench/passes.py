"""What the optimization pipeline does, measured: node counts against Grappler, per-pass time,
latency with passes on vs off, and how pipeline time grows with graph size.

    python bench/passes.py counts    # zoo node counts: imported / Fourier -O2 / Grappler; pass times
    python bench/passes.py latency   # -O0 vs -O2 artifacts, alternating runs, median and p99
    python bench/passes.py scaling   # synthetic graphs of 1k, 10k, 100k nodes through -O2
    python bench/passes.py all       # the three, into bench/results/passes_cpu.json

Results go to ``bench/results/passes_cpu.json`` (each section replaces its own key) and a
markdown summary is printed; docs/passes.md quotes that file.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RESULTS = Path(__file__).parent / "results" / "passes_cpu.json"


def _machine() -> dict[str, Any]:
    import jax

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0].device_kind),
    }


def _save(section: str, data: Any) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old[section] = data
    old["machine"] = _machine()
    RESULTS.write_text(json.dumps(old, indent=2) + "\n")


def grappler_count(pb: Path, outputs: list[str]) -> tuple[int, int, dict[str, int]]:
    """Nodes (all, and without Const/Placeholder) after TensorFlow's default Grappler pipeline."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.grappler import tf_optimizer

    from fourier.ir.core import count_ops

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        meta = tf.compat.v1.train.export_meta_graph(graph=g)
    fetch = meta.collection_def["train_op"]
    fetch.node_list.value.extend(outputs)
    config = config_pb2.ConfigProto()
    optimized = tf_optimizer.OptimizeGraph(config, meta)
    ops: dict[str, int] = {}
    for n in optimized.node:
        ops[n.op] = ops.get(n.op, 0) + 1
    return len(optimized.node), count_ops(ops), dict(sorted(ops.items()))


def counts() -> dict[str, Any]:
    import fourier
    from fourier.passes.manager import PassManager, pipeline_for_level
    from fourier.testing.zoo import ZOO_NAMES, ensure_zoo

    zoo = ensure_zoo(ZOO_NAMES)
    out: dict[str, Any] = {}
    for name in ZOO_NAMES:
        zm = zoo[name]
        graph = fourier.import_graph(zm.pb)
        imported = (len(graph.nodes), graph.num_ops())
        times: dict[str, list[float]] = {}
        for _ in range(5):  # median of 5 pipeline runs for the per-pass times
            g = fourier.import_graph(zm.pb)
            report = PassManager(pipeline_for_level(2)).run(g)
            for r in report.records:
                times.setdefault(f"{r.index:02d} {r.name}", []).append(r.seconds)
        per_pass = {k: float(np.median(v)) for k, v in sorted(times.items())}
        optimized = (len(g.nodes), g.num_ops())
        gr_all, gr_ops, gr_types = grappler_count(zm.pb, list(zm.outputs))
        out[name] = {
            "imported_nodes": imported[0],
            "imported_ops": imported[1],
            "fourier_nodes": optimized[0],
            "fourier_ops": optimized[1],
            "grappler_nodes": gr_all,
            "grappler_ops": gr_ops,
            "fourier_op_types": g.op_counts(),
            "grappler_op_types": gr_types,
            "pipeline_seconds": float(sum(per_pass.values())),
            "pass_seconds": per_pass,
        }
        print(
            f"| {name} | {imported[0]} ({imported[1]}) | {optimized[0]} ({optimized[1]}) | "
            f"{gr_all} ({gr_ops}) | {sum(per_pass.values()) * 1e3:.0f} ms |",
            flush=True,
        )
    _save("counts", out)
    return out


def _time_alternating(
    models: dict[str, Any], feeds: dict[str, np.ndarray], rounds: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():  # warm-up, excluded
        for _ in range(3):
            m(feeds)
    for _ in range(rounds):
        for key, m in models.items():
            t0 = time.perf_counter()
            m(feeds)
            times[key].append(time.perf_counter() - t0)
    return times


def latency(rounds: int = 200) -> dict[str, Any]:
    import tempfile

    import fourier
    from fourier.testing.zoo import ZOO_NAMES, ensure_zoo, random_inputs

    zoo = ensure_zoo(ZOO_NAMES)
    out: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="fourier-bench-"))
    for name in ZOO_NAMES:
        zm = zoo[name]
        batches = [8] if name == "mobilenetv2" else [32, 128]
        models = {}
        for level in (0, 2):
            fourier.compile(zm.pb, tmp / f"{name}-O{level}", buckets=batches, opt_level=level)
            models[f"O{level}"] = fourier.load(tmp / f"{name}-O{level}")
        out[name] = {}
        for b in batches:
            feeds = random_inputs(zm, b, seed=b)
            n = max(20, rounds // 10) if name == "mobilenetv2" else rounds
            t = _time_alternating(models, feeds, n)
            row = {
                k: {"median_ms": float(np.median(v) * 1e3), "p99_ms": float(np.percentile(v, 99) * 1e3)}
                for k, v in t.items()
            }
            row["speedup_median"] = row["O0"]["median_ms"] / row["O2"]["median_ms"]
            out[name][str(b)] = row
            print(
                f"| {name} | {b} | {row['O0']['median_ms']:.3f} | {row['O2']['median_ms']:.3f} | "
                f"{row['speedup_median']:.2f}x |",
                flush=True,
            )
    _save("latency", out)
    return out


def synthetic_graph(blocks: int) -> Any:
    """A graph of ``blocks`` dense blocks with the redundancy real exports have (~20 nodes each):
    Identity reads, a Tensordot-style reshape pair, MatMul + BiasAdd + Relu, a duplicated scale
    (for CSE), a multiply by one, and a residual add."""
    import fourier.ops  # noqa: F401  (installs the op registry the graph is built with)
    from fourier.ir.core import Graph

    rng = np.random.default_rng(0)
    g = Graph(f"synthetic{blocks}")
    width = 8
    x = g.add_node("Placeholder", [], {"dtype": "float32", "shape": ("N", width)}, name="x").output
    for i in range(blocks):
        p = f"b{i}/"
        w = g.add_node(
            "Const", [], {"value": rng.standard_normal((width, width)).astype(np.float32) * 0.3}, name=p + "w"
        ).output
        b = g.add_node(
            "Const", [], {"value": rng.standard_normal(width).astype(np.float32) * 0.1}, name=p + "b"
        ).output
        shape = g.add_node(
            "Const", [], {"value": np.array([-1, width], dtype=np.int32)}, name=p + "shape"
        ).output
        one = g.add_node("Const", [], {"value": np.array(1.0, dtype=np.float32)}, name=p + "one").output
        half = g.add_node("Const", [], {"value": np.array(0.5, dtype=np.float32)}, name=p + "half").output
        half2 = g.add_node("Const", [], {"value": np.array(0.5, dtype=np.float32)}, name=p + "half2").output
        wi = g.add_node("Identity", [w], name=p + "w/read").output
        r1 = g.add_node("Reshape", [x, shape], name=p + "flat").output
        mm = g.add_node(
            "MatMul", [r1, wi], {"transpose_a": False, "transpose_b": False}, name=p + "mm"
        ).output
        r2 = g.add_node("Reshape", [mm, shape], name=p + "unflat").output
        ba = g.add_node("BiasAdd", [r2, b], {"data_format": "NHWC"}, name=p + "bias").output
        act = g.add_node("Relu", [ba], name=p + "relu").output
        s1 = g.add_node("Mul", [act, half], name=p + "scale1").output
        s2 = g.add_node("Mul", [half2, act], name=p + "scale2").output
        tot = g.add_node("AddV2", [s1, s2], name=p + "sum").output
        m1 = g.add_node("Mul", [tot, one], name=p + "times_one").output
        idn = g.add_node("Identity", [m1], name=p + "out").output
        x = g.add_node("AddV2", [x, idn], name=p + "residual").output
    g.set_outputs([("y", x)])
    return g


def scaling() -> dict[str, Any]:
    from fourier.ir.verifier import verify
    from fourier.passes.manager import PassManager, pipeline_for_level

    out: dict[str, Any] = {}
    for blocks in (56, 556, 5556):
        g = synthetic_graph(blocks)
        nodes = len(g.nodes)
        verify(g)
        t0 = time.perf_counter()
        report = PassManager(pipeline_for_level(2)).run(g)
        seconds = time.perf_counter() - t0
        verify(g)
        slowest = sorted(report.records, key=lambda r: -r.seconds)[:3]
        out[str(nodes)] = {
            "nodes_before": nodes,
            "nodes_after": len(g.nodes),
            "seconds": seconds,
            "us_per_node": seconds / nodes * 1e6,
            "slowest_passes": {f"{r.index:02d} {r.name}": r.seconds for r in slowest},
        }
        print(f"| {nodes} | {len(g.nodes)} | {seconds:.2f} s | {seconds / nodes * 1e6:.1f} us |", flush=True)
    _save("scaling", out)
    return out


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("counts", "all"):
        print("| model | imported nodes (ops) | Fourier -O2 | Grappler | pipeline time |")
        counts()
    if what in ("scaling", "all"):
        print("| nodes | after -O2 | time | per node |")
        scaling()
    if what in ("latency", "all"):
        print("| model | batch | -O0 median ms | -O2 median ms | speedup |")
        latency()
