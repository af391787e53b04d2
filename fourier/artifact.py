"""The artifact directory: manifest, weights, StableHLO and executables (see docs/artifact.md).

Reading checks the manifest's format and the sha256 of every file it lists before any of those
bytes are handed to a deserializer. Nothing is unpickled: the manifest is JSON, weights are
safetensors, StableHLO and executables are opaque bytes given to jax/jaxlib.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fourier.errors import ArtifactError
from fourier.signature import Signature

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ParamSpec",
    "BucketEntry",
    "Manifest",
    "write_artifact",
    "read_manifest",
    "artifact_digest",
    "sha256_file",
    "read_verified",
    "verify_files",
]

FORMAT = "fourier-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def versions() -> dict[str, str]:
    """Versions recorded in a manifest (and compared when an artifact is loaded)."""
    import jax
    import jaxlib

    from fourier import __version__

    return {"fourier": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__}


@dataclass(frozen=True)
class ParamSpec:
    """A weight: its key in ``weights.safetensors``, dtype and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class BucketEntry:
    """One compiled batch size (``batch`` is None for a graph with static shapes)."""

    batch: int | None
    stablehlo: str
    executable: str | None
    compile_seconds: float
    dims: dict[str, int] = field(default_factory=dict)  # values of the signature's other symbols

    @property
    def key(self) -> tuple[int | None, ...]:
        """(batch, values of the signature's symbols in sorted name order): the runtime's key."""
        return (self.batch, *(self.dims[k] for k in sorted(self.dims)))


@dataclass
class Manifest:
    """Everything needed to load and trust an artifact."""

    signature: Signature
    buckets: list[int] | None
    params: list[ParamSpec]
    executables: list[BucketEntry]
    platform: str
    device_kind: str
    versions: dict[str, str]
    source: dict[str, str]
    passes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    weights: str = "weights.safetensors"
    ir: str = "graph.fir"
    packing: dict[str, Any] | None = None  # fourier.packing.PackLayout JSON; None: one argument per input
    polymorphic: str | None = None  # StableHLO for any batch size (long-tail compiles), if exportable
    ir_constants: dict[str, str] = field(default_factory=dict)  # graph.fir constant -> weights key
    padding: dict[str, Any] = field(default_factory=dict)  # symbol -> independence analysis
    # Request-level inputs (`fourier.passes.hoist`): {"shared": [...], "hoisted": [...], ...};
    # empty when nothing was declared shared.
    hoist: dict[str, Any] = field(default_factory=dict)
    # Inputs bound at compile time (``--const``): name -> {"dtype", "value"}; a request may still
    # pass them, with exactly that value.
    consts: dict[str, Any] = field(default_factory=dict)
    # The host part (`fourier.host`: strings, tables) in host.json / host_tables.safetensors:
    # its inputs, the crossing values it hands the executables, ...; empty when there is none.
    host: dict[str, Any] = field(default_factory=dict)
    # The executor per compiled batch: {"kind": "xla" | "onnxruntime" | "auto", "onnx": file,
    # "choice": {batch: "xla" | "onnxruntime"}, "timings_us": {batch: {...}}, "shards": {batch:
    # row slices ONNX Runtime runs at once (`Model.shard_ort`)}}; empty: XLA only.
    backend: dict[str, Any] = field(default_factory=dict)

    @property
    def shared(self) -> tuple[str, ...]:
        """The inputs a request passes once (one row), not once per row."""
        return tuple(self.hoist.get("shared", ()))

    def paddable(self, symbol: str) -> bool:
        """Whether the independence analysis proved that padding ``symbol`` is safe."""
        return bool(self.padding.get(symbol, {}).get("safe", False))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "signature": self.signature.to_json(),
            "buckets": self.buckets,
            "params": [{"name": p.name, "dtype": p.dtype, "shape": list(p.shape)} for p in self.params],
            "executables": [
                {
                    "batch": e.batch,
                    "stablehlo": e.stablehlo,
                    "executable": e.executable,
                    "compile_seconds": round(e.compile_seconds, 4),
                    **({"dims": e.dims} if e.dims else {}),
                }
                for e in self.executables
            ],
            "platform": self.platform,
            "device_kind": self.device_kind,
            "versions": self.versions,
            "source": self.source,
            "passes": self.passes,
            "weights": self.weights,
            "ir": self.ir,
            "packing": self.packing,
            "polymorphic": self.polymorphic,
            "ir_constants": dict(sorted(self.ir_constants.items())),
            "padding": self.padding,
            **({"hoist": self.hoist} if self.hoist else {}),
            **({"consts": self.consts} if self.consts else {}),
            **({"host": self.host} if self.host else {}),
            **({"backend": self.backend} if self.backend else {}),
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Manifest:
        return cls(
            signature=Signature.from_json(d["signature"]),
            buckets=None if d["buckets"] is None else [int(b) for b in d["buckets"]],
            params=[ParamSpec(p["name"], p["dtype"], tuple(int(x) for x in p["shape"])) for p in d["params"]],
            executables=[
                BucketEntry(
                    None if e["batch"] is None else int(e["batch"]),
                    str(e["stablehlo"]),
                    None if e["executable"] is None else str(e["executable"]),
                    float(e.get("compile_seconds", 0.0)),
                    {str(k): int(v) for k, v in e.get("dims", {}).items()},
                )
                for e in d["executables"]
            ],
            platform=str(d["platform"]),
            device_kind=str(d["device_kind"]),
            versions={str(k): str(v) for k, v in d["versions"].items()},
            source={str(k): str(v) for k, v in d["source"].items()},
            passes=[str(p) for p in d.get("passes", [])],
            files={str(k): str(v) for k, v in d["files"].items()},
            weights=str(d.get("weights", "weights.safetensors")),
            ir=str(d.get("ir", "graph.fir")),
            packing=d.get("packing"),
            polymorphic=d.get("polymorphic"),
            ir_constants={str(k): str(v) for k, v in d.get("ir_constants", {}).items()},
            padding=dict(d.get("padding", {})),
            hoist=dict(d.get("hoist", {})),
            consts=dict(d.get("consts", {})),
            host=dict(d.get("host", {})),
            backend=dict(d.get("backend", {})),
        )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_relpath(rel: str, root: Path) -> Path:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ArtifactError(f"{root}: manifest lists an unsafe path {rel!r}")
    return root.joinpath(*p.parts)


