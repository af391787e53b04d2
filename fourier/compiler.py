"""Compile a graph into an artifact, in stages a user can stop at and print (as JAX's stages)::

    imported = import_model("model.pb")              # Imported: graph, signature, padding verdict
    optimized = imported.optimize(opt_level=2)       # Optimized: graph after passes, pass report
    lowered = optimized.lower([32, 64], {"S": [16]}) # Lowered: the JAX function, specs per shape
    compiled = lowered.compile()                     # Compiled: StableHLO, executables, timings
    report = compiled.package("model.fourier")       # the artifact; a CompileReport

`compile_model` is exactly these calls. Each stage has ``__str__`` (a summary) and ``as_text()``
(the IR, or the StableHLO of one shape). The checks the stages make (signature, padding, buckets,
dims) are functions here too.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourier.artifact import BucketEntry, Manifest, ParamSpec, rewrite_manifest, versions, write_artifact
from fourier.backends.jax_lowering import LoweredGraph, lower_graph
from fourier.backends.xla import ArgSpec, compile_exported, device_for, export_bucket, export_polymorphic
from fourier.errors import CompileError, ExternalStateError
from fourier.host.executor import HostPart
from fourier.host.extract import load_model
from fourier.host.partition import needs_host, partition
from fourier.host.saved import save_host
from fourier.importer import load_graph
from fourier.ir.core import Graph
from fourier.ir.saved import SavedGraph, save_graph
from fourier.ir.types import BATCH, UNKNOWN, numpy_dtype
from fourier.ir.verifier import verify
from fourier.packing import PackLayout, executable_arg_shapes, plan_packing
from fourier.passes.hoist import HoistPlan, HoistShared, shared_inputs
from fourier.passes.independence import analyze
from fourier.passes.manager import PassManager, parse_pipeline, pipeline_for_level
from fourier.signature import Signature, TensorSpec

__all__ = [
    "CompileReport",
    "compile_model",
    "import_model",
    "Imported",
    "Optimized",
    "Lowered",
    "Compiled",
    "Shape",
    "graph_signature",
    "check_padding",
    "versions",
    "compile_workers",
    "DEFAULT_BUCKETS",
]

DEFAULT_BUCKETS = (32, 64, 128)
BACKENDS = ("xla", "onnxruntime", "auto")
ONNX_FILE = "model.onnx"


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
    hoist: HoistPlan | None = None  # request-level hoisting, if inputs were declared shared
    host: str | None = None  # the host/device partition (printed), if the model has a host part


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


def _bind_hint(graph: Graph, shape: Sequence[Any]) -> str:
    """For an output whose size is unknown: the inputs that may set it at run time, to bind."""
    if UNKNOWN not in shape:
        return ""
    fed = [
        n.name
        for n in graph.inputs
        if n.output.type.dtype.startswith(("int", "uint")) and BATCH not in (n.output.type.shape or ())
    ]
    if not fed:
        return ""
    return (
        f"; if a value fed at run time sets it (a reshape target, an axis), bind that input to a "
        f"constant with consts={{NAME: VALUE}} / --const NAME=VALUE (inputs without a batch "
        f"dimension: {', '.join(fed)})"
    )


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
                + _bind_hint(graph, shape)
            )
        spec = TensorSpec(name, v.type.dtype, shape)
        known = {n for s in inputs for n in s.symbols}
        if any(isinstance(d, str) and d == UNKNOWN for d in shape) or not set(spec.symbols) <= known:
            raise CompileError(
                f"output {name!r} has type {v.type}: a dimension is unknown or depends on a symbol no "
                "input has, so its size cannot be known for a compiled shape" + _bind_hint(graph, shape)
            )
        outputs.append(spec)
    unused = tuple(TensorSpec(name, dtype, shape) for name, dtype, shape in graph.unused_inputs)
    signature = Signature(tuple(inputs), tuple(outputs), unused)
    if signature.symbols and not batched:
        raise CompileError(
            f"the inputs have symbolic dimensions {', '.join(signature.symbols)} but no batch dimension"
        )
    return signature


def check_padding(graph: Graph, when: str = "", require: bool = False) -> dict[str, Any]:
    """Prove that padding is safe (`fourier.passes.independence`) for the batch and every other
    symbol of the inputs; returns the manifest's ``padding`` (the runtime pads only what was
    proven). A batch that could not be proven paddable is served at exact sizes; with
    ``require`` it is a CompileError naming the nodes instead."""
    symbols: set[str] = set()
    for node in graph.inputs:
        symbols |= {d for d in node.output.type.shape or () if isinstance(d, str) and d.isidentifier()}
    out: dict[str, Any] = {}
    if BATCH in symbols:
        batch = analyze(graph, BATCH)
        if not batch.safe and require:
            where = f"{graph.source}: " if graph.source else ""
            raise CompileError(
                f"{where}padding a request to a bucket would change its results{when}: an output row "
                f"depends on other rows or on the batch size (padding proof required)\n{batch.explain()}"
            )
        out[BATCH] = batch.to_json()
    for name in sorted(symbols - {BATCH}):
        out[name] = analyze(graph, name).to_json()
    return out


def padding_note(padding: Mapping[str, Any]) -> str | None:
    """The compile note for a batch whose padding was not proven (None when it was)."""
    verdict = padding.get(BATCH)
    if verdict is None or verdict.get("safe", True):
        return None
    culprits = sorted({c for o in verdict.get("outputs", {}).values() for c in o.get("culprits", [])})
    shown = "; ".join(culprits[:4]) + (f"; ... ({len(culprits) - 4} more)" if len(culprits) > 4 else "")
    return (
        "padding the batch is not proven safe, so requests run at their exact batch size: a bucket's "
        "own size runs compiled, any other size is answered by the reference interpreter while "
        "that exact size compiles in the background, and requests are never merged or chunked "
        f"(require the proof with require_padding_proof / --require-padding-proof). Where: {shown or 'an output'}"
    )


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

    return sum(math.prod(s.concrete(batch, dims)) * numpy_dtype(s.dtype).itemsize for s in signature.inputs)


def _arg_specs(
    signature: Signature, layout: PackLayout | None, batch: int | None, dims: Mapping[str, int] | None = None
) -> list[ArgSpec]:
    """The executable's input arguments (`fourier.packing.executable_arg_shapes`) as ArgSpecs."""
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
            f"dims={{{extra[0]!r}: ...}} (--dim {extra[0]}=... on the command line): the graph has no "
            f"symbolic dimension {extra[0]!r}"
            + (f" (it has {', '.join(signature.symbols)})" if signature.symbols else "")
        )
    combos: list[dict[str, int]] = [{}]
    for name in signature.symbols:
        users = [s.name for s in signature.inputs if name in s.symbols]
        if not given.get(name):
            raise CompileError(
                f"input {users[0]!r} has the unknown dimension {name!r}: give the sizes to compile "
                f"for it, e.g. dims={{{name!r}: [16, 32, 64]}} (--dim {name}=16,32,64 on the command line)"
            )
        sizes = sorted(set(int(v) for v in given[name]))
        if sizes[0] < 1:
            raise CompileError(
                f"dims[{name!r}] (--dim {name}=... on the command line): sizes must be positive, "
                f"got {sizes[0]}"
            )
        combos = [{**c, name: v} for c in combos for v in sizes]
    return combos


