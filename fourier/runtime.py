"""Serving: load an artifact and answer requests of any batch size.

`load` verifies the artifact, memory-maps its weights, puts them on the device once, and
deserializes one executable per compiled shape (compiling the stored StableHLO instead when the
executable was built for another jaxlib or device). A `Model` call checks the inputs against the
signature, picks the smallest bucket that fits, pads by repeating the last real row (padded rows
are copies of real data, so they cannot fault or make NaN that real data would not), runs, and
slices. Batches above the largest bucket run as chunks. A value of a symbolic dimension (a sequence
length) with no executable runs on the reference interpreter while it compiles in the background
(`fourier.longtail`). Calls may come from many threads at once: executables are installed by
replacing dicts, never by mutating one a reader holds.

This module never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fourier.artifact import Manifest, read_manifest, read_verified, verify_files, versions
from fourier.artifact_check import check_artifact
from fourier.errors import (
    ArtifactError,
    InputDtypeError,
    InputError,
    InputShapeError,
    InputTypeError,
    MissingInputError,
    UnknownInputError,
)
from fourier.gpu_copy import CopyPath, CopyPathError
from fourier.ir.types import BATCH, numpy_dtype
from fourier.longtail import ExecutableCache, Key, LongTail, LongTailPolicy, default_cache_dir
from fourier.metrics import Metrics
from fourier.packing import PackLayout, executable_arg_shapes, pad_rows
from fourier.signature import Signature, TensorSpec

__all__ = ["Model", "load", "LoadInfo"]


@dataclass(frozen=True)
class LoadInfo:
    """How an artifact was loaded: seconds, and which buckets had to be recompiled."""

    seconds: float
    recompiled: tuple[tuple[int | None, ...], ...]  # shapes (batch, *symbol values)
    platform: str
    from_cache: tuple[Key, ...] = ()  # long-tail shapes loaded from the executable cache
    copy_path: str = "jax"  # how inputs and outputs cross to the device: "jax", "cuda-bindings", "cupy"
    devices: tuple[str, ...] = ()  # one replica per device
    notes: tuple[str, ...] = ()  # e.g. why the GPU copy path is not used


@dataclass
class Replica:
    """One device's copy of the model: its weights and its copy path (executables live in
    `Model`, one per replica for every compiled shape)."""

    device: Any
    params: list[Any]
    copy: CopyPath | None = None
    inflight: int = 0  # requests running on this replica now
    served: int = 0  # executions spread to this replica so far


class Model:
    """A loaded artifact. Call it with a dict of numpy arrays; get a dict of numpy arrays."""

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        executables: dict[tuple[int | None, ...], Any],
        info: LoadInfo,
        replicas: Sequence[Replica] = (),
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.signature: Signature = manifest.signature
        self.load_info = info
        self.metrics = Metrics(path.name)
        self.ready = False  # True once every bucket has run once (`warmup`)
        self._inputs = {s.name: s for s in self.signature.inputs}
        self._unused = frozenset(s.name for s in self.signature.unused)
        # Request-level inputs (`fourier.passes.hoist`): one row per request; a request may also
        # leave out their leading 1 or repeat the row per candidate (the first row is used, and
        # with ``check_shared`` every row must equal it).
        self.shared = frozenset(n for n in manifest.shared if n in self._inputs)
        self.check_shared = False
        # The host part (`attach_host`): strings and tables, run on numpy before the executables.
        self._host: Any = None
        self.host_part: Any = None
        self.host_inputs: tuple[str, ...] = ()
        self._host_known: frozenset[str] = frozenset()
        self._host_only: frozenset[str] = frozenset()
        # ONNX Runtime (`attach_backend`): for every batch, or for the buckets chosen at compile time.
        self._ort: Any = None
        self._ort_root: Path | None = None  # its model.onnx
        self._ort_all = False
        self._ort_buckets: frozenset[int] = frozenset()
        # The buckets whose batches ONNX Runtime runs in row slices at once (`shard_ort`).
        self._ort_sharded: Any = None
        self._ort_shard_buckets: frozenset[int] = frozenset()
        self._fast = [
            (
                s.name,
                np.dtype(numpy_dtype(s.dtype)),
                len(s.shape),
                [(ax, d) for ax, d in enumerate(s.shape) if isinstance(d, int)],
                [(ax, d) for ax, d in enumerate(s.shape) if ax and isinstance(d, str)],
                s.batched,
            )
            for s in self.signature.inputs
        ]
        # The common signature (DeepFM's): every input batched with static other dimensions.
        self._static_batched = (
            [
                (s.name, np.dtype(numpy_dtype(s.dtype)), tuple(int(d) for d in s.shape[1:]))
                for s in self.signature.inputs
            ]
            if self.signature.inputs
            and all(s.batched and all(isinstance(d, int) for d in s.shape[1:]) for s in self.signature.inputs)
            else None
        )
        self._layout = PackLayout.from_json(manifest.packing) if manifest.packing else None
        self._install_lock = threading.Lock()
        # Where each symbol is read from a request: (input index, axis).
        self._symbol_at = [
            next(
                (i, ax)
                for i, spec in enumerate(self.signature.inputs)
                for ax, d in enumerate(spec.shape)
                if d == sym
            )
            for sym in self.signature.symbols
        ]
        # Symbols the independence analysis proved paddable, and where outputs carry each symbol.
        self._paddable = tuple(manifest.paddable(sym) for sym in self.signature.symbols)
        # False: padding the batch was not proven safe, so every request runs at its exact size
        # (never padded, chunked or merged with others).
        self.batch_paddable = BATCH not in manifest.padding or manifest.paddable(BATCH)
        self._input_symbol_axes = [
            [
                (ax, self.signature.symbols.index(d))
                for ax, d in enumerate(spec.shape)
                if ax and isinstance(d, str)
            ]
            for spec in self.signature.inputs
        ]
        self._output_symbol_axes = [
            [
                (ax, self.signature.symbols.index(d))
                for ax, d in enumerate(spec.shape)
                if ax and isinstance(d, str)
            ]
            for spec in self.signature.outputs
        ]
        # Executables by shape, and the sorted batch sizes compiled per symbol values; both are
        # replaced (never mutated) when a long-tail compile lands.
        # Per shape, one executable per replica (same order as `replicas`).
        self.replicas: tuple[Replica, ...] = tuple(replicas)
        self._pick_lock = threading.Lock()
        self._executables: dict[tuple[int | None, ...], tuple[Any, ...]] = {}
        self._batches: dict[tuple[int, ...], list[int]] = {}
        for key, exe in executables.items():
            self._add(key, exe)
        self._reference: Any = None  # (graph, lock) for the reference path, parsed on first use
        self.longtail: LongTail | None = None

    def _add(self, key: tuple[int | None, ...], executable: Any) -> None:
        per_replica = tuple(executable) if isinstance(executable, (tuple, list)) else (executable,)
        self._executables = {**self._executables, key: per_replica}
        if key[0] is not None:
            dims = tuple(int(v) for v in key[1:])  # type: ignore[arg-type]
            batches = self._batches.get(dims, [])
            self._batches = {**self._batches, dims: sorted({*batches, key[0]})}

    @property
    def buckets(self) -> tuple[int, ...] | None:
        """The compiled batch sizes (the artifact's and long-tail ones), or None for static shapes."""
        sizes = sorted({b for bs in self._batches.values() for b in bs})
        return tuple(sizes) if sizes else None

    @property
    def shapes(self) -> tuple[tuple[int | None, ...], ...]:
        """Every compiled shape: (batch, *values of ``signature.symbols``)."""
        return tuple(sorted(self._executables, key=lambda k: tuple(-1 if v is None else v for v in k)))

    def __repr__(self) -> str:
        return f"<fourier.Model {self.path} buckets={self.buckets} {self.signature}>"

    def has_shape(self, key: Key) -> bool:
        """Whether shape ``key`` (batch, *symbol values) has an executable now."""
        return key in self._executables

    def install(self, key: Key, executable: Any) -> None:
        """Serve shape ``key`` with ``executable`` (or one per replica) from now on (long-tail
        compiles land here)."""
        with self._install_lock:
            self._add(key, executable)

    def warmup(self) -> float:
        """Run every executable once (first runs allocate and page in); sets `ready`. Seconds."""
        t0 = time.perf_counter()
        for key in list(self._executables):
            n, dims = key[0] or 0, dict(zip(self.signature.symbols, key[1:]))
            arrays = [np.zeros(s.concrete(n, dims), dtype=s.dtype) for s in self.signature.inputs]  # type: ignore[arg-type]
            for r in range(max(1, len(self.replicas))):
                self._execute(arrays, 0, n, key, count=False, replica=r)
        self.ready = True
        return time.perf_counter() - t0

    def close(self) -> None:
        """Stop background compiles (waits for one in progress) and free pinned staging memory."""
        if self.longtail is not None:
            self.longtail.close()
        for r in self.replicas:
            if r.copy is not None:
                r.copy.close()
        if self._ort_sharded is not None:  # later calls (if any) run whole
            sharded, self._ort_sharded = self._ort_sharded, None
            sharded.close()

    # -- checking -----------------------------------------------------------------------------

    def check(self, inputs: Mapping[str, Any]) -> tuple[list[np.ndarray], int | None]:
        """Check ``inputs`` against the signature: (arrays in signature order, batch size). A
        model with a host part runs it first, on the request as given (`attach_host`)."""
        return self.check_request(inputs)[:2]

    def check_request(
        self, inputs: Mapping[str, Any]
    ) -> tuple[list[np.ndarray], int | None, dict[str, np.ndarray]]:
        """`check`, and what the host part computed for the request's outputs (empty without a
        host part): a caller that runs the device part later (the batcher) merges them back."""
        host_out: dict[str, np.ndarray] = {}
        if self._host is not None:
            inputs, host_out = self._through_host(inputs)
        arrays, batch = self._check_device(inputs)
        return arrays, batch, host_out

    def merge_host(
        self, device: dict[str, np.ndarray], host_out: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """A request's outputs in the model's order: the device part's, and those the host part
        computed (the model's own outputs, without a host part)."""
        if self.host_part is None:
            return device
        device.update({k: host_out[k] for k in self.host_part.host_outputs})
        return {k: device[k] for k in self.host_part.outputs}

    def _check_device(self, inputs: Mapping[str, Any]) -> tuple[list[np.ndarray], int | None]:
        """`check` of the executables' own inputs (after any host part)."""
        ok = self._check_fast(inputs)
        return ok if ok is not None else self._check_slow(inputs)

    # -- ONNX Runtime ---------------------------------------------------------------------------

    def attach_backend(self, root: Path, platform: str, override: str | None = None) -> None:
        """Serve some or all batches with ONNX Runtime where the artifact holds the ONNX graph
        (``manifest.backend``) and this is a CPU: every batch (``onnxruntime``), or the buckets
        that measured faster with it (``auto``); ``override`` forces one executor."""
        spec = self.manifest.backend
        if override not in (None, "xla", "onnxruntime"):
            raise ValueError(f"backend must be 'xla', 'onnxruntime' or None, got {override!r}")
        if override == "onnxruntime" and not spec.get("onnx"):
            raise ArtifactError(
                f"{root}: compiled without the ONNX backend (compile with backend='onnxruntime')"
            )
        if not spec.get("onnx") or override == "xla" or platform != "cpu":
            return
        from fourier.backends.onnxruntime_exec import OrtExecutable

        ort = OrtExecutable(root / spec["onnx"])
        # Requests are checked against the signature, then handed to ONNX Runtime unchecked: each
        # ONNX input must be a signature input (or several, packed) of its dtype.
        try:
            plan = ort.bind([i.name for i in self.signature.inputs])
        except ValueError as e:
            raise ArtifactError(f"{root}: {spec['onnx']}: {e}") from e
        for name, dtype, p in zip(ort.input_names, ort.input_dtypes, plan):
            for i in (p,) if isinstance(p, int) else p:
                want = np.dtype(numpy_dtype(self.signature.inputs[i].dtype))
                if dtype != want:
                    raise ArtifactError(
                        f"{root}: {spec['onnx']} input {name!r} is {dtype}, the signature's "
                        f"{self.signature.inputs[i].name!r} is {want}"
                    )
        self._ort = ort
        self._ort_root = root / spec["onnx"]
        shards = {int(b): int(k) for b, k in spec.get("shards", {}).items()}
        if shards and override is None:  # as measured at compile time, at most this host's cores
            from fourier.backends.onnxruntime_exec import usable_cores

            self.shard_ort(min(max(shards.values()), usable_cores()), shards)
        if override == "onnxruntime" or spec.get("kind") == "onnxruntime":
            self._ort_all = True
        else:
            self._ort_buckets = frozenset(
                int(b) for b, which in spec.get("choice", {}).items() if which == "onnxruntime"
            )

    def _ort_for(self, batch: int, dims: tuple[int, ...]) -> Any:
        """The ONNX Runtime executable that serves this batch (whole or in row slices), or None
        where XLA does."""
        if self._ort_all and self._ort_sharded is None:  # every batch, whole: no bucket to find
            return self._ort
        bucket = self.bucket_for(batch, dims) if dims in self._batches else None
        if self._ort_sharded is not None and bucket in self._ort_shard_buckets:
            return self._ort_sharded
        return self._ort if self._ort_all or bucket in self._ort_buckets else None

    def shard_ort(self, shards: int, buckets: Iterable[int] | None = None) -> bool:
        """Run the batches of ``buckets`` (None: every bucket) that ONNX Runtime serves as
        ``shards`` row slices at once, each on one thread in a 1-thread session, instead of one
        call on an intra-op pool (`OrtExecutable`'s ``shards``). Only where the rows of the batch
        are proven independent (the padding analysis); returns whether sharding is on."""
        from fourier.backends.onnxruntime_exec import OrtExecutable

        if self._ort_root is None or shards < 2 or not self.manifest.paddable(BATCH):
            return False
        sharded = OrtExecutable(self._ort_root, shards=shards)
        if sharded.shards < 2:  # an output is not per row
            sharded.close()
            return False
        sharded.bind([i.name for i in self.signature.inputs])
        if self._ort_sharded is not None:
            self._ort_sharded.close()
        self._ort_sharded = sharded
        self._ort_shard_buckets = frozenset(self.manifest.buckets or [] if buckets is None else buckets)
        return True

    def _run_ort(self, ort: Any, arrays: list[np.ndarray], batch: int) -> dict[str, np.ndarray]:
        """The request as it is (ONNX Runtime takes any batch: nothing padded or chunked)."""
        outs = ort.run_trusted(arrays)  # checked against the signature already
        self.metrics.executed("onnxruntime", batch, 0)
        return {s.name: o for s, o in zip(self.signature.outputs, outs)}

    # -- the host part ----------------------------------------------------------------------------

    def attach_host(self, root: Path) -> None:
        """Load the artifact's host part (``host.json``, ``host_tables.safetensors``): requests
        then pass the model's own inputs (strings included); the host part turns the ones it
        reads into the values the executables take."""
        from fourier.host.executor import HostExecutor
        from fourier.host.saved import load_host

        part = load_host(root)
        self.host_part = part
        self._host = HostExecutor(part.graph, part.tables)
        self.host_inputs = tuple(self._host.inputs)
        # Per request: which names a request may carry, and which only the host part reads.
        self._host_known = (
            frozenset(self.host_inputs)
            | frozenset(part.device_inputs)
            | self._unused
            | frozenset(self.manifest.consts)
        )
        self._host_only = frozenset(self.host_inputs) - frozenset(part.device_inputs)

    def _through_host(self, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(the executables' inputs, the host part's outputs) for a request of the model's inputs."""
        assert self._host is not None and self.host_part is not None
        part = self.host_part
        unknown = [k for k in inputs if k not in self._host_known]
        if unknown:
            raise UnknownInputError(
                f"unknown input {unknown[0]!r}; the model's inputs are: "
                + ", ".join(sorted(self._host_known))
            )
        t0 = time.perf_counter()
        out = self._host({k: inputs[k] for k in self.host_inputs if k in inputs})
        self.metrics.observe("host", time.perf_counter() - t0)
        feed: dict[str, Any] = {k: v for k, v in inputs.items() if k not in self._host_only}
        for name in part.crossings:
            feed[name] = out[name]
        return feed, out

    def _check_fast(self, inputs: Mapping[str, Any]) -> tuple[list[np.ndarray], int | None] | None:
        """The common case (numpy arrays, all valid) in a few µs; None sends the request to
        `_check_slow`, which finds and names the problem."""
        if len(inputs) != len(self._fast) and not (
            self._unused and 0 < len(inputs) - len(self._fast) <= len(self._unused)
        ):
            return None
        arrays: list[np.ndarray] = []
        if self._static_batched is not None:  # every input [N, static...]: one tuple compare each
            rows = -1
            for name, dtype, tail in self._static_batched:
                x = inputs.get(name)
                if type(x) is not np.ndarray or x.dtype != dtype:
                    return None
                shape = x.shape
                if not shape or shape[1:] != tail or (shape[0] != rows and rows >= 0):
                    return None
                rows = shape[0]
                arrays.append(x)
            return (arrays, rows) if self._only_unused_extra(inputs, arrays) else None
        batch: int | None = None
        symbols: dict[str, int] = {}
        for name, dtype, ndim, static, symbolic, batched in self._fast:
            x = inputs.get(name)
            if type(x) is not np.ndarray or x.dtype != dtype or x.ndim != ndim:
                return None
            shape = x.shape
            for axis, size in static:
                if shape[axis] != size:
                    return None
            for axis, sym in symbolic:
                if shape[axis] < 1 or symbols.setdefault(sym, shape[axis]) != shape[axis]:
                    return None
            if batched:
                if batch is None:
                    batch = shape[0]
                elif shape[0] != batch:
                    return None
            arrays.append(x)
        return (arrays, batch) if self._only_unused_extra(inputs, arrays) else None

    def _only_unused_extra(self, inputs: Mapping[str, Any], arrays: list[np.ndarray]) -> bool:
        """Whether every input beyond the signature's is one the model declares but never reads."""
        return len(inputs) == len(arrays) or self._unused.issuperset(inputs.keys() - self._inputs.keys())

    def _check_slow(self, inputs: Mapping[str, Any]) -> tuple[list[np.ndarray], int | None]:
        for name, bound in self.manifest.consts.items():  # bound at compile time: that value only
            if name in inputs:
                want = np.asarray(bound["value"], dtype=numpy_dtype(bound["dtype"]))
                got = np.asarray(inputs[name])
                if got.shape != want.shape or not np.array_equal(got, want):
                    raise InputShapeError(
                        f"input {name!r} was bound to {want.tolist()} when the model was compiled "
                        f"(--const {name}=...), got {got.tolist() if got.size <= 8 else got.shape}"
                    )
        unknown = [
            k
            for k in inputs
            if k not in self._inputs and k not in self._unused and k not in self.manifest.consts
        ]
        if unknown:
            raise UnknownInputError(
                f"unknown input {unknown[0]!r}; the model's inputs are: "
                + ", ".join(s.name for s in (*self.signature.inputs, *self.signature.unused))
            )
        arrays: list[np.ndarray] = []
        batch: int | None = None
        batch_from = ""
        symbols: dict[str, tuple[int, str]] = {}
        for spec in self.signature.inputs:
            if spec.name in inputs:
                x = np.asarray(inputs[spec.name])
            elif spec.default is not None:  # a PlaceholderWithDefault the caller did not feed
                x = np.asarray(spec.default_array())
            else:
                raise MissingInputError(f"missing input {spec.name!r} (expected {_describe(spec)})")
            if x.dtype.name != spec.dtype:
                raise InputDtypeError(f"input {spec.name!r}: expected dtype {spec.dtype}, got {x.dtype.name}")
            if spec.name in self.shared:
                x = self._one_row(spec, x)
            if x.ndim != len(spec.shape) or any(
                isinstance(d, int) and d != s for d, s in zip(spec.shape, x.shape)
            ):
                raise InputShapeError(
                    f"input {spec.name!r}: expected shape {_describe_shape(spec)}, got {tuple(x.shape)}"
                )
            for d, size in zip(spec.shape[1:], x.shape[1:]):
                if isinstance(d, int):
                    continue
                if size < 1:
                    raise InputShapeError(
                        f"input {spec.name!r}: dimension {d} must be at least 1, got {size}"
                    )
                seen, where = symbols.setdefault(d, (size, spec.name))
                if seen != size:
                    raise InputShapeError(
                        f"inputs disagree on dimension {d}: {where!r} has {seen}, {spec.name!r} has {size}"
                    )
            if spec.batched:
                if batch is None:
                    batch, batch_from = x.shape[0], spec.name
                elif x.shape[0] != batch:
                    raise InputShapeError(
                        f"inputs disagree on the batch size: {batch_from!r} has {batch}, "
                        f"{spec.name!r} has {x.shape[0]}"
                    )
            arrays.append(x)
        return arrays, batch

    def _one_row(self, spec: TensorSpec, x: np.ndarray) -> np.ndarray:
        """A shared input as the executables take it, ``[1, ...]``: given as that, without the
        leading 1, or repeated per row (then its first row; all rows checked if `check_shared`)."""
        if x.ndim == len(spec.shape) - 1:
            return x[None]
        if x.ndim == len(spec.shape) and x.shape[0] > 1:
            if self.check_shared:
                differ = np.flatnonzero(
                    ~(x == x[:1]).reshape(x.shape[0], -1).all(axis=1)
                    if x.size
                    else np.zeros(x.shape[0], bool)
                )
                if differ.size:
                    raise InputShapeError(
                        f"input {spec.name!r} is shared (one value per request) but its row "
                        f"{int(differ[0])} differs from row 0"
                    )
            return x[:1]
        return x

    # -- running ------------------------------------------------------------------------------

    def bucket_for(self, batch: int, dims: tuple[int, ...] = ()) -> int:
        """The smallest bucket compiled for ``dims`` that holds ``batch`` rows (else the largest)."""
        buckets = self._batches[dims]
        for b in buckets:
            if b >= batch:
                return b
        return buckets[-1]

    def _as_mapping(self, inputs: Any, named: dict[str, Any]) -> Mapping[str, Any]:
        """The request as a mapping by input name: a dict, keyword arguments, or (for a model with
        one input) the bare array; anything else is an `InputTypeError` saying what to pass."""
        names = ", ".join(s.name for s in self.signature.inputs)
        if named:
            if inputs is not None:
                raise InputTypeError("pass the inputs either as one dict or as keyword arguments, not both")
            return named
        if isinstance(inputs, Mapping):
            return inputs
        if len(self.signature.inputs) == 1 and isinstance(inputs, np.ndarray):
            return {self.signature.inputs[0].name: inputs}
        what = "nothing" if inputs is None else f"a {type(inputs).__name__}"
        raise InputTypeError(
            f"expected a dict of numpy arrays by input name (the model's inputs are: {names}), got {what}"
        )

    def __call__(
        self, inputs: Mapping[str, Any] | np.ndarray | None = None, /, **named: Any
    ) -> dict[str, np.ndarray]:
        """Run the model on a dict of arrays by input name (or the same as keyword arguments, or
        one bare array for a model with one input); returns outputs by name."""
        t0 = time.perf_counter()
        host_out: dict[str, np.ndarray] = {}
        try:
            if type(inputs) is not dict or named:
                inputs = self._as_mapping(inputs, named)
            if self._host is not None:
                inputs, host_out = self._through_host(inputs)
            arrays, batch = self._check_device(inputs)
        except InputError as e:
            self.metrics.error(type(e).__name__)
            raise
        result = self.merge_host(self.run_checked(arrays, batch), host_out)
        self.metrics.request(batch or 0, time.perf_counter() - t0)
        return result

    run = __call__

    def run_checked(self, arrays: list[np.ndarray], batch: int | None) -> dict[str, np.ndarray]:
        """Run inputs already checked by `check` (as arrays in signature order)."""
        if batch is None:  # a graph with static shapes: one executable, no padding
            outs = self._execute(arrays, 0, 0, (None,))
            return {s.name: o for s, o in zip(self.signature.outputs, outs)}
        dims = tuple(arrays[i].shape[axis] for i, axis in self._symbol_at) if self._symbol_at else ()
        if self._ort is not None:
            ort = self._ort_for(batch, dims)
            if ort is not None:
                return self._run_ort(ort, arrays, batch)
        if not self.batch_paddable:
            return self._run_exact(arrays, batch, dims)
        buckets = self._batches.get(dims)
        if buckets is None:
            target = self._padded_dims(dims)
            if target is not None:  # proven safe: pad to compiled lengths, run, slice back
                return self._run_padded_dims(arrays, batch, dims, target)
            if self.longtail is not None:  # no executable for these symbol values: compile one
                policy = self.longtail.policy
                first = self._batches[min(self._batches)]
                size = next((b for b in first if b >= batch), policy.round(batch))
                rounded = tuple((policy.round(v) or v) if p else v for v, p in zip(dims, self._paddable))
                if size is not None:
                    self.longtail.saw((size, *rounded))
            return self._run_reference(arrays, batch)  # the reference path for now
        largest = buckets[-1]
        if batch > largest and self.longtail is not None:
            size = self.longtail.policy.round(batch)
            if size is not None:  # maybe compile this size in the background; chunk for now
                self.longtail.saw((size, *dims))
        pieces: list[list[np.ndarray]] = []
        start = 0
        while True:
            rows = min(batch - start, largest)
            key = (self.bucket_for(max(rows, 1), dims), *dims)
            outs = self._execute(arrays, start, rows, key)
            pieces.append([o[:rows] if s.batched else o for s, o in zip(self.signature.outputs, outs)])
            start += rows
            if start >= batch:
                break
        result = {}
        for i, spec in enumerate(self.signature.outputs):
            if spec.batched and len(pieces) > 1:
                result[spec.name] = np.concatenate([p[i] for p in pieces], axis=0)
            else:
                result[spec.name] = pieces[0][i]
        return result

    def _run_exact(
        self, arrays: list[np.ndarray], batch: int, dims: tuple[int, ...]
    ) -> dict[str, np.ndarray]:
        """A model whose batch padding was not proven safe: the executable of exactly this shape,
        else the reference interpreter while that shape compiles in the background."""
        key = (batch, *dims)
        if key in self._executables:
            outs = self._execute(arrays, 0, batch, key)
            return {s.name: o for s, o in zip(self.signature.outputs, outs)}
        if self.longtail is not None and batch <= self.longtail.policy.max_batch:
            self.longtail.saw(key)
        return self._run_reference(arrays, batch)

    def _padded_dims(self, dims: tuple[int, ...]) -> tuple[int, ...] | None:
        """The compiled symbol values with fewest elements that ``dims`` can be padded to: equal
        for every symbol, or larger for those the independence analysis proved paddable."""
        best: tuple[int, ...] | None = None
        for have in self._batches:
            if all(h == v or (p and h > v) for h, v, p in zip(have, dims, self._paddable)):
                if best is None or math.prod(have) < math.prod(best):
                    best = have
        return best

    def _run_padded_dims(
        self, arrays: list[np.ndarray], batch: int, dims: tuple[int, ...], target: tuple[int, ...]
    ) -> dict[str, np.ndarray]:
        padded = []
        for x, axes in zip(arrays, self._input_symbol_axes):
            widths = [(0, 0)] * x.ndim
            for ax, i in axes:
                widths[ax] = (0, target[i] - dims[i])
            # Padded positions repeat the last real one: values the graph already accepts.
            padded.append(np.pad(x, widths, mode="edge") if axes else x)
        out = self.run_checked(padded, batch)
        for spec, axes in zip(self.signature.outputs, self._output_symbol_axes):
            if axes:
                index = [slice(None)] * len(spec.shape)
                for ax, i in axes:
                    index[ax] = slice(0, dims[i])
                out[spec.name] = np.ascontiguousarray(out[spec.name][tuple(index)])
        return out

    def _pick(self) -> int:
        """The replica with the fewest requests in flight (the first on a tie)."""
        with self._pick_lock:
            best = min(range(len(self.replicas)), key=lambda i: self.replicas[i].inflight)
            self.replicas[best].inflight += 1
            self.replicas[best].served += 1
        return best

    def _execute(
        self,
        arrays: list[np.ndarray],
        start: int,
        rows: int,
        key: tuple[int | None, ...],
        count: bool = True,
        replica: int | None = None,
    ) -> list[np.ndarray]:
        bucket = key[0]
        spread = replica is None and len(self.replicas) > 1
        r = self._pick() if spread else (replica or 0)
        try:
            executable = self._executables[key][r]
            copy = self.replicas[r].copy if self.replicas else None
            if copy is not None:
                outs = copy.run(executable, key, arrays, start, rows)
            else:
                if bucket is None:
                    args = arrays
                elif self._layout is not None:
                    args = self._layout.pack(self.signature, arrays, start, rows, bucket)
                else:
                    args = [
                        pad_rows(x, start, rows, bucket) if spec.batched else x
                        for spec, x in zip(self.signature.inputs, arrays)
                    ]
                outs = executable(args)
        finally:
            if spread:
                with self._pick_lock:
                    self.replicas[r].inflight -= 1
        if count:
            label = "static" if bucket is None else ",".join(map(str, key))
            self.metrics.executed(label, rows, (bucket or 0) - rows)
        return outs

    def _run_reference(self, arrays: list[np.ndarray], batch: int) -> dict[str, np.ndarray]:
        """The on-demand path: the optimized IR on the numpy reference interpreter (no compile)."""
        from fourier.interpreter import run_reference

        if self._reference is None:
            with self._install_lock:
                if self._reference is None:
                    self._reference = _parse_ir(self.path, self.manifest)
        feeds = {s.name: x for s, x in zip(self.signature.inputs, arrays)}
        outs = run_reference(self._reference, feeds)
        self.metrics.executed("reference", batch, 0)
        return {s.name: np.asarray(outs[s.name], dtype=s.dtype) for s in self.signature.outputs}


def _parse_ir(root: Path, manifest: Manifest) -> Any:
    """The artifact's optimized IR as a graph, its large constants read from the weights file."""
    from safetensors import safe_open

    import fourier.ops  # noqa: F401  (installs the op registry the parser builds nodes with)
    from fourier.ir.saved import SavedGraph

    text = read_verified(root, manifest, manifest.ir).decode()
    constants = {}
    with safe_open(str(root / manifest.weights), framework="numpy") as f:
        for node, key in manifest.ir_constants.items():
            constants[node] = f.get_tensor(key)
    return SavedGraph(text, constants).load()


def _describe_shape(spec: TensorSpec) -> str:
    return "(" + ", ".join("batch" if d == BATCH else str(d) for d in spec.shape) + ")"


def _describe(spec: TensorSpec) -> str:
    return f"{spec.dtype} {_describe_shape(spec)}"


def _compatible(manifest: Manifest, device: Any) -> bool:
    import jax
    import jaxlib

    return (
        manifest.platform == device.platform
        and manifest.device_kind == str(device.device_kind)
        and manifest.versions.get("jaxlib") == jaxlib.__version__
        and manifest.versions.get("jax") == jax.__version__
    )


_DEFAULT_CACHE = object()


def _devices(platform: str | None, devices: Sequence[Any] | int | None) -> list[Any]:
    """The devices to put a replica on: ``devices`` (JAX devices, or ordinals of ``platform``'s
    devices, or a count: the first N), default the first device of ``platform``."""
    import jax

    from fourier.backends.xla import device_for

    if devices is None:
        return [device_for(platform)]
    try:
        available = jax.devices(platform) if platform else jax.devices()
    except RuntimeError as e:
        raise ArtifactError(f"no {platform} device available: {e}") from e
    if isinstance(devices, int):
        if not 1 <= devices <= len(available):
            raise ArtifactError(f"devices={devices}: {len(available)} {available[0].platform} device(s) here")
        return list(available[:devices])
    out = []
    for d in devices:
        if isinstance(d, int):
            if not 0 <= d < len(available):
                raise ArtifactError(
                    f"device {d}: there are {len(available)} {available[0].platform} device(s)"
                )
            d = available[d]
        out.append(d)
    if not out:
        raise ArtifactError("devices=[]: give at least one device")
    return out


def _copy_path(
    device: Any, signature: Signature, layout: PackLayout | None, mode: str, slots: int
) -> tuple[CopyPath | None, str]:
    """The owned GPU copy path for ``device`` when ``mode`` allows it: (path or None, why not)."""
    if mode == "jax" or device.platform not in ("gpu", "cuda"):
        if mode == "cuda":
            raise ArtifactError(f"copy_path='cuda' needs a CUDA device, got {device.platform}")
        return None, ""
    try:
        return CopyPath(device, signature, layout, slots=slots), ""
    except CopyPathError as e:
        if mode == "cuda":
            raise ArtifactError(str(e)) from e
        return None, f"GPU copy path not used ({e}); inputs and outputs go through JAX's transfers"


def load(
    path: str | Path,
    platform: str | None = None,
    *,
    warmup: bool = True,
    longtail: LongTailPolicy | None = None,
    cache_dir: str | Path | object | None = _DEFAULT_CACHE,
    digest: str | None = None,
    devices: Sequence[Any] | int | None = None,
    copy_path: str = "auto",
    slots: int = 4,
    check_shared: bool = False,
    backend: str | None = None,
) -> Model:
    """Load an artifact directory for serving (on ``platform``, default JAX's default device).

    ``warmup`` runs every bucket once before returning (``model.ready``). Batches above the
    largest bucket run chunked while ``longtail`` (default `LongTailPolicy()`; pass
    ``LongTailPolicy(enabled=False)`` to turn it off) compiles their size in the background;
    those executables are kept in ``cache_dir`` (default `default_cache_dir()`, None: no cache)
    and loaded from there on the next start. ``digest`` (`fourier.artifact.artifact_digest`,
    shown by ``fourier inspect``) refuses any artifact but the one pinned.

    ``devices`` puts one replica on each device (JAX devices, ordinals of ``platform``'s devices,
    or a count) and spreads requests over them, each to the replica with the fewest in flight.
    On a GPU, ``copy_path="auto"`` (the default) moves inputs and outputs through pinned staging
    owned by the runtime (`fourier.gpu_copy`), with up to ``slots`` requests in flight per shape
    and device, and falls back to JAX's transfers (saying why in ``model.load_info.notes``) where
    that cannot be used; ``"cuda"`` requires it, ``"jax"`` never uses it.

    ``backend`` overrides the artifact's choice of executor for every batch: ``"xla"`` or
    ``"onnxruntime"`` (an artifact compiled with ``backend="onnxruntime"`` or ``"auto"``, served
    on a CPU); None follows the manifest (``auto``: the executor measured faster per bucket).

    A model compiled with shared (request-level) inputs takes each of them once per request:
    ``[1, ...]``, or without the leading 1; a request that repeats them per row is served from its
    first row, and ``check_shared=True`` refuses one whose rows differ.

    The parts, in order: `_verify` (manifest, hashes, consistency), `_read_weights` and
    `_replicas` (weights read once, put on each device), `_load_executables` (one per compiled
    shape and replica), `_prepare_copies`, `_attach_longtail` (policy, cache, compile_shape).
    """
    if copy_path not in ("auto", "cuda", "jax"):
        raise ValueError(f"copy_path must be 'auto', 'cuda' or 'jax', got {copy_path!r}")
    t0 = time.perf_counter()
    root = Path(path)
    manifest, modules = _verify(root, digest)
    targets = _devices(platform, devices)
    params = _read_weights(root, manifest)
    layout = PackLayout.from_json(manifest.packing) if manifest.packing else None
    notes: list[str] = []
    replicas = _replicas(targets, params, manifest.signature, layout, copy_path, slots, notes)
    executables, recompiled = _load_executables(root, manifest, modules, replicas, layout)
    info = LoadInfo(
        time.perf_counter() - t0,
        tuple(recompiled),
        targets[0].platform,
        copy_path=next((r.copy.api.name for r in replicas if r.copy is not None), "jax"),
        devices=tuple(str(d) for d in targets),
        notes=tuple(notes),
    )
    _prepare_copies(root, replicas, executables, copy_path, notes)
    info = dataclasses.replace(
        info,
        copy_path=next((r.copy.api.name for r in replicas if r.copy is not None), "jax"),
        notes=tuple(notes),
    )
    model = Model(root, manifest, executables, info, replicas)
    model.check_shared = check_shared
    model.attach_backend(root, targets[0].platform, backend)
    if manifest.host:  # strings and tables run on the host first (numpy, no TensorFlow)
        model.attach_host(root)
    if manifest.polymorphic and manifest.buckets:
        cached = _attach_longtail(model, replicas, layout, longtail, cache_dir)
        model.load_info = dataclasses.replace(
            model.load_info, from_cache=tuple(cached), seconds=time.perf_counter() - t0
        )
    if warmup:
        model.warmup()
    return model


def _verify(root: Path, digest: str | None) -> tuple[Manifest, dict[str, bytes]]:
    """The manifest, every file's hash checked, and the StableHLO modules (read and hashed once)
    checked against what the manifest says of them: (manifest, modules by path)."""
    manifest = read_manifest(root, verify=False, digest=digest)
    # Executables and StableHLO are hashed as they are read (read_verified); the rest now.
    blobs = {e.stablehlo for e in manifest.executables}
    blobs |= {e.executable for e in manifest.executables if e.executable}
    verify_files(root, manifest, exclude=blobs)
    modules = {e.stablehlo: read_verified(root, manifest, e.stablehlo) for e in manifest.executables}
    check_artifact(root, manifest, modules)  # the manifest describes these modules, or refuse now
    return manifest, modules


def _read_weights(root: Path, manifest: Manifest) -> list[np.ndarray]:
    """The weights in manifest order (memory-mapped), each checked against its ParamSpec."""
    from safetensors import safe_open

    weights_path = root / manifest.weights
    params = []
    try:
        with safe_open(str(weights_path), framework="numpy") as f:
            keys = set(f.keys())
            for p in manifest.params:
                if p.name not in keys:
                    raise ArtifactError(f"{weights_path}: weight {p.name!r} is missing")
                arr = f.get_tensor(p.name)
                if arr.dtype.name != p.dtype or tuple(arr.shape) != p.shape:
                    raise ArtifactError(
                        f"{weights_path}: weight {p.name!r} is {arr.dtype.name}{list(arr.shape)}, "
                        f"manifest says {p.dtype}{list(p.shape)}"
                    )
                params.append(arr)
    except ArtifactError:
        raise
    except Exception as e:
        raise ArtifactError(f"{weights_path}: unreadable weights ({e})") from e
    return params


def _replicas(
    targets: Sequence[Any],
    params: Sequence[np.ndarray],
    signature: Signature,
    layout: PackLayout | None,
    copy_path: str,
    slots: int,
    notes: list[str],
) -> list[Replica]:
    """One replica per device: the weights put there once, and its GPU copy path where
    ``copy_path`` allows (why not, once per reason, in ``notes``)."""
    import jax

    replicas = []
    for device in targets:
        with jax.enable_x64(True):
            device_params = [jax.device_put(a, device) for a in params]
        copy, why = _copy_path(device, signature, layout, copy_path, slots)
        if why and why not in notes:
            notes.append(why)
        replicas.append(Replica(device, device_params, copy))
    return replicas


def _param_specs(manifest: Manifest) -> list[Any]:
    from fourier.backends.xla import ArgSpec

    return [ArgSpec(p.shape, p.dtype) for p in manifest.params]


def _arg_specs(
    signature: Signature, layout: PackLayout | None, batch: int | None, dims: Mapping[str, int] | None
) -> list[Any]:
    """The executable's input arguments at one shape (`fourier.packing.executable_arg_shapes`)."""
    from fourier.backends.xla import ArgSpec

    return [ArgSpec(s, d) for s, d in executable_arg_shapes(signature, layout, batch, dims)]


def _load_executables(
    root: Path,
    manifest: Manifest,
    modules: Mapping[str, bytes],
    replicas: Sequence[Replica],
    layout: PackLayout | None,
) -> tuple[dict[tuple[int | None, ...], Any], list[tuple[int | None, ...]]]:
    """Per compiled shape, one executable per replica (deserialized, or compiled from the
    StableHLO when built for another jaxlib or device): (executables by shape, shapes recompiled)."""
    from fourier.backends.xla import load_executable

    param_specs = _param_specs(manifest)
    executables: dict[tuple[int | None, ...], Any] = {}
    recompiled: list[tuple[int | None, ...]] = []
    compatible = [_compatible(manifest, r.device) for r in replicas]
    for entry in manifest.executables:
        stablehlo = modules[entry.stablehlo]
        exe_bytes = read_verified(root, manifest, entry.executable) if entry.executable else None
        in_specs = _arg_specs(manifest.signature, layout, entry.batch or 0, entry.dims)
        per_replica = []
        for r, fits in zip(replicas, compatible):
            try:
                exe = load_executable(exe_bytes, stablehlo, param_specs, in_specs, r.device, r.params, fits)
            except ArtifactError as e:
                raise ArtifactError(f"{root}: {entry.stablehlo}: {e}") from e
            if exe.recompiled and entry.key not in recompiled:
                recompiled.append(entry.key)
            per_replica.append(exe)
        executables[entry.key] = tuple(per_replica)
    return executables, recompiled


def _prepare_copies(
    root: Path,
    replicas: Sequence[Replica],
    executables: Mapping[tuple[int | None, ...], Any],
    copy_path: str,
    notes: list[str],
) -> None:
    """One staging slot per shape on each replica's copy path now, so the first request allocates
    nothing; a replica whose slots cannot be made falls back to JAX (said in ``notes``)."""
    for r in replicas:
        if r.copy is None:
            continue
        try:
            for key in executables:
                r.copy.prepare(key)
        except CopyPathError as e:
            if copy_path == "cuda":
                raise ArtifactError(f"{root}: {e}") from e
            r.copy.close()
            r.copy = None
            notes.append(f"GPU copy path not used on {r.device} ({e}); inputs and outputs go through JAX")


def _attach_longtail(
    model: Model,
    replicas: Sequence[Replica],
    layout: PackLayout | None,
    policy: LongTailPolicy | None,
    cache_dir: str | Path | object | None,
) -> list[Key]:
    """Give ``model`` its long tail: background compiles of new shapes from the batch-polymorphic
    module, kept in the executable cache (``cache_dir``), and the shapes cached by an earlier run
    installed now. Returns those shapes."""
    from fourier.backends.xla import load_executable

    manifest, root, targets = model.manifest, model.path, [r.device for r in replicas]
    directory = default_cache_dir() if cache_dir is _DEFAULT_CACHE else cache_dir
    cache = None
    if directory is not None:
        cache = ExecutableCache(Path(str(directory)), _cache_env(targets[0]))
    assert manifest.polymorphic is not None
    poly = read_verified(root, manifest, manifest.polymorphic)
    module = manifest.files[manifest.polymorphic]
    symbols = manifest.signature.symbols
    param_specs = _param_specs(manifest)

    def shape_specs(key: Key) -> list[Any]:
        return _arg_specs(manifest.signature, layout, key[0], dict(zip(symbols, key[1:])))

    def compile_shape(key: Key) -> tuple[Any, ...]:
        from fourier.backends.xla import Executable, compile_stablehlo

        out = []
        for i, r in enumerate(replicas):
            loaded = compile_stablehlo(poly, param_specs, shape_specs(key), r.device)
            if cache is not None and i == 0:
                cache.store(module, key, bytes(r.device.client.serialize_executable(loaded)))
            out.append(Executable(loaded, r.device, r.params, recompiled=True))
        return tuple(out)

    model.longtail = LongTail(
        policy or LongTailPolicy(), compile_shape, model.install, model.metrics.compiled
    )
    cached = []
    if cache is not None:
        for key in cache.keys(module):
            if len(key) != 1 + len(symbols) or model.has_shape(key):
                continue
            data = cache.load(module, key)
            if data is None:
                continue
            loaded_all = tuple(
                load_executable(data, poly, param_specs, shape_specs(key), r.device, r.params, True)
                for r in replicas
            )
            model.install(key, loaded_all)
            model.longtail.mark_ready(key)
            cached.append(key)
    return cached


def _cache_env(device: Any) -> dict[str, str]:
    from fourier.backends.xla import compiler_options

    options = json.dumps(compiler_options(device.platform), sort_keys=True)
    return {
        "platform": device.platform,
        "device_kind": str(device.device_kind),
        "xla_options": options,
        **versions(),
    }
