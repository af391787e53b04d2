"""Compile a graph into an artifact: import, check the signature, lower, compile each bucket."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourier.artifact import BucketEntry, Manifest, ParamSpec, versions, write_artifact
from fourier.errors import CompileError
from fourier.ir.core import Graph
from fourier.ir.types import BATCH, UNKNOWN
from fourier.packing import PackLayout, executable_arg_shapes, plan_packing
from fourier.signature import Signature, TensorSpec

__all__ = [
    "CompileReport",
    "compile_model",
    "graph_signature",
    "check_padding",
    "versions",
    "DEFAULT_BUCKETS",
]

DEFAULT_BUCKETS = (32, 64, 128)


@dataclass
class CompileReport:
    """What a compile did: where the artifact went, its buckets, ops, times and size."""

    out: Path
    signature: Signature
    buckets: list[int] | None
    num_ops: int
    op_counts: dict[str, int]
    bucket_seconds: dict[str, float]  # by shape tag (``b32``, ``b32-S16``, ``static``)
    total_seconds: float
    artifact_bytes: int
    weight_bytes: int
    notes: list[str] = field(default_factory=list)
    imported_ops: int = 0
    passes: Any = None  # the PipelineReport of the optimization passes


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
            if not isinstance(d, int) and not (isinstance(d, str) and d.isidentifier() and d != BATCH):
                raise CompileError(
                    f"input {node.name!r} has shape {t}: dimension {axis} is {d!r}; only the first "
                    "(batch) dimension may be N, and others must be sizes or symbols such as S"
                )
        default = graph.input_defaults.get(node.name)
        inputs.append(
            TensorSpec(
                node.name, t.dtype, t.shape, None if default is None else tuple(default.ravel().tolist())
            )
        )
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
        spec = TensorSpec(name, v.type.dtype, shape)
        known = {n for s in inputs for n in s.symbols}
        if any(isinstance(d, str) and d == UNKNOWN for d in shape) or not set(spec.symbols) <= known:
            raise CompileError(
                f"output {name!r} has type {v.type}: a dimension is unknown or depends on a symbol no "
                "input has, so its size cannot be known for a compiled shape"
            )
        outputs.append(spec)
    unused = tuple(TensorSpec(name, dtype, shape) for name, dtype, shape in graph.unused_inputs)
    signature = Signature(tuple(inputs), tuple(outputs), unused)
    if signature.symbols and not batched:
        raise CompileError(
            f"the inputs have symbolic dimensions {', '.join(signature.symbols)} but no batch dimension"
        )
    return signature


def check_padding(graph: Graph, when: str = "") -> dict[str, Any]:
    """Prove that padding is safe (`fourier.passes.independence`): the batch must be paddable, or
    a CompileError names the nodes that mix rows; for every other symbol of the inputs, record
    whether it is paddable (the runtime pads only those). Returns the manifest's ``padding``."""
    from fourier.passes.independence import analyze

    symbols: set[str] = set()
    for node in graph.inputs:
        symbols |= {d for d in node.output.type.shape or () if isinstance(d, str) and d.isidentifier()}
    out: dict[str, Any] = {}
    if BATCH in symbols:
        batch = analyze(graph, BATCH)
        if not batch.safe:
            where = f"{graph.source}: " if graph.source else ""
            raise CompileError(
                f"{where}padding a request to a bucket would change its results{when}: an output row "
                f"depends on other rows or on the batch size\n{batch.explain()}"
            )
        out[BATCH] = batch.to_json()
    for name in sorted(symbols - {BATCH}):
        out[name] = analyze(graph, name).to_json()
    return out