# Passes that must see the graph after hoisting: they merge lookups and products across inputs.
_AFTER_HOISTING = frozenset(
    {"embedding-bag", "fuse-tables", "fuse-gathers", "fuse-horizontal", "fuse-elementwise"}
)


_ROUNDS = 6  # alternating rounds in which `choose_backend` times the executors
# Untimed, before each turn: ONNX Runtime's pool threads spin for ~20-30 ms after a call, on the
# cores the next executor's turn would use.
_PAUSE_S = 0.03


def choose_backend(root: Path, manifest: Manifest, calls: int = 60) -> dict[str, Any]:
    """Time XLA's executables and ONNX Runtime on the written artifact at every bucket (the
    runtime's own paths, device-part inputs drawn at random) and pick the fastest per bucket:
    ``{"choice": {batch: backend}, "timings_us": {batch: {"xla": us, "onnxruntime": us, ...}},
    "shards": {batch: k}}``. Where this host has several cores and the rows are proven
    independent, ONNX Runtime is also timed running the batch as k row slices at once
    (``onnxruntime_sharded``, `Model.shard_ort`); a bucket it wins is served that way."""
    import numpy as np

    from fourier.backends.onnxruntime_exec import usable_cores
    from fourier.runtime import load

    symbols = manifest.signature.symbols
    dims = {s: min(e.dims.get(s, 1) for e in manifest.executables) for s in symbols}
    served = {b: load(root, cache_dir=None, backend=b, warmup=False) for b in ("xla", "onnxruntime")}
    cores = usable_cores()
    if cores > 1:
        sharded = load(root, cache_dir=None, backend="onnxruntime", warmup=False)
        if sharded.shard_ort(cores):
            served["onnxruntime_sharded"] = sharded
        else:
            sharded.close()
    rng = np.random.default_rng(0)
    choice: dict[str, str] = {}
    shards: dict[str, int] = {}
    timings: dict[str, dict[str, float]] = {}
    for batch in manifest.buckets or []:
        arrays = []
        for spec in manifest.signature.inputs:
            shape = spec.concrete(batch, dims)
            dt = numpy_dtype(spec.dtype)
            if np.issubdtype(dt, np.integer):
                arrays.append(rng.integers(0, 2, shape).astype(dt))  # ids valid in every table
            elif dt == np.bool_:
                arrays.append(rng.integers(0, 2, shape).astype(bool))
            else:
                arrays.append(rng.uniform(0, 1, shape).astype(dt))
        ts: dict[str, list[float]] = {name: [] for name in served}
        for model in served.values():  # warm: allocators, caches, thread pools
            for _ in range(10):
                model.run_checked(arrays, batch)
        order = list(served)
        for _ in range(_ROUNDS):  # they take turns, so drift on the host hits all alike
            rng.shuffle(order)  # none always follows another whose pool threads may still spin
            for name in order:
                model = served[name]
                time.sleep(_PAUSE_S)
                for _ in range(max(1, calls // _ROUNDS)):
                    t0 = time.perf_counter()
                    model.run_checked(arrays, batch)
                    ts[name].append(time.perf_counter() - t0)
        row = {name: round(float(np.median(t)) * 1e6, 1) for name, t in ts.items()}
        timings[str(batch)] = row
        best = min(row, key=row.__getitem__)
        if best == "onnxruntime_sharded":
            best, shards[str(batch)] = "onnxruntime", cores
        choice[str(batch)] = best
    for model in served.values():
        model.close()
    return {"choice": choice, "timings_us": timings, "shards": shards}


def _shared_signature(signature: Signature, shared: Sequence[str]) -> Signature:
    """``signature`` with each shared input taking one row (what hoisting makes of it)."""
    inputs = [
        dataclasses.replace(s, shape=(1, *s.shape[1:])) if s.name in shared else s for s in signature.inputs
    ]
    return dataclasses.replace(signature, inputs=tuple(inputs))


def _ir_constants(saved: SavedGraph, lowered: LoweredGraph, weights: dict[str, Any]) -> dict[str, str]:
    """Where ``graph.fir``'s constants printed by digest live in the weights file, by node name
    (the runtime's reference path parses the IR back). Constants that are not parameters are
    added to ``weights`` under ``ir/NODE``."""
    out = {}
    for name, value in saved.constants.items():
        if name in lowered.const_params:
            out[name] = lowered.param_names[lowered.const_params[name]]
        else:
            out[name] = f"ir/{name}"
            weights[out[name]] = value
    return out


def _packed(lowered: LoweredGraph, layout: PackLayout, signature: Signature) -> LoweredGraph:
    """``lowered`` taking packed arguments (unpacked inside the traced function)."""
    inner = lowered.fn
    return dataclasses.replace(lowered, fn=lambda params, args: inner(params, layout.unpack(signature, args)))


# -- the stages ----------------------------------------------------------------------------------


def _ops_line(op_counts: Mapping[str, int], limit: int = 8) -> str:
    """``MatMul x3, Relu x2, ...`` (most frequent first, then by name)."""
    items = sorted(op_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in items[:limit])
    return shown + (f", ... ({len(items) - limit} more op types)" if len(items) > limit else "")


def _padding_lines(padding: Mapping[str, Any]) -> list[str]:
    """One line per symbol of the independence verdict (`check_padding`)."""
    lines = []
    for symbol, verdict in padding.items():
        unsafe = sorted(name for name, o in verdict.get("outputs", {}).items() if not o.get("safe"))
        if verdict.get("safe"):
            lines.append(f"  padding {symbol}: safe")
        else:
            lines.append(f"  padding {symbol}: not safe (outputs {', '.join(unsafe) or '?'})")
    return lines


@dataclass(frozen=True)
class Shape:
    """One shape to compile: a bucket (None: the graph's own static shapes) and the sizes of the
    other symbolic dimensions, with the executable's argument specs."""

    batch: int | None
    dims: dict[str, int]
    args: tuple[ArgSpec, ...]

    @property
    def tag(self) -> str:
        """File-name tag (``b32``, ``b32-S16``, ``static``), also the key of the timings."""
        return shape_tag(self.batch, self.dims)

    @property
    def label(self) -> str:
        """What progress output calls it (``bucket 32, S=16``, ``static shapes``)."""
        if self.batch is None:
            return "static shapes"
        return ", ".join([f"bucket {self.batch}", *(f"{k}={v}" for k, v in self.dims.items())])

    def __str__(self) -> str:
        args = ", ".join(f"{a.dtype}[{','.join(map(str, a.shape))}]" for a in self.args)
        return f"{self.tag}: ({args})"


def compile_workers(shapes: int) -> int:
    """How many shapes XLA compiles at once: one per core this process may run on (its CPU
    affinity, which a container or ``taskset`` narrows), never more than there are shapes."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(shapes, cores))


def import_model(
    model: str | Path | Graph,
    outputs: Sequence[str] | None = None,
    require_padding_proof: bool = False,
    consts: Mapping[str, Any] | None = None,
    host_tables: int | None = None,
) -> Imported:
    """The first stage: ``model`` (a path, or a Graph, then optimized in place later) imported
    and verified, its signature read and the padding of the batch analysed: proven safe, or
    served at exact batch sizes (a CompileError instead with ``require_padding_proof``).
    ``consts`` binds inputs to values known at compile time (``{"k": 8}``); ``host_tables``
    keeps embedding tables above that many bytes in host memory (`fourier.host.partition`)."""
    started = time.perf_counter()
    if isinstance(model, Graph) and consts:
        raise CompileError("consts bind inputs while importing: pass a model path, not a Graph")
    graph, tables = (model, {}) if isinstance(model, Graph) else _load(model, outputs, consts)
    host: HostSide | None = None
    if needs_host(graph, host_tables):  # strings, tables: that part runs on the host
        plan = partition(graph, tables, host_tables)
        if plan.device is None:
            raise CompileError(
                f"{graph.source or graph.name}: every node runs on the host (strings or tables all "
                "the way to the outputs): there is nothing to compile for a device"
            )
        host = HostSide(plan, HostPart.from_plan(plan, tables))
        graph = plan.device
    verify(graph)
    imported_ops = graph.num_ops()
    # First: its message names the nodes that make padding unsafe.
    padding = check_padding(graph, require=require_padding_proof)
    signature = graph_signature(graph)
    return Imported(graph, signature, padding, imported_ops, graph.op_counts(), started, host=host)


def _load(
    model: str | Path, outputs: Sequence[str] | None, consts: Mapping[str, Any] | None
) -> tuple[Graph, dict[str, Any]]:
    """The graph and the contents of the hash tables it reads (a SavedModel's lookup layers,
    read with TensorFlow here at compile time; none for most graphs)."""
    try:
        return load_graph(model, outputs, consts), {}
    except ExternalStateError:  # hash tables: read them (with TensorFlow) with the graph
        pass
    if consts:
        raise CompileError(f"{model}: consts are not supported for a model with tables yet")
    loaded = load_model(model, outputs)
    return loaded.graph, dict(loaded.tables)


@dataclass
class HostSide:
    """The part of a graph that runs on the host (strings, tables) and how it meets the device."""

    plan: Any  # fourier.host.partition.Plan
    part: Any  # fourier.host.executor.HostPart

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": sorted(n.name for n in self.part.graph.inputs),
            "crossings": list(self.part.crossings),
            "device_inputs": list(self.part.device_inputs),
            "host_outputs": list(self.part.host_outputs),
            "tables": sorted(self.part.tables),
            "nodes": len(self.plan.host_nodes),
        }


@dataclass
class Imported:
    """A graph as imported: its signature and the padding verdict. ``optimize`` works on the
    graph in place (as `fourier.optimize` does), so print the graph (`as_text`) before it."""

    graph: Graph
    signature: Signature
    padding: dict[str, Any]  # by symbol: the independence analysis before the passes
    imported_ops: int
    op_counts: dict[str, int]
    started: float = field(default_factory=time.perf_counter, repr=False)  # perf_counter at import
    optimized: bool = field(default=False, repr=False)  # the graph has been optimized in place
    host: HostSide | None = None  # the host part (strings, tables), if the model has one

    def optimize(
        self,
        pipeline: str | None = None,
        *,
        opt_level: int = 2,
        verify_passes: bool = False,
        reproducer: str | Path | None = None,
        on_pass: Callable[[Any], None] | None = None,
        snapshots: bool = False,
        shared: Sequence[str] = (),
    ) -> Optimized:
        """Run ``pipeline`` (pass-pipeline text), else the passes of ``opt_level``, on the graph
        (in place); the passes must keep the signature and padding safe. ``shared`` names
        request-level inputs (one row per request): the `hoist-shared` pass runs first and
        computes what depends only on them once per request (`fourier.passes.hoist`)."""
        if self.optimized:
            raise CompileError("this graph was already optimized in place: import the model again")
        passes = parse_pipeline(pipeline) if pipeline is not None else pipeline_for_level(opt_level)
        expected = self.signature
        if shared:
            read = shared_inputs(self.graph, shared)  # refuses a bad declaration before any pass runs
            # After dense fusion (so the split rules see whole dense layers), before the table
            # and gather fusions (which would merge the user's lookups with the candidates').
            at = next((i for i, p in enumerate(passes) if p.name in _AFTER_HOISTING), len(passes))
            passes = [*passes[:at], HoistShared(";".join(shared)), *passes[at:]]
            expected = _shared_signature(self.signature, read)
        manager = PassManager(
            passes, verify=verify_passes, snapshots=snapshots, reproducer=reproducer, on_pass=on_pass
        )
        self.optimized = True
        report = manager.run(self.graph)
        verify(self.graph)
        after = graph_signature(self.graph)
        if after != expected:
            raise CompileError(f"the passes changed the graph's signature: {expected} -> {after}")
        proven = self.padding.get(BATCH, {}).get("safe", True)  # a pass must not lose a proof
        padding = check_padding(self.graph, " after the optimization passes (a pass bug)", require=proven)
        hoist: HoistPlan | None = None
        if shared:  # what the pass did
            done = next(r for r in report.records if r.name == HoistShared.name)
            hoist = HoistPlan.from_json(done.details)
            if not hoist.hoisted:
                hoist.notes.append(
                    "no node that computes (a product, a reduction) depends on the shared inputs "
                    "alone: they are passed once per request, but nothing is computed once; such a "
                    "model can be a little slower than without --shared (docs/benchmarks.md)"
                )
        return Optimized(after, padding, [str(p) for p in passes], report, self, hoist)

    def as_text(self) -> str:
        """The imported IR (`fourier.ir.printer`)."""
        if self.optimized:
            raise CompileError("the graph was optimized in place: see Optimized.as_text()")
        return str(self.graph)

    def __str__(self) -> str:
        source = self.graph.source or self.graph.name
        return "\n".join(
            [
                f"Imported {source}: {self.imported_ops} ops",
                f"  signature: {self.signature}",
                f"  ops: {_ops_line(self.op_counts)}",
                *_padding_lines(self.padding),
            ]
        )


@dataclass
class Optimized:
    """A graph after the passes: the pass report, the passes that ran, the padding verdict the
    artifact records."""

    signature: Signature
    padding: dict[str, Any]  # by symbol: the manifest's ``padding``
    passes: list[str]  # the passes that ran, as pipeline text items
    report: Any  # fourier.passes.instruments.PipelineReport
    imported: Imported = field(repr=False)
    hoist: HoistPlan | None = None  # what request-level hoisting did, if inputs were declared shared

    @property
    def graph(self) -> Graph:
        return self.imported.graph

    def lower(
        self,
        buckets: Sequence[int] | str = DEFAULT_BUCKETS,
        dims: Mapping[str, Sequence[int]] | None = None,
        *,
        pack_inputs: bool = True,
        max_bucket_bytes: int | None = None,
        platform: str | None = None,
    ) -> Lowered:
        """The graph as one JAX function and the shapes to compile it for: each bucket (unless
        the graph has no batch dimension) and combination of ``dims`` (``{"S": [16, 32]}``).
        ``pack_inputs`` packs the arguments into one buffer per dtype (`fourier.packing`);
        ``platform`` (default JAX's) is the device `Lowered.compile` compiles for."""
        signature = self.signature
        combos = _check_dims(signature, dims)
        notes: list[str] = list(self.hoist.notes) if self.hoist is not None else []
        unproven = padding_note(self.padding)
        if unproven:
            notes.append(unproven)
        sizes: list[int | None]
        if any(s.batched for s in signature.inputs):
            sizes = list(_check_buckets(buckets, signature, combos, max_bucket_bytes, notes))
        else:
            sizes = [None]
            notes.append(
                "buckets (--buckets on the command line) are not applicable: the graph has no "
                "unknown batch dimension, so it is compiled once at its own static shapes"
            )
        device = device_for(platform)
        lowered = lower_graph(self.graph)
        param_specs = [ArgSpec(tuple(p.shape), p.dtype.name) for p in lowered.param_values]
        layout = plan_packing(signature) if pack_inputs else None
        if layout is not None:
            lowered = _packed(lowered, layout, signature)
        shapes = [
            Shape(b, combo, tuple(_arg_specs(signature, layout, b or 0, combo)))
            for b in sizes
            for combo in combos
        ]
        batches = [b for b in sizes if b is not None] or None
        return Lowered(self, lowered, param_specs, layout, batches, shapes, device, notes)

    def as_text(self) -> str:
        """The optimized IR (what the artifact stores as ``graph.fir``)."""
        return str(self.graph)

    def __str__(self) -> str:
        seconds = getattr(self.report, "seconds", 0.0)
        return "\n".join(
            [
                f"Optimized {self.graph.source or self.graph.name}: {self.imported.imported_ops} ops "
                f"imported -> {self.graph.num_ops()} after passes ({seconds:.2f} s)",
                f"  passes: {','.join(self.passes) or '(none)'}",
                f"  signature: {self.signature}",
                f"  ops: {_ops_line(self.graph.op_counts())}",
                *_padding_lines(self.padding),
            ]
        )


@dataclass
class Lowered:
    """The graph as a JAX function (`fourier.backends.jax_lowering`), its weights' specs, and
    the argument specs of every shape to compile."""

    optimized: Optimized = field(repr=False)
    lowered: LoweredGraph  # ``fn`` takes packed arguments when ``layout`` is set
    param_specs: list[ArgSpec]
    layout: PackLayout | None
    buckets: list[int] | None  # the batch sizes (None: the graph's own static shapes)
    shapes: list[Shape]
    device: Any  # the JAX device `compile` compiles for unless given another platform
    notes: list[str] = field(default_factory=list)

    @property
    def signature(self) -> Signature:
        return self.optimized.signature

    def shape(self, tag: str | None = None) -> Shape:
        """The shape tagged ``tag`` (``b32``, ``b32-S16``, ``static``; default the first)."""
        if tag is None:
            return self.shapes[0]
        for s in self.shapes:
            if s.tag == tag:
                return s
        raise CompileError(f"no shape {tag!r} (shapes: {', '.join(s.tag for s in self.shapes)})")

    def compile(
        self,
        platform: str | None = None,
        *,
        on_start: Callable[[str], None] | None = None,
        on_bucket: Callable[[str, float], None] | None = None,
        backend: str = "xla",
        workers: int | None = None,
    ) -> Compiled:
        """Export StableHLO and compile an executable for every shape (on ``platform``, default
        the device `Optimized.lower` chose), plus a batch-polymorphic module for long-tail sizes.
        ``workers`` shapes compile at once (default `compile_workers`: one per usable core).
        ``on_start(label)`` and ``on_bucket(label, seconds)`` report progress. ``backend``
        ``"onnxruntime"`` also exports the optimized graph to ONNX and serves it with ONNX
        Runtime's CPU kernels; ``"auto"`` measures both on this machine per bucket and records
        the faster (`choose_backend`)."""
        device = self.device if platform is None else device_for(platform)
        if backend not in BACKENDS:
            raise CompileError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend != "xla" and device.platform != "cpu":
            raise CompileError(
                f"backend {backend!r} runs on the CPU (ONNX Runtime's CPU kernels); this compile is "
                f"for {device.platform}: use backend 'xla'"
            )
        blobs: dict[str, bytes] = {}
        entries: list[BucketEntry] = []
        seconds: dict[str, float] = {}
        # Each shape is traced here (Python, under the GIL), then XLA compiles it on a worker
        # thread while the next one is traced: on several cores the buckets compile at once.
        # Progress is reported in shape order; a shape's seconds are its own trace + compile.
        with ThreadPoolExecutor(workers or compile_workers(len(self.shapes))) as pool:
            pending = []
            for shape in self.shapes:
                stablehlo, traced = export_bucket(self.lowered, self.param_specs, list(shape.args))
                job = pool.submit(
                    compile_exported, stablehlo, self.param_specs, list(shape.args), device, traced
                )
                pending.append((shape, job))
            results = []
            for shape, job in pending:
                if on_start:
                    on_start(shape.label)
                compiled = job.result()
                seconds[shape.tag] = compiled.export_seconds + compiled.compile_seconds
                results.append((shape, compiled))
                if on_bucket:
                    on_bucket(shape.label, seconds[shape.tag])
        for shape, compiled in results:
            tag = shape.tag
            blobs[f"buckets/{tag}.stablehlo"] = compiled.stablehlo
            exe = None
            if compiled.executable is not None:
                exe = f"buckets/{tag}.{device.platform}.xla"
                blobs[exe] = compiled.executable
            entries.append(
                BucketEntry(shape.batch, f"buckets/{tag}.stablehlo", exe, seconds[tag], shape.dims)
            )
        notes = list(self.notes)
        polymorphic = None
        if self.buckets is not None:  # one more module, any batch size: long-tail compiles
            try:
                blobs["buckets/any.stablehlo"] = export_polymorphic(
                    self.lowered, self.param_specs, _arg_specs(self.signature, self.layout, None)
                )
                polymorphic = "buckets/any.stablehlo"
            except Exception as e:  # the buckets are fine without it; long-tail batches run chunked
                notes.append(
                    f"no batch-polymorphic module ({type(e).__name__}: {e}); long-tail batches will run chunked"
                )
        return Compiled(self, device, entries, blobs, seconds, polymorphic, notes, backend)

    def as_text(self, shape: str | None = None) -> str:
        """The StableHLO (MLIR text) of one shape (a tag such as ``b32``; default the first)."""
        import jax

        args = self.shape(shape).args
        with jax.enable_x64(True):
            specs = [
                [jax.ShapeDtypeStruct(tuple(a.shape), numpy_dtype(a.dtype)) for a in group]
                for group in (self.param_specs, args)
            ]
            return str(jax.jit(self.lowered.fn, keep_unused=True).lower(*specs).as_text())

    def __str__(self) -> str:
        weights = sum(v.nbytes for v in self.lowered.param_values)
        packing = "packed by dtype" if self.layout is not None else "one argument per input"
        return "\n".join(
            [
                f"Lowered {self.optimized.graph.source or self.optimized.graph.name}: "
                f"{len(self.param_specs)} weights ({weights} bytes), inputs {packing}, "
                f"for {self.device.platform}",
                f"  signature: {self.signature}",
                *(f"  {s}" for s in self.shapes),
                *(f"  note: {n}" for n in self.notes),
            ]
        )


@dataclass
class Compiled:
    """StableHLO and an executable per shape, with compile times; `package` writes the artifact."""

    lowered: Lowered = field(repr=False)
    device: Any
    entries: list[BucketEntry]
    blobs: dict[str, bytes] = field(repr=False)  # by artifact path: modules and executables
    seconds: dict[str, float]  # by shape tag
    polymorphic: str | None  # the batch-polymorphic module's path, if it could be exported
    notes: list[str] = field(default_factory=list)
    backend: str = "xla"  # xla | onnxruntime | auto (measured per bucket when packaged)

    def package(self, out: str | Path) -> CompileReport:
        """Write the artifact directory ``out`` (manifest, weights, IR, modules, executables)."""
        optimized = self.lowered.optimized
        graph, lowered, signature = optimized.graph, self.lowered.lowered, optimized.signature
        blobs = dict(self.blobs)
        saved = save_graph(graph)
        blobs["graph.fir"] = saved.text.encode()
        weights = dict(zip(lowered.param_names, lowered.param_values))
        ir_constants = _ir_constants(saved, lowered, weights)
        backend: dict[str, Any] = {}
        if self.backend != "xla":  # the optimized graph for ONNX Runtime, beside the executables
            from fourier.backends.onnx_export import export_onnx

            blobs[ONNX_FILE] = export_onnx(graph, pack_inputs=True).SerializeToString()
            backend = {"kind": self.backend, "onnx": ONNX_FILE}
        host = optimized.imported.host
        if host is not None:  # the host part's files, hashed with the rest
            with tempfile.TemporaryDirectory() as tmp:
                for f in save_host(host.part, tmp):
                    blobs[f.name] = f.read_bytes()
        layout = self.lowered.layout
        manifest = Manifest(
            signature=signature,
            buckets=self.lowered.buckets,
            params=[
                ParamSpec(n, v.dtype.name, tuple(v.shape))
                for n, v in zip(lowered.param_names, lowered.param_values)
            ],
            executables=list(self.entries),
            platform=self.device.platform,
            device_kind=str(self.device.device_kind),
            versions=versions(),
            source={"path": graph.source, "sha256": graph.source_sha256},
            passes=list(optimized.passes),
            packing=layout.to_json() if layout is not None else None,
            polymorphic=self.polymorphic,
            ir_constants=ir_constants,
            padding=optimized.padding,
            hoist=optimized.hoist.to_json() if optimized.hoist is not None else {},
            consts={
                k: {"dtype": v.dtype.name, "value": v.tolist()} for k, v in sorted(graph.bound_inputs.items())
            },
            host=host.to_json() if host is not None else {},
            backend=backend,
        )
        out_path = write_artifact(Path(out), manifest, blobs, weights)
        if self.backend == "auto":  # measured here, on the compiling machine, per bucket
            manifest.backend = {**backend, **choose_backend(out_path, manifest)}
            rewrite_manifest(out_path, manifest)
        size = sum(f.stat().st_size for f in out_path.rglob("*") if f.is_file())
        return CompileReport(
            out=out_path,
            signature=signature,
            buckets=manifest.buckets,
            num_ops=graph.num_ops(),
            op_counts=graph.op_counts(),
            bucket_seconds=dict(self.seconds),
            total_seconds=time.perf_counter() - optimized.imported.started,
            artifact_bytes=size,
            weight_bytes=sum(v.nbytes for v in lowered.param_values),
            notes=list(self.notes),
            imported_ops=optimized.imported.imported_ops,
            passes=optimized.report,
            hoist=optimized.hoist,
            host=str(host.plan) if host is not None else None,
        )

    def as_text(self, shape: str | None = None) -> str:
        """The StableHLO (MLIR text) stored for one shape (a tag; default the first)."""
        from jax import export

        tag = self.lowered.shape(shape).tag
        return str(export.deserialize(bytearray(self.blobs[f"buckets/{tag}.stablehlo"])).mlir_module())

    def __str__(self) -> str:
        lines = [
            f"Compiled {self.lowered.optimized.graph.source or self.lowered.optimized.graph.name} "
            f"for {self.device.platform} ({self.device.device_kind}): {len(self.entries)} executables, "
            f"{sum(self.seconds.values()):.2f} s"
        ]
        for e in self.entries:
            tag = shape_tag(e.batch, e.dims)
            size = len(self.blobs[e.executable]) if e.executable else 0
            lines.append(
                f"  {tag}: {len(self.blobs[e.stablehlo])} bytes StableHLO, {size} bytes executable, "
                f"{self.seconds[tag]:.2f} s"
            )
        lines.append(f"  polymorphic: {self.polymorphic or '(none)'}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


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
    shared: Sequence[str] = (),
    require_padding_proof: bool = False,
    consts: Mapping[str, Any] | None = None,
    backend: str = "xla",
    host_tables: int | None = None,
) -> CompileReport:
    """Compile ``model`` (a path or an imported Graph) into the artifact directory ``out``.

    The graph is optimized by ``pipeline`` (pass-pipeline text) or else by the passes of
    ``opt_level`` (0: none, 1: cleanup, 2: everything); ``verify_passes`` verifies after each;
    ``snapshots`` keeps the IR after every pass in ``report.passes`` (for the diff viewer);
    ``pack_inputs`` makes the executables take one buffer per input dtype (`fourier.packing`);
    ``dims`` gives the sizes to compile for each symbolic input dimension other than the batch
    (``{"S": [16, 32, 64]}``): one executable per bucket and combination of sizes. ``shared``
    names request-level inputs a request passes once (one user, N candidates): what depends only
    on them is computed once per request (`fourier.passes.hoist`). A batch whose padding cannot be
    proven safe is compiled anyway and served at exact batch sizes (noted in the report);
    ``require_padding_proof`` refuses it instead. ``consts`` binds inputs that set shapes at run
    time (a reshape target, an axis) to values known at compile time. ``backend`` picks the CPU
    executor: ``"xla"`` (the default), ``"onnxruntime"`` (the optimized graph exported to ONNX,
    run by ONNX Runtime), or ``"auto"`` (both measured on this machine per bucket, the faster
    recorded in the manifest). ``host_tables`` keeps every constant embedding table larger than
    that many bytes in host memory: its gathers run in the host part and only the rows cross.

    The stages one by one: `import_model`, `Imported.optimize`, `Optimized.lower`,
    `Lowered.compile`, `Compiled.package`.
    """
    imported = import_model(model, outputs, require_padding_proof, consts, host_tables)
    _check_dims(imported.signature, dims)  # before the passes: a mistake is refused at once
    optimized = imported.optimize(
        pipeline,
        opt_level=opt_level,
        verify_passes=verify_passes,
        reproducer=reproducer,
        on_pass=on_pass,
        snapshots=snapshots,
        shared=shared,
    )
    lowered = optimized.lower(
        buckets, dims, pack_inputs=pack_inputs, max_bucket_bytes=max_bucket_bytes, platform=platform
    )
    compiled = lowered.compile(on_start=on_start, on_bucket=on_bucket, backend=backend)
    return compiled.package(out)
