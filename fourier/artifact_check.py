"""An artifact's manifest checked against what it describes, before anything runs.

Hashes prove the files are the ones the manifest names; they say nothing about the manifest itself
(it is the root of trust, so a hand edit of an input's dtype or an executable's batch passes them)
and an inconsistent manifest used to surface as a long ``JaxRuntimeError`` at the first call. So
`check_artifact` reads each compiled shape's StableHLO (``jax.export``'s serialized module, which
records the argument and result types it was compiled for) and compares them with what the
manifest implies: the weights, the packed or per-input arguments its signature and packing layout
give at that shape, and its outputs. Also checked: the buckets list against the executables, every
dtype name, every shape's dimensions, and the packing layout against the signature. Each refusal
is an `ArtifactError` naming the file and the field. `fourier.load` and ``fourier inspect`` call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fourier.artifact import Manifest, read_verified
from fourier.errors import ArtifactError
from fourier.ir.types import BATCH, numpy_dtype
from fourier.packing import PackLayout, executable_arg_shapes

__all__ = ["check_artifact", "module_types"]


def module_types(
    stablehlo: bytes,
) -> tuple[list[tuple[tuple[Any, ...], str]], list[tuple[tuple[Any, ...], str]]]:
    """(argument types, result types) a serialized ``jax.export`` module was exported for, each
    as (shape, dtype name); symbolic dimensions are returned as their text (``"N"``)."""
    from jax import export

    exported = export.deserialize(bytearray(stablehlo))

    def types(avals: Any) -> list[tuple[tuple[Any, ...], str]]:
        return [
            (tuple(d if isinstance(d, int) else str(d) for d in a.shape), np.dtype(a.dtype).name)
            for a in avals
        ]

    return types(exported.in_avals), types(exported.out_avals)


def _where(root: Path) -> str:
    return f"{root}/manifest.json"


def _check_signature(root: Path, manifest: Manifest) -> None:
    sig = manifest.signature
    for field, specs in (("inputs", sig.inputs), ("outputs", sig.outputs), ("unused", sig.unused)):
        for spec in specs:
            try:
                numpy_dtype(spec.dtype)
            except Exception:
                raise ArtifactError(
                    f"{_where(root)}: signature.{field} {spec.name!r} has dtype {spec.dtype!r}, not a known dtype"
                ) from None
            for axis, d in enumerate(spec.shape):
                if isinstance(d, bool) or not isinstance(d, (int, str)) or (isinstance(d, int) and d < 0):
                    raise ArtifactError(
                        f"{_where(root)}: signature.{field} {spec.name!r} dimension {axis} is {d!r}"
                    )
                if field == "inputs" and isinstance(d, str) and axis > 0 and d == BATCH:
                    raise ArtifactError(
                        f"{_where(root)}: signature.inputs {spec.name!r}: only dimension 0 may be the batch"
                    )


def check_artifact(root: Path, manifest: Manifest, modules: Mapping[str, bytes] | None = None) -> None:
    """Refuse (`ArtifactError`, naming the field) a manifest that does not describe its own files.

    ``modules`` holds StableHLO bytes already read (by file name); others are read and verified.
    """
    root = Path(root)
    _check_signature(root, manifest)
    layout = None
    if manifest.packing is not None:
        try:
            layout = PackLayout.from_json(manifest.packing)
        except ArtifactError as e:
            raise ArtifactError(f"{_where(root)}: packing: {e}") from e
        except Exception as e:
            raise ArtifactError(f"{_where(root)}: packing is malformed ({type(e).__name__}: {e})") from e
        problem = layout.check(manifest.signature)
        if problem:
            raise ArtifactError(f"{_where(root)}: packing does not fit the signature: {problem}")
    batched = any(s.batched for s in manifest.signature.inputs)
    batches = sorted({e.batch for e in manifest.executables if e.batch is not None})
    if batched and (manifest.buckets is None or sorted(set(manifest.buckets)) != batches):
        raise ArtifactError(
            f"{_where(root)}: buckets says {manifest.buckets}, the executables are compiled for batches {batches}"
        )
    if not batched and any(e.batch is not None for e in manifest.executables):
        raise ArtifactError(f"{_where(root)}: executables name a batch, but no input has a batch dimension")
    symbols = set(manifest.signature.symbols)
    params = [(tuple(p.shape), p.dtype) for p in manifest.params]
    for i, entry in enumerate(manifest.executables):
        field = f"executables[{i}] ({entry.stablehlo})"
        if set(entry.dims) != symbols:
            raise ArtifactError(
                f"{_where(root)}: {field}: dims {sorted(entry.dims)} do not match the signature's symbols "
                f"{sorted(symbols)}"
            )
        if entry.batch is not None and (isinstance(entry.batch, bool) or entry.batch < 1):
            raise ArtifactError(f"{_where(root)}: {field}: batch {entry.batch!r} is not a positive size")
        data = (modules or {}).get(entry.stablehlo)
        if data is None:
            data = read_verified(root, manifest, entry.stablehlo)
        try:
            args, results = module_types(data)
        except Exception as e:
            import jax

            raise ArtifactError(
                f"{root / entry.stablehlo}: StableHLO module cannot be read by jax {jax.__version__} "
                f"({type(e).__name__}: {str(e)[:200]}); recompile the model with this version (fourier compile)"
            ) from e
        bucket = entry.batch or 0
        expected_args = params + [
            (tuple(s), d) for s, d in executable_arg_shapes(manifest.signature, layout, bucket, entry.dims)
        ]
        expected_results = [
            (spec.concrete(bucket, entry.dims), spec.dtype) for spec in manifest.signature.outputs
        ]
        inputs = manifest.signature.inputs
        if layout is None:
            arg_names = [f"signature.inputs {s.name!r}" for s in inputs]
        else:
            arg_names = ["signature.inputs and packing (the packed buffer)"] if layout.segments else []
            arg_names += [f"signature.inputs {inputs[j].name!r}" for j in layout.loose]
        names = [f"params {p.name!r}" for p in manifest.params] + arg_names
        _compare(root, field, "arguments", args, expected_args, names)
        outputs = [f"signature.outputs {s.name!r}" for s in manifest.signature.outputs]
        _compare(root, field, "results", results, expected_results, outputs)


def _compare(
    root: Path,
    field: str,
    what: str,
    got: list[tuple[tuple[Any, ...], str]],
    want: list[tuple[tuple[Any, ...], str]],
    names: list[str],
) -> None:
    if len(got) != len(want):
        raise ArtifactError(
            f"{_where(root)}: {field}: the module takes {len(got)} {what}, the manifest implies {len(want)}"
        )
    for name, g, w in zip(names, got, want):
        if tuple(g[0]) != tuple(w[0]) or g[1] != w[1]:
            raise ArtifactError(
                f"{_where(root)}: {field}: {name} implies {w[1]}{list(w[0])}, the compiled module has "
                f"{g[1]}{list(g[0])}"
            )