def _check_buckets(
    buckets: Sequence[int] | str,
    signature: Signature | None = None,
    combos: Sequence[Mapping[str, int]] = ({},),
    max_bucket_bytes: int | None = None,
    notes: list[str] | None = None,
    warn_bucket_bytes: int = 256 << 20,
) -> list[int]:
    """The distinct bucket sizes, sorted, from a sequence of integers or text such as ``"32,64"``.

    With ``signature``: a bucket whose inputs alone (at the largest sizes in ``combos`` of the
    other symbolic dimensions) take more than ``max_bucket_bytes`` a call (None: 4 GiB) is
    refused, and one above ``warn_bucket_bytes`` (256 MiB) is noted in ``notes``: every batch is
    padded up to its bucket, so such a bucket is slow for the batches it serves and may not even
    be allocatable at load."""
    import operator

    items: list[Any]
    try:
        items = buckets.split(",") if isinstance(buckets, str) else list(buckets)
    except TypeError:  # one size, or something that is not sizes at all (refused below)
        items = [buckets]
    out: set[int] = set()
    for b in items:
        if isinstance(b, str) and not b.strip():
            continue
        try:
            out.add(int(b.strip()) if isinstance(b, str) else operator.index(b))
        except (TypeError, ValueError):
            raise CompileError(
                f"buckets: expected batch sizes (integers, or text such as '32,64,128'), got {buckets!r}"
            ) from None
    if not out:
        raise CompileError(f"buckets: no bucket sizes given ({buckets!r})")
    sizes = sorted(out)
    if sizes[0] < 1:
        raise CompileError(f"buckets: sizes must be positive, got {sizes[0]}")
    if signature is None:
        return sizes
    limit = 4 << 30 if max_bucket_bytes is None else int(max_bucket_bytes)

    def show(n: int) -> str:
        return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} B"

    def need(batch: int) -> int:
        return max(bucket_input_bytes(signature, batch, combo) for combo in combos)

    over = [b for b in sizes if need(b) > limit]
    if over:
        row = need(1) - need(0)
        fit = (limit - need(0)) // row if row > 0 else 0
        raise CompileError(
            f"bucket {over[0]}: its inputs alone take {show(need(over[0]))} ({need(over[0])} bytes) "
            f"a call, above the limit of {show(limit)} per bucket"
            + (f" (buckets up to {fit} fit)" if fit > 0 else "")
            + "; use smaller buckets, or raise the limit with --max-bucket-bytes (max_bucket_bytes=)"
        )
    big = [b for b in sizes if need(b) > warn_bucket_bytes]
    if big and notes is not None:
        notes.append(
            f"bucket {big[0]}: its inputs alone take {show(need(big[0]))} a call (above "
            f"{show(warn_bucket_bytes)}); every batch is padded up to its bucket, so the batches it "
            "serves run slowly and serving needs that memory a call"
        )
    return sizes


def bucket_input_bytes(signature: Signature, batch: int, dims: Mapping[str, int]) -> int:
    """Bytes of one call's inputs at ``batch`` rows and the symbol sizes ``dims``."""
    import math

    from fourier.ir.types import numpy_dtype

    return sum(math.prod(s.concrete(batch, dims)) * numpy_dtype(s.dtype).itemsize for s in signature.inputs)


def _arg_specs(
    signature: Signature, layout: PackLayout | None, batch: int | None, dims: Mapping[str, int] | None = None
) -> list[Any]:
    """The executable's input arguments (`fourier.packing.executable_arg_shapes`) as ArgSpecs."""
    from fourier.backends.xla import ArgSpec

    return [ArgSpec(s, d) for s, d in executable_arg_shapes(signature, layout, batch, dims)]


def shape_tag(batch: int | None, dims: Mapping[str, int]) -> str:
    """File-name tag of one compiled shape: ``b32``, ``b32-S16``, ``static``."""
    if batch is None:
        return "static"
    return "-".join([f"b{batch}", *(f"{k}{dims[k]}" for k in sorted(dims))])


def _check_dims(signature: Signature, dims: Mapping[str, Sequence[int]] | None) -> list[dict[str, int]]:
    """Every combination of the sizes to compile for the signature's symbols."""
    given = dict(dims or {})
    extra = sorted(set(given) - set(signature.symbols))
    if extra:
        raise CompileError(
            f"--dim {extra[0]}: the graph has no symbolic dimension {extra[0]!r}"
            + (f" (it has {', '.join(signature.symbols)})" if signature.symbols else "")
        )
    combos: list[dict[str, int]] = [{}]
    for name in signature.symbols:
        users = [s.name for s in signature.inputs if name in s.symbols]
        if not given.get(name):
            raise CompileError(
                f"input {users[0]!r} has the unknown dimension {name!r}: give the sizes to compile "
                f"for it, e.g. --dim {name}=16,32,64 (dims={{{name!r}: [16, 32, 64]}})"
            )
        sizes = sorted(set(int(v) for v in given[name]))
        if sizes[0] < 1:
            raise CompileError(f"--dim {name}: sizes must be positive, got {sizes[0]}")
        combos = [{**c, name: v} for c in combos for v in sizes]
    return combos


def _ir_constants(graph: Graph, lowered: Any, weights: dict[str, Any]) -> dict[str, str]:
    """Where ``graph.fir``'s constants printed by digest live in the weights file, by node name
    (the runtime's reference path parses the IR back). Constants that are not parameters are
    added to ``weights`` under ``ir/NODE``."""
    from fourier.ir.printer import INLINE_CONST_ELEMENTS

    out = {}
    for node in graph.nodes:
        if node.op != "Const" or node.attrs["value"].size <= INLINE_CONST_ELEMENTS:
            continue
        if node.name in lowered.const_params:
            out[node.name] = lowered.param_names[lowered.const_params[node.name]]
        else:
            out[node.name] = f"ir/{node.name}"
            weights[out[node.name]] = node.attrs["value"]
    return out


