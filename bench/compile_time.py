"""How long compiling each zoo model takes, stage by stage: import, optimize (the -O2 passes),
lower, and per bucket the trace to StableHLO and the XLA compile; then the whole compile of the
three buckets with them compiled one at a time and at once (`fourier.compiler.compile_workers`).

    python bench/compile_time.py [--buckets 32,64,128] [models...]

Results go to ``bench/results/compile_time.json``; a markdown table is printed, which
docs/benchmarks.md quotes. Models with an unknown sequence length (``bst``, ``ranker``) compile
every length of their ``dims`` too, so they compile more shapes than three.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RESULTS = Path(__file__).parent / "results" / "compile_time.json"


def _stages(pb: Path, buckets: list[int], dims: dict[str, list[int]]) -> dict[str, Any]:
    from fourier.backends.xla import compile_exported, export_bucket
    from fourier.compiler import import_model

    t0 = time.perf_counter()
    imported = import_model(pb)
    t1 = time.perf_counter()
    optimized = imported.optimize(opt_level=2)
    t2 = time.perf_counter()
    lowered = optimized.lower(buckets, dims)
    t3 = time.perf_counter()
    shapes = {}
    for shape in lowered.shapes:
        args = list(shape.args)
        hlo, traced = export_bucket(lowered.lowered, lowered.param_specs, args)
        done = compile_exported(hlo, lowered.param_specs, args, lowered.device, traced)
        shapes[shape.tag] = {"trace": round(traced, 2), "xla": round(done.compile_seconds, 2)}
    return {
        "imported_ops": imported.imported_ops,
        "ops": optimized.graph.num_ops(),
        "import": round(t1 - t0, 2),
        "optimize": round(t2 - t1, 2),
        "lower": round(t3 - t2, 2),
        "shapes": shapes,
    }


def _whole(pb: Path, buckets: list[int], dims: dict[str, list[int]], workers: int) -> float:
    """Wall seconds of import -> package with ``workers`` shapes compiling at once."""
    from fourier.compiler import import_model

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        lowered = import_model(pb).optimize(opt_level=2).lower(buckets, dims)
        lowered.compile(workers=workers).package(Path(out) / "model.fourier")
        return round(time.perf_counter() - t0, 2)


def main(argv: list[str] | None = None) -> int:
    from fourier.compiler import compile_workers
    from fourier.testing.zoo import ZOO_NAMES, ensure_zoo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=list(ZOO_NAMES))
    parser.add_argument("--buckets", default="32,64,128")
    args = parser.parse_args(argv)
    buckets = [int(b) for b in args.buckets.split(",")]
    zoo = ensure_zoo(args.models)
    _whole(zoo[args.models[0]].pb, buckets[:1], {k: v[:1] for k, v in zoo[args.models[0]].dims.items()}, 1)
    rows: dict[str, Any] = {}
    for name in args.models:
        zm = zoo[name]
        row = _stages(zm.pb, buckets, zm.dims)
        row["one_at_a_time"] = _whole(zm.pb, buckets, zm.dims, 1)
        row["at_once"] = _whole(zm.pb, buckets, zm.dims, compile_workers(len(row["shapes"])))
        row["load_average"] = round(os.getloadavg()[0], 2)
        rows[name] = row
        print(f"{name}: {row}", file=sys.stderr, flush=True)
    import jax

    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": len(os.sched_getaffinity(0)),
            "jax": jax.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
        "buckets": buckets,
        "models": rows,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(
        "| model | ops (imported -> -O2) | import | optimize | lower | XLA per shape | whole, one at a time | whole, at once | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        xla = " / ".join(f"{s['xla']:.1f}" for s in r["shapes"].values())
        print(
            f"| {name} | {r['imported_ops']} -> {r['ops']} | {r['import']:.1f} | {r['optimize']:.1f} | "
            f"{r['lower']:.1f} | {xla} | {r['one_at_a_time']:.1f} | {r['at_once']:.1f} | {r['load_average']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
