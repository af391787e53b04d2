"""Compile a graph into an artifact: import, check the signature, lower, compile each bucket."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourier.artifact import BucketEntry, Manifest, ParamSpec, write_artifact
from fourier.errors import CompileError
from fourier.ir.core import Graph
from fourier.ir.types import BATCH
from fourier.packing import PackLayout, plan_packing
from fourier.signature import Signature, TensorSpec

__all__ = ["CompileReport", "compile_model", "graph_signature", "versions", "DEFAULT_BUCKETS"]

DEFAULT_BUCKETS = (32, 64, 128)


@dataclass
class CompileReport:
    """What a compile did: where the artifact went, its buckets, ops, times and size."""

    out: Path
    signature: Signature
    buckets: list[int] | None
    num_ops: int
    op_counts: dict[str, int]
    bucket_seconds: dict[int | None, float]
    total_seconds: float
    artifact_bytes: int
    weight_bytes: int
    notes: list[str] = field(default_factory=list)
    imported_ops: int = 0
    passes: Any = None  # the PipelineReport of the optimization passes


def versions() -> dict[str, str]:
    """Versions recorded in a manifest (and compared when an artifact is loaded)."""
    import jax
    import jaxlib

    from fourier import __version__

    return {"fourier": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__}


def _depends_on_batch(graph: Graph, node_name: str) -> bool:
    batched = {id(n) for n in graph.inputs if n.output.type.shape and BATCH in n.output.type.shape}
    stack, seen = [graph.node(node_name)], set()
    while stack:
        n = stack.pop()
        if id(n) in batched:
            return True
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(v.producer for v in n.inputs)
    return False


def graph_signature(graph: Graph) -> Signature:
    """The signature of a graph, or a CompileError if its shapes cannot be bucketed."""
    inputs = []
    for node in graph.inputs:
        t = node.output.type
        assert t.shape is not None  # the importer refuses unknown-rank inputs
        for axis, d in enumerate(t.shape):
            if axis == 0 and d == BATCH:
                continue
            if not isinstance(d, int):
                raise CompileError(
                    f"input {node.name!r} has shape {t}: dimension {axis} is unknown; only the "
                    "first (batch) dimension may be unknown. Export the graph with that dimension fixed."
                )
        inputs.append(TensorSpec(node.name, t.dtype, t.shape))
    batched = any(s.batched for s in inputs)
    outputs = []
    for name, v in graph.outputs:
        shape = v.type.shape
        if shape is None:
            raise CompileError(f"output {name!r} has unknown rank")
        if batched and any(isinstance(d, str) and BATCH in d for d in shape[1:]):
            raise CompileError(f"output {name!r} has type {v.type}: the batch is folded into a dimension")
        if batched and (not shape or shape[0] != BATCH) and _depends_on_batch(graph, v.producer.name):
            raise CompileError(
                f"output {name!r} has type {v.type}: it depends on batched inputs but does not keep "
                "the batch as its first dimension, so padding requests to a bucket would change it"
            )
        outputs.append(TensorSpec(name, v.type.dtype, shape))
    return Signature(tuple(inputs), tuple(outputs))


def _check_buckets(buckets: Sequence[int]) -> list[int]:
    out = sorted(set(int(b) for b in buckets))
    if not out:
        raise CompileError("no buckets given")
    if out[0] < 1:
        raise CompileError(f"bucket sizes must be positive, got {out[0]}")
    return out


def _arg_specs(signature: Signature, layout: PackLayout | None, batch: int) -> list[Any]:
    """The executable's input arguments at ``batch`` rows: packed buffers, or one per input."""
    from fourier.backends.xla import ArgSpec

    if layout is None:
        return [ArgSpec(s.with_batch(batch), s.dtype) for s in signature.inputs]
    return [ArgSpec(shape, dtype) for shape, dtype in layout.arg_shapes(signature, batch)]


def _packed(lowered: Any, layout: PackLayout, signature: Signature) -> Any:
    """``lowered`` taking packed arguments (unpacked inside the traced function)."""
    inner = lowered.fn
    return dataclasses.replace(lowered, fn=lambda params, args: inner(params, layout.unpack(signature, args)))


