"""Serving: load an artifact and answer requests of any batch size.

`load` verifies the artifact, memory-maps its weights, puts them on the device once, and
deserializes one executable per bucket (compiling the stored StableHLO instead when the executable
was built for another jaxlib or device). A `Model` call checks the inputs against the signature,
picks the smallest bucket that fits, pads by repeating the last real row (padded rows are copies of
real data, so they cannot fault or make NaN that real data would not), runs, and slices. Batches
above the largest bucket run as chunks. Calls may come from many threads at once: a model's state
is read-only after load.

This module never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fourier.artifact import Manifest, read_manifest, read_verified, verify_files
from fourier.errors import (
    ArtifactError,
    InputDtypeError,
    InputError,
    InputShapeError,
    MissingInputError,
    UnknownInputError,
)
from fourier.longtail import ExecutableCache, LongTail, LongTailPolicy, default_cache_dir
from fourier.metrics import Metrics
from fourier.packing import PackLayout
from fourier.signature import Signature, TensorSpec

__all__ = ["Model", "load", "LoadInfo"]


@dataclass(frozen=True)
class LoadInfo:
    """How an artifact was loaded: seconds, and which buckets had to be recompiled."""

    seconds: float
    recompiled: tuple[int | None, ...]
    platform: str
    from_cache: tuple[int, ...] = ()  # long-tail batch sizes loaded from the executable cache


class Model:
    """A loaded artifact. Call it with a dict of numpy arrays; get a dict of numpy arrays."""

    def __init__(
        self, path: Path, manifest: Manifest, executables: dict[int | None, Any], info: LoadInfo
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.signature: Signature = manifest.signature
        self.load_info = info
        self.metrics = Metrics(path.name)
        self.ready = False  # True once every bucket has run once (`warmup`)
        self._executables = dict(executables)
        # The artifact's buckets plus long-tail sizes compiled since; replaced, never mutated.
        self._buckets = sorted(b for b in executables if b is not None)
        self._inputs = {s.name: s for s in self.signature.inputs}
        self._layout = PackLayout.from_json(manifest.packing) if manifest.packing else None
        self._install_lock = threading.Lock()
        self.longtail: LongTail | None = None

    @property
    def buckets(self) -> tuple[int, ...] | None:
        """The compiled batch sizes (the artifact's and long-tail ones), or None for static shapes."""
        return tuple(self._buckets) if self._buckets else None

    def __repr__(self) -> str:
        return f"<fourier.Model {self.path} buckets={self.buckets} {self.signature}>"

    def install(self, batch: int, executable: Any) -> None:
        """Serve ``batch`` rows with ``executable`` from now on (long-tail compiles land here)."""
        with self._install_lock:
            self._executables[batch] = executable
            self._buckets = sorted({*self._buckets, batch})

    def warmup(self) -> float:
        """Run every executable once (first runs allocate and page in); sets `ready`. Seconds."""
        t0 = time.perf_counter()
        for b in list(self._executables):
            n = b or 0
            arrays = [np.zeros(s.with_batch(n), dtype=s.dtype) for s in self.signature.inputs]
            self._execute(arrays, 0, n, b, count=False)
        self.ready = True
        return time.perf_counter() - t0

    def close(self) -> None:
        """Stop background compiles (waits for one in progress)."""
        if self.longtail is not None:
            self.longtail.close()

    # -- checking -----------------------------------------------------------------------------

    def check(self, inputs: Mapping[str, Any]) -> tuple[list[np.ndarray], int | None]:
        """Check ``inputs`` against the signature: (arrays in signature order, batch size)."""
        unknown = [k for k in inputs if k not in self._inputs]
        if unknown:
            raise UnknownInputError(
                f"unknown input {unknown[0]!r}; the model's inputs are: "
                + ", ".join(s.name for s in self.signature.inputs)
            )
        arrays: list[np.ndarray] = []
        batch: int | None = None
        batch_from = ""
        for spec in self.signature.inputs:
            if spec.name not in inputs:
                raise MissingInputError(f"missing input {spec.name!r} (expected {_describe(spec)})")
            x = np.asarray(inputs[spec.name])
            if x.dtype.name != spec.dtype:
                raise InputDtypeError(f"input {spec.name!r}: expected dtype {spec.dtype}, got {x.dtype.name}")
            if x.ndim != len(spec.shape) or any(
                d != "N" and int(d) != s for d, s in zip(spec.shape, x.shape)
            ):
                raise InputShapeError(
                    f"input {spec.name!r}: expected shape {_describe_shape(spec)}, got {tuple(x.shape)}"
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

    # -- running ------------------------------------------------------------------------------

    def bucket_for(self, batch: int) -> int:
        """The smallest bucket that holds ``batch`` rows (the largest if none does)."""
        buckets = self._buckets
        for b in buckets:
            if b >= batch:
                return b
        return buckets[-1]

    def __call__(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the model on a dict of arrays (by input name); returns outputs by name."""
        t0 = time.perf_counter()
        try:
            arrays, batch = self.check(inputs)
        except InputError as e:
            self.metrics.error(type(e).__name__)
            raise
        result = self.run_checked(arrays, batch)
        self.metrics.request(batch or 0, time.perf_counter() - t0)
        return result

    run = __call__

    def run_checked(self, arrays: list[np.ndarray], batch: int | None) -> dict[str, np.ndarray]:
        """Run inputs already checked by `check` (as arrays in signature order)."""
        if batch is None:  # a graph with static shapes: one executable, no padding
            outs = self._execute(arrays, 0, 0, None)
            return {s.name: o for s, o in zip(self.signature.outputs, outs)}
        buckets = self._buckets
        largest = buckets[-1]
        if batch > largest and self.longtail is not None:
            self.longtail.saw(batch)  # maybe compile this size in the background; chunk for now
        pieces: list[list[np.ndarray]] = []
        start = 0
        while True:
            rows = min(batch - start, largest)
            bucket = self.bucket_for(max(rows, 1))
            outs = self._execute(arrays, start, rows, bucket)
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

    def _execute(
        self, arrays: list[np.ndarray], start: int, rows: int, bucket: int | None, count: bool = True
    ) -> list[np.ndarray]:
        if bucket is None:
            args = arrays
        elif self._layout is not None:
            args = self._layout.pack(self.signature, arrays, start, rows, bucket)
        else:
            args = [self._pad(spec, x, start, rows, bucket) for spec, x in zip(self.signature.inputs, arrays)]
        outs = self._executables[bucket](args)
        if count:
            self.metrics.executed("static" if bucket is None else str(bucket), rows, (bucket or 0) - rows)
        return outs

    @staticmethod
    def _pad(spec: TensorSpec, x: np.ndarray, start: int, rows: int, bucket: int) -> np.ndarray:
        if not spec.batched:
            return x
        part = x[start : start + rows]
        if rows == bucket:
            return np.ascontiguousarray(part)
        out = np.empty((bucket, *x.shape[1:]), dtype=x.dtype)
        out[:rows] = part
        out[rows:] = part[rows - 1] if rows else 0
        return out


def _describe_shape(spec: TensorSpec) -> str:
    return "(" + ", ".join("batch" if d == "N" else str(d) for d in spec.shape) + ")"


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


def load(
    path: str | Path,
    platform: str | None = None,
    *,
    warmup: bool = True,
    longtail: LongTailPolicy | None = None,
    cache_dir: str | Path | object | None = _DEFAULT_CACHE,
) -> Model:
    """Load an artifact directory for serving (on ``platform``, default JAX's default device).

    ``warmup`` runs every bucket once before returning (``model.ready``). Batches above the
    largest bucket run chunked while ``longtail`` (default `LongTailPolicy()`; pass
    ``LongTailPolicy(enabled=False)`` to turn it off) compiles their size in the background;
    those executables are kept in ``cache_dir`` (default `default_cache_dir()`, None: no cache)
    and loaded from there on the next start.
    """
    import jax
    from safetensors import safe_open

    from fourier.backends.xla import ArgSpec, device_for, load_executable
    from fourier.compiler import _arg_specs

    t0 = time.perf_counter()
    root = Path(path)
    manifest = read_manifest(root, verify=False)
    # Executables and StableHLO are hashed as they are read (read_verified); the rest now.
    blobs = {e.stablehlo for e in manifest.executables}
    blobs |= {e.executable for e in manifest.executables if e.executable}
    verify_files(root, manifest, exclude=blobs)
    device = device_for(platform)

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
    with jax.enable_x64(True):
        device_params = [jax.device_put(a, device) for a in params]

    compatible = _compatible(manifest, device)
    layout = PackLayout.from_json(manifest.packing) if manifest.packing else None
    param_specs = [ArgSpec(p.shape, p.dtype) for p in manifest.params]
    executables: dict[int | None, Any] = {}
    recompiled = []
    for entry in manifest.executables:
        stablehlo = read_verified(root, manifest, entry.stablehlo)
        exe_bytes = read_verified(root, manifest, entry.executable) if entry.executable else None
        in_specs = _arg_specs(manifest.signature, layout, entry.batch or 0)
        exe = load_executable(exe_bytes, stablehlo, param_specs, in_specs, device, device_params, compatible)
        if exe.recompiled:
            recompiled.append(entry.batch)
        executables[entry.batch] = exe
    info = LoadInfo(time.perf_counter() - t0, tuple(recompiled), device.platform)
    model = Model(root, manifest, executables, info)
    if manifest.polymorphic and manifest.buckets:
        directory = default_cache_dir() if cache_dir is _DEFAULT_CACHE else cache_dir
        cache = None
        if directory is not None:
            cache = ExecutableCache(Path(str(directory)), _cache_env(device))
        poly = read_verified(root, manifest, manifest.polymorphic)
        module = manifest.files[manifest.polymorphic]

        def compile_size(size: int) -> Any:
            from fourier.backends.xla import Executable, compile_stablehlo

            loaded = compile_stablehlo(
                poly, param_specs, _arg_specs(manifest.signature, layout, size), device
            )
            if cache is not None:
                cache.store(module, size, bytes(device.client.serialize_executable(loaded)))
            return Executable(loaded, device, device_params, recompiled=True)

        model.longtail = LongTail(
            longtail or LongTailPolicy(), compile_size, model.install, model.metrics.compiled
        )
        cached = []
        if cache is not None:
            for size in cache.batches(module):
                data = cache.load(module, size)
                if data is None or size in model._executables:
                    continue
                in_specs = _arg_specs(manifest.signature, layout, size)
                exe = load_executable(data, poly, param_specs, in_specs, device, device_params, True)
                model.install(size, exe)
                model.longtail.mark_ready(size)
                cached.append(size)
        model.load_info = dataclasses.replace(
            info, from_cache=tuple(cached), seconds=time.perf_counter() - t0
        )
    if warmup:
        model.warmup()
    return model


def _cache_env(device: Any) -> dict[str, str]:
    from fourier.compiler import versions

    return {"platform": device.platform, "device_kind": str(device.device_kind), **versions()}
