"""Artifact integrity: tampered, truncated or swapped files are caught before any bytes are
deserialized; foreign versions recompile or are refused clearly; nothing unpickles.

Before: a compiled MLP artifact (buckets 4 and 16), then one file changed in one way.
Expected: `fourier.load` raises ArtifactError naming the file -- and the deserializers (PJRT,
jax.export, safetensors) are never handed the bad bytes.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.artifact import artifact_digest
from fourier.errors import ArtifactError
from fourier.testing.zoo import ZooModel, random_inputs


@pytest.fixture(scope="module")
def built(zoo: dict[str, ZooModel], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "mlp.fourier"
    fourier.compile(zoo["mlp"].pb, out, [4, 16])
    return out


@pytest.fixture
def art(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "art"))


@pytest.fixture
def deserializers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call into a deserializer the load path uses."""
    import jax.export
    import safetensors

    calls: list[str] = []
    real_export = jax.export.deserialize
    real_safe_open = safetensors.safe_open

    def export_deserialize(*a: Any, **k: Any) -> Any:
        calls.append("jax.export.deserialize")
        return real_export(*a, **k)

    def safe_open(*a: Any, **k: Any) -> Any:
        calls.append("safetensors")
        return real_safe_open(*a, **k)

    monkeypatch.setattr(jax.export, "deserialize", export_deserialize)
    monkeypatch.setattr(safetensors, "safe_open", safe_open)
    return calls


def _manifest(art: Path) -> dict[str, Any]:
    return json.loads((art / "manifest.json").read_text())


def test_tampered_stablehlo_is_caught_before_deserializing(art: Path, deserializers: list[str]) -> None:
    f = art / "buckets" / "b4.stablehlo"
    data = bytearray(f.read_bytes())
    data[100] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="b4.stablehlo is corrupt or was changed"):
        fourier.load(art, cache_dir=None)
    assert "jax.export.deserialize" not in deserializers


def test_truncated_executable_is_caught(art: Path) -> None:
    f = next((art / "buckets").glob("b16.*.xla"))
    f.write_bytes(f.read_bytes()[:-1])
    with pytest.raises(ArtifactError, match=f"{f.name} is corrupt or was changed"):
        fourier.load(art, cache_dir=None)


def test_swapped_bucket_files_are_caught(art: Path) -> None:
    a, b = sorted((art / "buckets").glob("*.xla"))
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    with pytest.raises(ArtifactError, match="is corrupt or was changed"):
        fourier.load(art, cache_dir=None)


def test_weights_from_another_artifact_are_caught_before_reading_them(
    art: Path, zoo: dict[str, ZooModel], tmp_path: Path, deserializers: list[str]
) -> None:
    other = tmp_path / "other"
    fourier.compile(zoo["ranker"].pb, other, [4], dims={"S": [8]})
    shutil.copy(other / "weights.safetensors", art / "weights.safetensors")
    deserializers.clear()
    with pytest.raises(ArtifactError, match="weights.safetensors is corrupt or was changed"):
        fourier.load(art, cache_dir=None)
    assert deserializers == []


def test_truncated_manifest_is_refused(art: Path) -> None:
    m = art / "manifest.json"
    m.write_bytes(m.read_bytes()[:200])
    with pytest.raises(ArtifactError, match="unreadable manifest"):
        fourier.load(art, cache_dir=None)


def test_missing_file_is_named(art: Path) -> None:
    (art / "graph.fir").unlink()
    with pytest.raises(ArtifactError, match="file graph.fir is missing"):
        fourier.load(art, cache_dir=None)


def test_pinned_digest_refuses_any_other_artifact(art: Path) -> None:
    digest = artifact_digest(art)
    assert fourier.load(art, cache_dir=None, digest=digest).ready
    m = _manifest(art)
    m["buckets"] = [4]  # an edit that keeps every file hash valid
    (art / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="not the artifact that was deployed"):
        fourier.load(art, cache_dir=None, digest=digest)


def test_stablehlo_this_jax_cannot_read_is_refused_clearly(art: Path) -> None:
    """An artifact from another jax whose executables do not apply here and whose StableHLO this
    jax cannot read (simulated: garbage bytes, hashes recomputed) is refused naming the file."""
    import hashlib

    m = _manifest(art)
    m["versions"]["jaxlib"] = "0.0.1"  # executables do not apply: recompile from StableHLO
    for rel in [e["stablehlo"] for e in m["executables"]]:
        (art / rel).write_bytes(b"not a module from this jax")
        m["files"][rel] = hashlib.sha256(b"not a module from this jax").hexdigest()
    (art / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(
        ArtifactError, match=r"buckets/b\d+\.stablehlo: StableHLO module cannot be read by jax"
    ):
        fourier.load(art, cache_dir=None)


def test_nothing_on_the_load_and_serve_path_unpickles(
    art: Path, zoo: dict[str, ZooModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("the load path unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(np, "load", refuse)
    model = fourier.load(art, cache_dir=None)
    out = model(random_inputs(zoo["mlp"], 5))
    assert all(np.isfinite(v).all() for v in out.values())


# -- the manifest checked against what it describes --------------------------------------------------


def _edit_manifest(art: Path, edit: Any) -> None:
    path = art / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (lambda d: d["signature"]["inputs"][0].update(dtype="float32"), "packing does not fit the signature"),
        (lambda d: d["signature"]["inputs"][0].update(shape=["N", 2]), "packing does not fit the signature"),
        (lambda d: d["signature"]["outputs"][0].update(shape=["N", 3]), "signature.outputs"),
        (lambda d: d["signature"]["inputs"][0].update(dtype="complex512"), "not a known dtype"),
        (lambda d: d["executables"][0].update(batch=16), "buckets says"),
        (lambda d: (d["executables"][0].update(batch=16), d.update(buckets=[16, 64])), "executables[0]"),
        (lambda d: d["packing"]["segments"][0].__setitem__(2, 4), "packing does not fit"),
        (lambda d: d.update(buckets=[32, 64, 128]), "buckets says"),
    ],
)
def test_a_hand_edited_manifest_is_refused_naming_the_field(
    edit: Any, names: str, zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    """Before: DeepFM's artifact with one manifest field edited by hand (hashes still pass: the
    manifest is the root). Expected: load and ``fourier inspect`` refuse with one ArtifactError
    naming the field, instead of a JaxRuntimeError at the first call."""
    art = tmp_path / "deepfm"
    fourier.compile(zoo["deepfm"].pb, art, buckets=[32, 64])
    _edit_manifest(art, edit)
    with pytest.raises(ArtifactError, match=re.escape(names)):
        fourier.load(art, cache_dir=None)
    result = subprocess.run(
        [sys.executable, "-m", "fourier", "inspect", str(art)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert names in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_unpacked_input_edited_by_hand_is_named(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    """Before: the MLP (one input, no packing) with its input's dtype edited to float64.
    Expected: the refusal names that input, what the manifest implies and what was compiled."""
    art = tmp_path / "mlp"
    fourier.compile(zoo["mlp"].pb, art, buckets=[8])
    name = json.loads((art / "manifest.json").read_text())["signature"]["inputs"][0]["name"]
    _edit_manifest(art, lambda d: d["signature"]["inputs"][0].update(dtype="float64"))
    with pytest.raises(
        ArtifactError,
        match=rf"signature.inputs '{name}' implies float64\[8, \d+\], the compiled module has float32",
    ):
        fourier.load(art, cache_dir=None)