def write_artifact(out: Path, manifest: Manifest, blobs: dict[str, bytes], weights: dict[str, Any]) -> Path:
    """Write an artifact atomically: build it beside ``out``, then swap it into place."""
    from safetensors.numpy import save_file

    out = Path(out)
    if out.exists() and not (out / MANIFEST).exists() and any(out.iterdir()):
        raise ArtifactError(f"{out}: exists and is not a Fourier artifact; refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files: dict[str, str] = {}
        for rel, data in blobs.items():
            path = _safe_relpath(rel, tmp)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[rel] = hashlib.sha256(data).hexdigest()
        save_file(weights, str(tmp / manifest.weights))
        files[manifest.weights] = sha256_file(tmp / manifest.weights)
        manifest.files = files
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1) + "\n")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def rewrite_manifest(root: Path, manifest: Manifest) -> None:
    """Replace a written artifact's manifest (its files and their hashes unchanged), atomically:
    what is decided after the files exist, such as the executor measured per bucket."""
    tmp = root / f".{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps(manifest.to_json(), indent=1) + "\n")
    os.replace(tmp, root / MANIFEST)


MAX_MANIFEST_BYTES = 64 << 20


def artifact_digest(root: Path) -> str:
    """The artifact's digest: sha256 of its manifest, which holds the sha256 of every other file
    (so it covers them all). Pin it at deploy time: ``fourier.load(path, digest=...)``."""
    return hashlib.sha256(_manifest_bytes(Path(root))).hexdigest()


def _manifest_bytes(root: Path) -> bytes:
    path = root / MANIFEST
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ArtifactError(f"{path}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{root}: not a Fourier artifact (no {MANIFEST})") from None
    except OSError as e:
        raise ArtifactError(f"{path}: unreadable manifest ({e})") from e


def read_manifest(root: Path, verify: bool = True, digest: str | None = None) -> Manifest:
    """Read and check an artifact's manifest; with ``verify``, check every file's sha256 too;
    with ``digest``, refuse an artifact whose `artifact_digest` differs."""
    root = Path(root)
    path = root / MANIFEST
    data = _manifest_bytes(root)
    if digest is not None and hashlib.sha256(data).hexdigest() != digest.lower():
        raise ArtifactError(
            f"{root}: artifact digest is {hashlib.sha256(data).hexdigest()[:16]}..., the caller "
            f"pinned {digest[:16]}...: this is not the artifact that was deployed"
        )
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path}: unreadable manifest ({e})") from e
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a Fourier manifest")
    if raw.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format version {raw.get('format_version')}, this Fourier reads {FORMAT_VERSION}"
        )
    try:
        manifest = Manifest.from_json(raw)
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"{path}: malformed manifest ({type(e).__name__}: {e})") from e
    needed = {manifest.weights} | {e.stablehlo for e in manifest.executables}
    needed |= {e.executable for e in manifest.executables if e.executable}
    missing_hash = needed - set(manifest.files)
    if missing_hash:
        raise ArtifactError(f"{path}: files without a recorded sha256: {sorted(missing_hash)}")
    if verify:
        verify_files(root, manifest)
    return manifest


def verify_files(root: Path, manifest: Manifest, exclude: Collection[str] = ()) -> None:
    """Check the sha256 of every listed file but ``exclude`` (files `read_verified` will read)."""
    for rel, want in manifest.files.items():
        file = _safe_relpath(rel, root)
        if rel in exclude:
            continue
        if not file.is_file():
            raise ArtifactError(f"{root}: file {rel} is missing")
        got = sha256_file(file)
        if got != want:
            raise ArtifactError(
                f"{root}: file {rel} is corrupt or was changed (sha256 {got[:16]}..., "
                f"manifest says {want[:16]}...)"
            )


def read_verified(root: Path, manifest: Manifest, rel: str) -> bytes:
    """Read one listed file and check its sha256 on the very bytes that will be used."""
    if rel not in manifest.files:
        raise ArtifactError(f"{root}: {rel} has no recorded sha256")
    try:
        data = _safe_relpath(rel, Path(root)).read_bytes()
    except OSError as e:
        raise ArtifactError(f"{root}: cannot read {rel} ({e})") from e
    if hashlib.sha256(data).hexdigest() != manifest.files[rel]:
        raise ArtifactError(f"{root}: file {rel} is corrupt or was changed")
    return data