def compile_model(
    model: str | Path | Graph,
    out: str | Path,
    buckets: Sequence[int] = DEFAULT_BUCKETS,
    *,
    platform: str | None = None,
    outputs: Sequence[str] | None = None,
    on_bucket: Callable[[int | None, float], None] | None = None,
    on_start: Callable[[int | None], None] | None = None,
    opt_level: int = 2,
    pipeline: str | None = None,
    verify_passes: bool = False,
    reproducer: str | Path | None = None,
    on_pass: Callable[[Any], None] | None = None,
    snapshots: bool = False,
    pack_inputs: bool = True,
) -> CompileReport:
    """Compile ``model`` (a path or an imported Graph) into the artifact directory ``out``.

    The graph is optimized by ``pipeline`` (pass-pipeline text) or else by the passes of
    ``opt_level`` (0: none, 1: cleanup, 2: everything); ``verify_passes`` verifies after each;
    ``snapshots`` keeps the IR after every pass in ``report.passes`` (for the diff viewer);
    ``pack_inputs`` makes the executables take one buffer per input dtype (`fourier.packing`).
    """
    from fourier.backends.jax_lowering import lower_graph
    from fourier.backends.xla import ArgSpec, compile_bucket, device_for, export_polymorphic
    from fourier.importer import load_graph
    from fourier.ir.verifier import verify

    t_start = time.perf_counter()
    from fourier.passes.manager import PassManager, parse_pipeline, pipeline_for_level

    graph = model if isinstance(model, Graph) else load_graph(model, outputs)
    verify(graph)
    imported_ops = graph.num_ops()
    signature = graph_signature(graph)
    passes = parse_pipeline(pipeline) if pipeline is not None else pipeline_for_level(opt_level)
    manager = PassManager(
        passes, verify=verify_passes, snapshots=snapshots, reproducer=reproducer, on_pass=on_pass
    )
    pass_report = manager.run(graph)
    verify(graph)
    after = graph_signature(graph)
    if after != signature:
        raise CompileError(f"the passes changed the graph's signature: {signature} -> {after}")
    notes: list[str] = []
    bucketed = any(s.batched for s in signature.inputs)
    sizes: list[int | None]
    if bucketed:
        sizes = list(_check_buckets(buckets))
    else:
        sizes = [None]
        notes.append(
            "--buckets is not applicable: the graph has no unknown batch dimension, so it is "
            "compiled once at its own static shapes"
        )

    device = device_for(platform)
    lowered = lower_graph(graph)
    param_specs = [ArgSpec(tuple(p.shape), p.dtype.name) for p in lowered.param_values]
    layout = plan_packing(signature) if pack_inputs else None
    if layout is not None:
        lowered = _packed(lowered, layout, signature)
    blobs: dict[str, bytes] = {}
    entries: list[BucketEntry] = []
    seconds: dict[int | None, float] = {}
    for b in sizes:
        if on_start:
            on_start(b)
        tag = f"b{b}" if b is not None else "static"
        in_specs = _arg_specs(signature, layout, b or 0)
        t0 = time.perf_counter()
        compiled = compile_bucket(lowered, param_specs, in_specs, device)
        seconds[b] = time.perf_counter() - t0
        blobs[f"buckets/{tag}.stablehlo"] = compiled.stablehlo
        exe = None
        if compiled.executable is not None:
            exe = f"buckets/{tag}.{device.platform}.xla"
            blobs[exe] = compiled.executable
        entries.append(BucketEntry(b, f"buckets/{tag}.stablehlo", exe, seconds[b]))
        if on_bucket:
            on_bucket(b, seconds[b])

    polymorphic = None
    if bucketed:  # one more module, for any batch size: the runtime's long-tail compiles
        try:
            blobs["buckets/any.stablehlo"] = export_polymorphic(
                lowered, param_specs, _arg_specs(signature, layout, -1)
            )
            polymorphic = "buckets/any.stablehlo"
        except Exception as e:  # the buckets are fine without it; long-tail batches run chunked
            notes.append(
                f"no batch-polymorphic module ({type(e).__name__}: {e}); long-tail batches will run chunked"
            )
    blobs["graph.fir"] = str(graph).encode()
    weights = dict(zip(lowered.param_names, lowered.param_values))
    manifest = Manifest(
        signature=signature,
        buckets=[s for s in sizes if s is not None] or None,
        params=[ParamSpec(n, v.dtype.name, tuple(v.shape)) for n, v in weights.items()],
        executables=entries,
        platform=device.platform,
        device_kind=str(device.device_kind),
        versions=versions(),
        source={"path": graph.source, "sha256": graph.source_sha256},
        passes=[str(p) for p in passes],
        packing=layout.to_json() if layout is not None else None,
        polymorphic=polymorphic,
    )
    out_path = write_artifact(Path(out), manifest, blobs, weights)
    size = sum(f.stat().st_size for f in out_path.rglob("*") if f.is_file())
    return CompileReport(
        out=out_path,
        signature=signature,
        buckets=manifest.buckets,
        num_ops=graph.num_ops(),
        op_counts=graph.op_counts(),
        bucket_seconds=seconds,
        total_seconds=time.perf_counter() - t_start,
        artifact_bytes=size,
        weight_bytes=sum(v.nbytes for v in lowered.param_values),
        notes=notes,
        imported_ops=imported_ops,
        passes=pass_report,
    )
