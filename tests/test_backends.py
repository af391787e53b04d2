"""The ONNX Runtime executor behind the same artifact and runtime (``--backend``).

Before: zoo models compiled with ``backend="onnxruntime"`` and ``"auto"``.
Expected: the artifact holds the optimized graph as ``model.onnx`` (hashed like every file);
served with ONNX Runtime it matches TensorFlow at batches 1, 7, 33, 300 (rtol 1e-4, atol 1e-5)
with nothing padded or chunked; ``auto`` records per bucket the executor measured faster and the
timings (ONNX Runtime also in row slices run at once, where the host has the cores), and the
runtime follows it; ``Model.shard_ort`` serves the same rows in slices to the same numbers;
``load(backend=...)`` overrides; ``fourier export-onnx``
writes a standalone ONNX file that ONNX Runtime runs to the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier import api
from fourier.errors import ArtifactError, CompileError
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel, random_inputs
from tests.conftest import ATOL, RTOL

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["deepfm", "din", "ranker"])
def test_onnxruntime_backend_matches_tensorflow(name: str, zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    zm = zoo[name]
    fourier.compile(zm.pb, tmp_path / "a", [8, 32], dims=zm.dims or None, backend="onnxruntime")
    assert (tmp_path / "a" / "model.onnx").exists()
    model = fourier.load(tmp_path / "a")
    assert model.manifest.backend["kind"] == "onnxruntime" and model._ort is not None
    if name == "deepfm":  # its 26 ids and 13 dense features are each packed into one ONNX input
        assert len(model._ort.input_names) == 2 and sorted(map(len, model._ort.packed.values())) == [13, 26]
    oracle = TFGraph(zm.pb)
    seq = zm.dims["S"][0] if zm.dims.get("S") else 16
    for n in (1, 7, 33, 300):
        feeds = random_inputs(zm, n, seed=n, seq=seq)
        want, got = oracle(feeds), model(feeds)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=RTOL, atol=ATOL, err_msg=f"{name} {n} {k}")
    ran = model.metrics.snapshot()
    assert ran["requests_by_bucket"] == {"onnxruntime": 4} and ran["padding_waste"] == 0.0
    # the same rows as two row slices run at once (the padding analysis proved them independent)
    assert model.shard_ort(2) and model._ort_sharded.shards == 2
    for n in (1, 7, 33, 300):
        feeds = random_inputs(zm, n, seed=n, seq=seq)
        want, got = oracle(feeds), model(feeds)
        for k in want:
            np.testing.assert_allclose(
                got[k], want[k], rtol=RTOL, atol=ATOL, err_msg=f"{name} {n} {k} sharded"
            )
    model.close()
    xla = fourier.load(tmp_path / "a", backend="xla")
    feeds = random_inputs(zm, 7, seed=7, seq=seq)
    for k, v in xla(feeds).items():
        np.testing.assert_allclose(v, model(feeds)[k], rtol=RTOL, atol=ATOL)
    assert "onnxruntime" not in xla.metrics.snapshot()["requests_by_bucket"]


def test_auto_records_a_measured_choice_per_bucket(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    zm = zoo["deepfm"]
    fourier.compile(zm.pb, tmp_path / "a", [8, 64], backend="auto")
    model = fourier.load(tmp_path / "a")
    spec = model.manifest.backend
    assert spec["kind"] == "auto" and set(spec["choice"]) == {"8", "64"}
    for b, row in spec["timings_us"].items():
        assert {"xla", "onnxruntime"} <= set(row) <= {"xla", "onnxruntime", "onnxruntime_sharded"}
        best = min(row, key=row.__getitem__)
        assert spec["choice"][b] == ("onnxruntime" if best == "onnxruntime_sharded" else best)
        assert (b in spec["shards"]) == (best == "onnxruntime_sharded")
    oracle = TFGraph(zm.pb)
    for n in (5, 40):
        feeds = random_inputs(zm, n, seed=n)
        want = oracle(feeds)
        for k, v in model(feeds).items():
            np.testing.assert_allclose(v, want[k], rtol=RTOL, atol=ATOL)
    used = model.metrics.snapshot()["requests_by_bucket"]
    expect = {"onnxruntime" if spec["choice"][b] == "onnxruntime" else b for b in ("8", "64")}
    assert set(used) == expect, (used, spec)
    api.inspect(tmp_path / "a")  # every file, model.onnx included, verified


def test_a_bad_backend_is_refused(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="backend must be one of xla, onnxruntime, auto, got 'tensorrt'"):
        fourier.compile(zoo["mlp"].pb, tmp_path / "a", [8], backend="tensorrt")
    fourier.compile(zoo["mlp"].pb, tmp_path / "b", [8])
    with pytest.raises(ArtifactError, match="compiled without the ONNX backend"):
        fourier.load(tmp_path / "b", backend="onnxruntime")


def test_export_onnx_writes_a_standalone_model(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    import onnxruntime as ort

    from tests.test_cli import fourier_cli

    zm = zoo["wdl"]
    proc = fourier_cli("export-onnx", str(zm.pb), "-o", str(tmp_path / "wdl.onnx"))
    assert proc.returncode == 0, proc.stderr
    session = ort.InferenceSession(str(tmp_path / "wdl.onnx"), providers=["CPUExecutionProvider"])
    feeds = random_inputs(zm, 9, seed=9)
    names = [i.name for i in session.get_inputs()]
    (got,) = session.run(None, {k: feeds[k] for k in names})
    (want,) = TFGraph(zm.pb)(feeds).values()
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
