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
    InputShapeError,
    MissingInputError,
    UnknownInputError,
)
from fourier.packing import PackLayout
from fourier.signature import Signature, TensorSpec

__all__ = ["Model", "load", "LoadInfo"]


@dataclass(frozen=True)
class LoadInfo:
    """How an artifact was loaded: seconds, and which buckets had to be recompiled."""

    seconds: float
    recompiled: tuple[int | None, ...]
    platform: str


class Model:
    """A loaded artifact. Call it with a dict of numpy arrays; get a dict of numpy arrays."""

    def __init__(
        self, path: Path, manifest: Manifest, executables: dict[int | None, Any], info: LoadInfo
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.signature: Signature = manifest.signature
        self.load_info = info
        self._executables = executables
        self._buckets = sorted(b for b in executables if b is not None)
        self._inputs = {s.name: s for s in self.signature.inputs}
        self._layout = PackLayout.from_json(manifest.packing) if manifest.packing else None

    @property
    def buckets(self) -> tuple[int, ...] | None:
        """The compiled batch sizes, or None for a graph with static shapes."""
        return tuple(self._buckets) if self._buckets else None

    def __repr__(self) -> str:
        return f"<fourier.Model {self.path} buckets={self.buckets} {self.signature}>"

    # -- checking -----------------------------------------------------------------------------

    def _check(self, inputs: Mapping[str, Any]) -> tuple[list[np.ndarray], int | None]:
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
        for b in self._buckets:
            if b >= batch:
                return b
        return self._buckets[-1]

    def __call__(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the model on a dict of arrays (by input name); returns outputs by name."""
        arrays, batch = self._check(inputs)
        if batch is None:  # a graph with static shapes: one executable, no padding
            outs = self._executables[None](arrays)
            return {s.name: o for s, o in zip(self.signature.outputs, outs)}
        largest = self._buckets[-1]
        pieces: list[list[np.ndarray]] = []
        start = 0
        while True:
            rows = min(batch - start, largest)
            bucket = self.bucket_for(max(rows, 1))
            if self._layout is not None:
                chunk = self._layout.pack(self.signature, arrays, start, rows, bucket)
            else:
                chunk = [
                    self._pad(spec, x, start, rows, bucket) for spec, x in zip(self.signature.inputs, arrays)
                ]
            outs = self._executables[bucket](chunk)
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

    run = __call__

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


def load(path: str | Path, platform: str | None = None) -> Model:
    """Load an artifact directory for serving (on ``platform``, default JAX's default device)."""
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
    return Model(root, manifest, executables, info)
