"""XLA compile options, measured: which ones make a served call cheaper on this machine.

    python bench/gpu_options.py ZOO_DIR OUT.jsonl [--models deepfm,dcn,din] [--batches 32,128,1024]
        [--variants NAME=JSON ...] [--platform cuda]

Per model, one artifact per variant (a set of XLA debug options, passed as ``FOURIER_XLA_OPTIONS``
while compiling, so exactly as `fourier.backends.xla.compiler_options` would apply them), each
checked against TensorFlow's reference outputs (``NAME.ref.npz`` in ZOO_DIR) first. Then per batch,
alternating between variants so drift hits all alike (medians, µs):

- ``call``: the whole request, host numpy in -> host numpy out (`Model.__call__`);
- ``execute``: the executable alone on device-resident inputs, waited on;
- ``in_flight``: the same with 8 calls issued before one wait, per call (the GPU's own time plus
  what dispatch cannot hide).

Needs no TensorFlow (zoo graphs and references in ZOO_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gpu_serving import _tile, alternate

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "graph_min_1": {"xla_gpu_graph_min_graph_size": 1},
    "no_command_buffer": {"xla_gpu_enable_command_buffer": ""},
    "no_triton_gemm": {"xla_gpu_enable_triton_gemm": False},
    "all_command_buffer": {
        "xla_gpu_enable_command_buffer": "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,DYNAMIC_SLICE_FUSION",
        "xla_gpu_graph_min_graph_size": 1,
    },
}


def _median_us(fn: Any, rounds: int = 5, per_round: int = 40) -> float:
    for _ in range(20):
        fn()
    ts = []
    for _ in range(rounds * per_round):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e6


def _resident(model: Any, batch: int) -> tuple[Any, Any]:
    """(execute and wait, 8 in flight then wait) on device inputs of bucket ``batch``."""
    import jax

    exe = model._executables[(batch,)][0]
    copy = model.replicas[0].copy
    if copy is not None:
        slot = copy._acquire((batch,))
        copy._pools[(batch,)].put(slot)
        inputs = slot.device_in
    else:
        from fourier.packing import executable_arg_shapes

        shapes = executable_arg_shapes(model.signature, model._layout, batch, {})
        with jax.enable_x64(True):
            inputs = [jax.device_put(np.zeros(s, d), exe.device) for s, d in shapes]

    def execute() -> None:
        for o in exe.execute_resident(inputs):
            o.block_until_ready()

    def in_flight() -> None:
        outs = [exe.execute_resident(inputs) for _ in range(8)]
        jax.block_until_ready(outs)

    return execute, in_flight


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoo", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", default="deepfm,dcn,din")
    ap.add_argument("--batches", default="32,128,1024")
    ap.add_argument("--platform", default="cuda")
    ap.add_argument("--variants", nargs="*", default=None, help="NAME=JSON, replacing the built-in set")
    args = ap.parse_args(argv)
    os.environ["FOURIER_ZOO_DIR"] = str(args.zoo)
    import jax

    import fourier
    from fourier.testing.references import read_references, read_zoo_model

    variants = VARIANTS
    if args.variants:
        variants = {v.split("=", 1)[0]: json.loads(v.split("=", 1)[1]) for v in args.variants}
    batches = [int(b) for b in args.batches.split(",")]
    device = jax.devices(args.platform)[0]
    for name in args.models.split(","):
        zm = read_zoo_model(args.zoo, name)
        refs = read_references(args.zoo / f"{name}.ref.npz", zm)
        models: dict[str, Any] = {}
        compile_s: dict[str, float] = {}
        worst: dict[str, float] = {}
        for label, options in variants.items():
            os.environ["FOURIER_XLA_OPTIONS"] = json.dumps(options)
            out = Path(tempfile.mkdtemp()) / name
            t0 = time.perf_counter()
            try:
                fourier.compile(zm.pb, out, buckets=batches, platform=args.platform)
                models[label] = fourier.load(out, args.platform, cache_dir=None)
            except Exception as e:  # an option this XLA does not know
                print(json.dumps({"model": name, "variant": label, "error": str(e)[:300]}), flush=True)
                continue
            finally:
                os.environ.pop("FOURIER_XLA_OPTIONS", None)
            compile_s[label] = round(time.perf_counter() - t0, 1)
            err = 0.0
            for batch, (feeds, want) in refs.items():
                got = models[label](feeds)
                for k, w in want.items():
                    np.testing.assert_allclose(got[k], w, rtol=1e-4, atol=1e-5, err_msg=f"{label} {batch}")
                    err = max(err, float(np.max(np.abs(got[k] - w))) if w.size else 0.0)
            worst[label] = err
        base = refs[128][0]
        for batch in batches:
            feeds = _tile(base, batch)
            calls = alternate({k: (lambda m=m: m(feeds)) for k, m in models.items()})
            rec: dict[str, Any] = {
                "what": "xla_options",
                "model": name,
                "batch": batch,
                "device": str(device.device_kind),
                "compile_s": compile_s,
                "max_abs_err_vs_tf": worst,
                "variants": {k: variants[k] for k in models},
                "call": {k: v["p50_us"] for k, v in calls.items()},
                "call_p99": {k: v["p99_us"] for k, v in calls.items()},
                "execute": {},
                "in_flight": {},
            }
            for label, m in models.items():
                execute, in_flight = _resident(m, batch)
                rec["execute"][label] = round(_median_us(execute), 1)
                rec["in_flight"][label] = round(_median_us(in_flight, per_round=10) / 8, 1)
            with args.out.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)
        for m in models.values():
            m.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
