"""Every zoo model: compile with buckets 32,64,128, load, and match TensorFlow at odd batches.

Before: a frozen zoo graph and TensorFlow running it (oneDNN rewrites off).
Expected: Fourier's outputs, with the full -O2 pipeline verified after every pass, equal
TensorFlow's at batch 1, 7, 32, 33, 100, 128 and 300 (float32 rtol 1e-4, atol 1e-5), with no
bucket recompiled at load; bst, whose history length is unknown, at compiled lengths and one that
is not (answered by the reference path). The same holds with no passes (-O0), and after every single pass the
reference interpreter still gives the imported graph's outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.interpreter import run_reference
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZOO_NAMES, ZooModel, random_inputs
from tests.conftest import ATOL, BATCHES, RTOL, xla_compiles


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_zoo_model_matches_tensorflow(name: str, zoo: dict[str, ZooModel], artifacts: Path) -> None:
    zm = zoo[name]
    report = fourier.compile(zm.pb, artifacts / name, buckets=[32, 64, 128], verify_passes=True, dims=zm.dims)
    assert report.buckets == [32, 64, 128]
    assert report.num_ops < report.imported_ops, "the pipeline removed nothing"
    with xla_compiles() as compiles:
        model = fourier.load(artifacts / name)
    # Loading deserializes the executables: no XLA compile, and far less time than compiling.
    assert compiles == [] and model.load_info.recompiled == ()
    assert model.load_info.seconds < sum(report.bucket_seconds.values())
    oracle = TFGraph(zm.pb)
    for i, batch in enumerate(BATCHES):
        # bst's history length is unknown: compiled lengths, and 23 (the reference path) at batch 7.
        feeds = random_inputs(zm, batch, seed=batch, seq=(16, 23, 32, 64)[i % 4])
        got, want = model(feeds), oracle(feeds)
        assert set(got) == set(want)
        for key in want:
            assert got[key].shape == want[key].shape
            np.testing.assert_allclose(
                got[key], want[key], rtol=RTOL, atol=ATOL, err_msg=f"{name} batch {batch} output {key}"
            )


@pytest.mark.parametrize("name", ["mlp", "deepfm", "din", "transformer", "bst"])
def test_reference_interpreter_matches_tensorflow(name: str, zoo: dict[str, ZooModel]) -> None:
    zm = zoo[name]
    graph = fourier.import_graph(zm.pb)
    feeds = random_inputs(zm, 7, seed=1)
    got, want = run_reference(graph, feeds), TFGraph(zm.pb)(feeds)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["deepfm", "transformer"])
def test_unoptimized_build_matches_tensorflow(name: str, zoo: dict[str, ZooModel], artifacts: Path) -> None:
    zm = zoo[name]
    fourier.compile(zm.pb, artifacts / f"{name}-O0", buckets=[32], opt_level=0)
    model, oracle = fourier.load(artifacts / f"{name}-O0"), TFGraph(zm.pb)
    for batch in (1, 33):
        feeds = random_inputs(zm, batch, seed=batch)
        got, want = model(feeds), oracle(feeds)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_every_pass_keeps_the_outputs(name: str, zoo: dict[str, ZooModel]) -> None:
    """Differential per pass on a real model: after each pass that changed the graph, the reference
    interpreter gives the imported graph's outputs (rtol 1e-5, 1e-4 where a fusion reorders sums)."""
    from fourier.passes.manager import PassManager, pipeline_for_level

    zm = zoo[name]
    graph = fourier.import_graph(zm.pb)
    batch = 1 if name == "mobilenetv2" else 5
    feeds = random_inputs(zm, batch, seed=3)
    want = run_reference(graph, feeds)
    checked = []

    def after(record: object) -> None:
        if not record.changed:  # type: ignore[attr-defined]
            return
        got = run_reference(graph, feeds)
        for key in want:
            np.testing.assert_allclose(
                got[key],
                want[key],
                rtol=1e-4,
                atol=1e-5,
                err_msg=f"{name} after {record.name}",  # type: ignore[attr-defined]
            )
        checked.append(record.name)  # type: ignore[attr-defined]

    PassManager(pipeline_for_level(2), verify=True, on_pass=after).run(graph)
    assert checked, "no pass changed the graph"
