"""Every zoo model: compile with buckets 32,64,128, load, and match TensorFlow at odd batches.

Before: a frozen zoo graph and TensorFlow running it (oneDNN rewrites off).
Expected: Fourier's outputs equal TensorFlow's at batch 1, 7, 32, 33, 100, 128 and 300
(float32 rtol 1e-4, atol 1e-5), with no bucket recompiled at load.
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
    report = fourier.compile(zm.pb, artifacts / name, buckets=[32, 64, 128])
    assert report.buckets == [32, 64, 128]
    with xla_compiles() as compiles:
        model = fourier.load(artifacts / name)
    # Loading deserializes the executables: no XLA compile, and far less time than compiling.
    assert compiles == [] and model.load_info.recompiled == ()
    assert model.load_info.seconds < sum(report.bucket_seconds.values())
    oracle = TFGraph(zm.pb)
    for batch in BATCHES:
        feeds = random_inputs(zm, batch, seed=batch)
        got, want = model(feeds), oracle(feeds)
        assert set(got) == set(want)
        for key in want:
            assert got[key].shape == want[key].shape
            np.testing.assert_allclose(
                got[key], want[key], rtol=RTOL, atol=ATOL, err_msg=f"{name} batch {batch} output {key}"
            )


@pytest.mark.parametrize("name", ["mlp", "deepfm", "din", "transformer"])
def test_reference_interpreter_matches_tensorflow(name: str, zoo: dict[str, ZooModel]) -> None:
    zm = zoo[name]
    graph = fourier.import_graph(zm.pb)
    feeds = random_inputs(zm, 7, seed=1)
    got, want = run_reference(graph, feeds), TFGraph(zm.pb)(feeds)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL)