def _packed(lowered: Any, layout: PackLayout, signature: Signature) -> Any:
    """``lowered`` taking packed arguments (unpacked inside the traced function)."""
    inner = lowered.fn
    return dataclasses.replace(lowered, fn=lambda params, args: inner(params, layout.unpack(signature, args)))


def compile_model(
    model: str | Path | Graph,
    out: str | Path,
    buckets: Sequence[int] | str = DEFAULT_BUCKETS,
    *,
    platform: str | None = None,
    outputs: Sequence[str] | None = None,
    on_bucket: Callable[[str, float], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    opt_level: int = 2,
    pipeline: str | None = None,
    verify_passes: bool = False,
    reproducer: str | Path | None = None,
    on_pass: Callable[[Any], None] | None = None,
    snapshots: bool = False,
    pack_inputs: bool = True,
    dims: Mapping[str, Sequence[int]] | None = None,
    max_bucket_bytes: int | None = None,
) -> CompileReport:
    """Compile ``model`` (a path or an imported Graph) into the artifact directory ``out``.

    The graph is optimized by ``pipeline`` (pass-pipeline text) or else by the passes of
    ``opt_level`` (0: none, 1: cleanup, 2: everything); ``verify_passes`` verifies after each;
    ``snapshots`` keeps the IR after every pass in ``report.passes`` (for the diff viewer);
    ``pack_inputs`` makes the executables take one buffer per input dtype (`fourier.packing`);
    ``dims`` gives the sizes to compile for each symbolic input dimension other than the batch
    (``{"S": [16, 32, 64]}``): one executable per bucket and combination of sizes.
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
    check_padding(graph)  # first: its message names the nodes that make padding unsafe
    signature = graph_signature(graph)
    combos = _check_dims(signature, dims)
    passes = parse_pipeline(pipeline) if pipeline is not None else pipeline_for_level(opt_level)
    manager = PassManager(
        passes, verify=verify_passes, snapshots=snapshots, reproducer=reproducer, on_pass=on_pass
    )
    pass_report = manager.run(graph)
    verify(graph)
    after = graph_signature(graph)
    if after != signature:
        raise CompileError(f"the passes changed the graph's signature: {signature} -> {after}")
    padding = check_padding(graph, when=" after the optimization passes (a pass bug)")
    notes: list[str] = []
    bucketed = any(s.batched for s in signature.inputs)
    sizes: list[int | None]
    if bucketed:
        sizes = list(_check_buckets(buckets, signature, combos, max_bucket_bytes, notes))
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
    seconds: dict[str, float] = {}
    for b in sizes:
        for combo in combos:
            tag = shape_tag(b, combo)
            label = (
                "static shapes"
                if b is None
                else ", ".join([f"bucket {b}", *(f"{k}={v}" for k, v in combo.items())])
            )
            if on_start:
                on_start(label)
            in_specs = _arg_specs(signature, layout, b or 0, combo)
            t0 = time.perf_counter()
            compiled = compile_bucket(lowered, param_specs, in_specs, device)
            seconds[tag] = time.perf_counter() - t0
            blobs[f"buckets/{tag}.stablehlo"] = compiled.stablehlo
            exe = None
            if compiled.executable is not None:
                exe = f"buckets/{tag}.{device.platform}.xla"
                blobs[exe] = compiled.executable
            entries.append(BucketEntry(b, f"buckets/{tag}.stablehlo", exe, seconds[tag], combo))
            if on_bucket:
                on_bucket(label, seconds[tag])

    polymorphic = None
    if bucketed:  # one more module, for any batch size: the runtime's long-tail compiles
        try:
            blobs["buckets/any.stablehlo"] = export_polymorphic(
                lowered, param_specs, _arg_specs(signature, layout, None)
            )
            polymorphic = "buckets/any.stablehlo"
        except Exception as e:  # the buckets are fine without it; long-tail batches run chunked
            notes.append(
                f"no batch-polymorphic module ({type(e).__name__}: {e}); long-tail batches will run chunked"
            )
    blobs["graph.fir"] = str(graph).encode()
    weights = dict(zip(lowered.param_names, lowered.param_values))
    ir_constants = _ir_constants(graph, lowered, weights)
    manifest = Manifest(
        signature=signature,
        buckets=[s for s in sizes if s is not None] or None,
        params=[
            ParamSpec(n, v.dtype.name, tuple(v.shape))
            for n, v in zip(lowered.param_names, lowered.param_values)
        ],
        executables=entries,
        platform=device.platform,
        device_kind=str(device.device_kind),
        versions=versions(),
        source={"path": graph.source, "sha256": graph.source_sha256},
        passes=[str(p) for p in passes],
        packing=layout.to_json() if layout is not None else None,
        polymorphic=polymorphic,
        ir_constants=ir_constants,
        padding=padding,
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
