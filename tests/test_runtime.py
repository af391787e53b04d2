"""Serving: typed input errors, many threads, no TensorFlow, no compile on load, tampering.

Uses the DeepFM zoo model (39 inputs) and the bundled MLP example.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.errors import (
    ArtifactError,
    InputDtypeError,
    InputShapeError,
    MissingInputError,
    UnknownInputError,
)
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel, random_inputs
from tests.conftest import ATOL, RTOL, xla_compiles


@pytest.fixture(scope="module")
def deepfm(zoo: dict[str, ZooModel], tmp_path_factory: pytest.TempPathFactory) -> tuple[ZooModel, Path]:
    out = tmp_path_factory.mktemp("rt") / "deepfm"
    fourier.compile(zoo["deepfm"].pb, out, buckets=[8, 32])
    return zoo["deepfm"], out


def test_missing_input_names_it(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    feeds = random_inputs(zm, 3)
    del feeds["C7"]
    with pytest.raises(MissingInputError, match="'C7'.*int32"):
        fourier.load(path)(feeds)


def test_unknown_input_names_it(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    feeds = random_inputs(zm, 3)
    feeds["C99"] = feeds["C1"]
    with pytest.raises(UnknownInputError, match="'C99'"):
        fourier.load(path)(feeds)


def test_wrong_dtype_names_input_expected_and_got(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    feeds = random_inputs(zm, 3)
    feeds["C3"] = feeds["C3"].astype(np.int64)
    with pytest.raises(InputDtypeError, match="'C3'.*expected dtype int32, got int64"):
        fourier.load(path)(feeds)


def test_wrong_non_batch_shape_names_input_expected_and_got(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    feeds = random_inputs(zm, 3)
    feeds["I2"] = np.zeros((3, 2), np.float32)
    with pytest.raises(InputShapeError, match=r"'I2'.*expected shape \(batch, 1\), got \(3, 2\)"):
        fourier.load(path)(feeds)


def test_disagreeing_batch_sizes_are_refused(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    feeds = random_inputs(zm, 3)
    feeds["I5"] = np.zeros((4, 1), np.float32)
    with pytest.raises(InputShapeError, match="disagree"):
        fourier.load(path)(feeds)


def test_empty_batch_gives_empty_outputs(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    out = fourier.load(path)(random_inputs(zm, 0))
    assert all(v.shape[0] == 0 for v in out.values())


def test_many_threads_get_their_own_rows(deepfm: tuple[ZooModel, Path]) -> None:
    zm, path = deepfm
    model, oracle = fourier.load(path), TFGraph(zm.pb)
    requests = [
        random_inputs(zm, int(b), seed=i) for i, b in enumerate(np.random.default_rng(0).integers(1, 80, 64))
    ]
    expected = [oracle(r) for r in requests]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(model, requests))
    for got, want in zip(results, expected):
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL)


def test_second_load_deserializes_without_compiling(deepfm: tuple[ZooModel, Path]) -> None:
    _, path = deepfm
    with xla_compiles() as compiles:
        model = fourier.load(path)
    assert compiles == [] and model.load_info.recompiled == ()


def test_serving_process_without_tensorflow(deepfm: tuple[ZooModel, Path], tmp_path: Path) -> None:
    zm, path = deepfm
    feeds = random_inputs(zm, 5, seed=3)
    np.savez(tmp_path / "in.npz", **feeds)
    want = TFGraph(zm.pb)(feeds)
    np.savez(tmp_path / "want.npz", **want)
    script = textwrap.dedent(
        f"""
        import sys, importlib.abc
        class NoTF(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "tensorflow" or name.startswith(("tensorflow.", "tf_keras", "keras")):
                    raise ImportError("tensorflow is blocked in this process")
        sys.meta_path.insert(0, NoTF())
        import numpy as np, fourier
        model = fourier.load({str(path)!r})
        feeds = dict(np.load({str(tmp_path / "in.npz")!r}))
        want = dict(np.load({str(tmp_path / "want.npz")!r}))
        got = model(feeds)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol={RTOL}, atol={ATOL})
        assert not any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules)
        print("served without tensorflow")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "served without tensorflow" in proc.stdout


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_tampered_executable_is_detected_before_loading(
    deepfm: tuple[ZooModel, Path], tmp_path: Path
) -> None:
    _, path = deepfm
    art = _copy(path, tmp_path / "art")
    exe = next((art / "buckets").glob("*.xla"))
    data = bytearray(exe.read_bytes())
    data[len(data) // 2] ^= 0xFF
    exe.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"{exe.name} is corrupt or was changed"):
        fourier.load(art)


def test_truncated_weights_are_detected(deepfm: tuple[ZooModel, Path], tmp_path: Path) -> None:
    _, path = deepfm
    art = _copy(path, tmp_path / "art")
    w = art / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="weights.safetensors is corrupt"):
        fourier.load(art)


def test_manifest_path_outside_artifact_is_refused(deepfm: tuple[ZooModel, Path], tmp_path: Path) -> None:
    _, path = deepfm
    art = _copy(path, tmp_path / "art")
    m = json.loads((art / "manifest.json").read_text())
    m["files"]["../../etc/passwd"] = "0" * 64
    (art / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="unsafe path"):
        fourier.load(art)


def test_other_jaxlib_version_recompiles_from_stablehlo(
    deepfm: tuple[ZooModel, Path], tmp_path: Path
) -> None:
    zm, path = deepfm
    art = _copy(path, tmp_path / "art")
    m = json.loads((art / "manifest.json").read_text())
    m["versions"]["jaxlib"] = "0.0.1"
    (art / "manifest.json").write_text(json.dumps(m))
    model = fourier.load(art)
    assert sorted(model.load_info.recompiled) == [(8,), (32,)]
    feeds = random_inputs(zm, 11, seed=4)
    want = TFGraph(zm.pb)(feeds)
    got = model(feeds)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL)


def test_not_an_artifact(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a Fourier artifact"):
        fourier.load(tmp_path)
