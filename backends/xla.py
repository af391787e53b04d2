"""XLA through JAX: export portable StableHLO, AOT-compile, (de)serialize and run executables.

Executables are serialized with the PJRT client's own ``serialize_executable`` (bytes, no pickle).
That entry point lives in ``jaxlib`` internals whose signatures move between versions, so every
artifact also keeps the bucket's StableHLO (``jax.export``, multi-platform); loading falls back to
compiling that when the stored executable does not fit the running jaxlib or device.

All tracing happens with 64-bit types enabled so int64/float64 graph values keep their dtypes;
the flag is thread-local and only set around tracing and argument transfer.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the serving path loads executables without the lowering machinery
    from fourier.backends.jax_lowering import LoweredGraph

__all__ = [
    "ArgSpec",
    "CompiledBucket",
    "Executable",
    "compile_bucket",
    "export_bucket",
    "compile_exported",
    "load_executable",
    "compile_stablehlo",
    "export_polymorphic",
    "device_for",
    "compiler_options",
    "EXPORT_PLATFORMS",
]

EXPORT_PLATFORMS = ("cpu", "cuda")

# XLA debug options Fourier compiles with, per platform (measured: docs/benchmarks.md).
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {"cpu": {}, "cuda": {}}


def compiler_options(platform: str) -> dict[str, Any]:
    """The XLA options an executable for ``platform`` is compiled with: Fourier's measured
    defaults, updated by ``$FOURIER_XLA_OPTIONS`` (a JSON object of XLA debug options, e.g.
    ``{"xla_gpu_graph_min_graph_size": 1}``; applies to executables compiled from then on)."""
    options = dict(DEFAULT_OPTIONS.get("cuda" if platform == "gpu" else platform, {}))
    extra = os.environ.get("FOURIER_XLA_OPTIONS")
    if extra:
        try:
            parsed = json.loads(extra)
        except ValueError as e:
            raise ValueError(f"FOURIER_XLA_OPTIONS is not JSON ({e}): {extra[:200]!r}") from e
        if not isinstance(parsed, dict):
            raise ValueError(f"FOURIER_XLA_OPTIONS must be a JSON object, got {extra[:200]!r}")
        options.update(parsed)
    return options


@dataclass(frozen=True)
class ArgSpec:
    """Shape and dtype of one executable argument; a dimension may be a symbol name (``"N"``,
    ``"S"``) for a module exported for every value of it."""

    shape: tuple[int | str, ...]
    dtype: str


@dataclass
class CompiledBucket:
    """What compiling one bucket produces."""

    stablehlo: bytes
    executable: bytes | None
    compile_seconds: float
    export_seconds: float


def device_for(platform: str | None = None) -> Any:
    """The first JAX device of ``platform`` (default: JAX's default backend)."""
    import jax

    from fourier.errors import CompileError

    try:
        return jax.devices(platform)[0] if platform else jax.devices()[0]
    except RuntimeError as e:
        raise CompileError(f"no {platform} device available: {e}") from e


def _specs(args: Sequence[ArgSpec]) -> list[Any]:
    """JAX shapes of ``args``; symbol-named dimensions become JAX symbolic dimensions (>= 1)."""
    import jax
    from jax import export

    from fourier.ir.types import numpy_dtype

    names: list[str] = []
    for a in args:
        names += [d for d in a.shape if isinstance(d, str) and d not in names]
    symbols = {}
    if names:
        dims = export.symbolic_shape(", ".join(names), constraints=tuple(f"{n} >= 1" for n in names))
        symbols = dict(zip(names, dims))
    return [
        jax.ShapeDtypeStruct(
            tuple(symbols[d] if isinstance(d, str) else d for d in a.shape), numpy_dtype(a.dtype)
        )
        for a in args
    ]


def export_polymorphic(lowered: LoweredGraph, params: Sequence[ArgSpec], inputs: Sequence[ArgSpec]) -> bytes:
    """StableHLO of the graph for any value of the symbol-named dimensions in ``inputs`` (the
    batch, a sequence length): what the runtime compiles long-tail shapes from."""
    import jax
    from jax import export

    with jax.enable_x64(True):
        jitted = jax.jit(lowered.fn, keep_unused=True)
        exported = export.export(jitted, platforms=EXPORT_PLATFORMS)(_specs(params), _specs(inputs))
        return bytes(exported.serialize())


def export_bucket(
    lowered: LoweredGraph, params: Sequence[ArgSpec], inputs: Sequence[ArgSpec]
) -> tuple[bytes, float]:
    """Trace the graph for one shape and export it as StableHLO for every platform: (module,
    seconds). Tracing runs Python (it holds the GIL); `compile_exported` is the part that can run
    on another thread."""
    import jax
    from jax import export

    t0 = time.perf_counter()
    with jax.enable_x64(True):
        jitted = jax.jit(lowered.fn, keep_unused=True)
        exported = export.export(jitted, platforms=EXPORT_PLATFORMS)(_specs(params), _specs(inputs))
        stablehlo = bytes(exported.serialize())
    return stablehlo, time.perf_counter() - t0


def compile_exported(
    stablehlo: bytes,
    params: Sequence[ArgSpec],
    inputs: Sequence[ArgSpec],
    device: Any,
    export_seconds: float = 0.0,
) -> CompiledBucket:
    """Compile an exported module for ``device`` (XLA, which releases the GIL: buckets can compile
    on several threads at once) and serialize the executable."""
    t1 = time.perf_counter()
    runtime = compile_stablehlo(stablehlo, params, inputs, device)
    t2 = time.perf_counter()
    data = bytes(device.client.serialize_executable(runtime))
    return CompiledBucket(stablehlo, data, compile_seconds=t2 - t1, export_seconds=export_seconds)


def compile_bucket(
    lowered: LoweredGraph, params: Sequence[ArgSpec], inputs: Sequence[ArgSpec], device: Any
) -> CompiledBucket:
    """Export StableHLO for every platform, then compile that StableHLO for ``device``.

    The executable is built from the exported module itself (the same path `load_executable`
    falls back to), so the graph is traced once and the two can never disagree.
    """
    stablehlo, seconds = export_bucket(lowered, params, inputs)
    return compile_exported(stablehlo, params, inputs, device, seconds)


class Executable:
    """A loaded executable: runs host numpy arguments and returns host numpy results."""

    def __init__(self, loaded: Any, device: Any, params: Sequence[Any], recompiled: bool) -> None:
        self._loaded = loaded
        self._device = device
        self._params = list(params)
        self.recompiled = recompiled

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        import jax

        with jax.enable_x64(True):
            # One call for all arguments: JAX batches the transfers (about half the cost of one
            # call per argument when a model has many loose inputs).
            args = self._params + list(jax.device_put(list(inputs), self._device))
        results = self._loaded.execute_sharded(args).disassemble_into_single_device_arrays()
        return [np.asarray(r[0]) for r in results]

    def execute_resident(self, inputs: Sequence[Any]) -> list[Any]:
        """Run on device-resident input arrays; returns the outputs as device arrays (not waited on)."""
        results = self._loaded.execute_sharded(
            [*self._params, *inputs]
        ).disassemble_into_single_device_arrays()
        return [r[0] for r in results]

    @property
    def device(self) -> Any:
        return self._device


def _device_list(device: Any) -> Any:
    try:
        from jaxlib._jax import DeviceList

        return DeviceList((device,))
    except ImportError:  # older jaxlib takes a plain sequence
        return [device]


def _options_for(device: Any) -> Any:
    """Compile options that assign the executable to ``device``: a serialized executable keeps the
    device it was compiled for, so a replica on another device needs its assignment replaced.
    None where this jaxlib has no such API (the caller then compiles StableHLO instead)."""
    try:
        from jax._src.lib import xla_client as xc

        options = xc.CompileOptions()
        options.device_assignment = xc.DeviceAssignment.create(np.array([[device.id]]))
        return options
    except Exception:
        return None


def compile_stablehlo(
    stablehlo: bytes, params: Sequence[ArgSpec], inputs: Sequence[ArgSpec], device: Any
) -> Any:
    """Compile a serialized ``jax.export`` module for ``device``; returns a loaded executable."""
    import jax
    from jax import export

    from fourier.errors import ArtifactError

    try:
        exported = export.deserialize(bytearray(stablehlo))
    except Exception as e:  # from a newer jax, or not a jax.export module at all
        raise ArtifactError(
            f"StableHLO module cannot be read by jax {jax.__version__} ({type(e).__name__}: "
            f"{str(e)[:200]}); recompile the model with this version (fourier compile)"
        ) from e
    with jax.enable_x64(True):
        fn = jax.jit(exported.call, keep_unused=True)
        with jax.default_device(device):
            lowered = fn.lower(_specs(params), _specs(inputs))
            compiled = lowered.compile(compiler_options=compiler_options(device.platform) or None)
    return compiled.runtime_executable()


def load_executable(
    executable: bytes | None,
    stablehlo: bytes,
    params: Sequence[ArgSpec],
    inputs: Sequence[ArgSpec],
    device: Any,
    device_params: Sequence[Any],
    compatible: bool,
) -> Executable:
    """Deserialize ``executable`` if ``compatible``; otherwise (or if that fails) compile StableHLO."""
    if executable is not None and compatible:
        try:
            options = _options_for(device) if device.id != 0 else None
            if device.id == 0 or options is not None:
                loaded = device.client.deserialize_executable(executable, _device_list(device), options)
                return Executable(loaded, device, device_params, recompiled=False)
        except Exception:
            pass
    loaded = compile_stablehlo(stablehlo, params, inputs, device)
    return Executable(loaded, device, device_params, recompiled=True)
