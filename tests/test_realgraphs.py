"""Real Keras graphs with function calls and IdentityN compile and match TensorFlow.

Before: ``EfficientNetB0`` and ``ConvNeXtTiny`` (``weights=None``, 64x64, batch unknown), seeded
weights with calibrated BatchNorm statistics, frozen with ``convert_variables_to_constants_v2``
(fourier/testing/realgraphs.py): ConvNeXt keeps 18 ``PartitionedCall`` nodes into jit-compiled
grouped convolutions, EfficientNet 49 ``IdentityN`` (swish with a custom gradient).
Expected: ``fourier.compile`` with buckets 32, 64, 128 succeeds, and outputs equal TensorFlow's at
batches 1, 7, 33, 128 and 300: ConvNeXt at float32 rtol 1e-4, atol 1e-5; EfficientNet at rtol 1e-4 with an
absolute tolerance of 1e-4 times each row's largest logit, because after its 80-odd layers float32
rounding (XLA's and Eigen's convolution orders differ) is relative to the row's scale, not to each
logit: a logit near 0 in a row whose largest is 100 is off by ~5e-6 x 100.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.importer.protos import GraphDef
from fourier.testing.oracle import TFGraph
from fourier.testing.realgraphs import REAL_NAMES, RealGraph, ensure_realgraphs, random_inputs

RTOL, ATOL = 1e-4, 1e-5
ROW_ATOL = {"efficientnetb0": 1e-4}  # times the row's largest |logit| (see the docstring)


@pytest.fixture(scope="module")
def graphs() -> dict[str, RealGraph]:
    return ensure_realgraphs(REAL_NAMES)


def test_the_graphs_hold_what_they_are_here_for(graphs: dict[str, RealGraph]) -> None:
    ops = {}
    for name, g in graphs.items():
        gd = GraphDef()
        gd.ParseFromString(g.pb.read_bytes())
        ops[name] = [n.op for n in gd.node]
    assert ops["convnexttiny"].count("PartitionedCall") >= 1
    assert ops["efficientnetb0"].count("IdentityN") >= 1


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_graph_matches_tensorflow(name: str, graphs: dict[str, RealGraph], tmp_path: Path) -> None:
    g = graphs[name]
    fourier.compile(g.pb, tmp_path / name, buckets=[32, 64, 128])
    model, oracle = fourier.load(tmp_path / name), TFGraph(g.pb)
    for batch in (1, 7, 33, 128, 300):
        feeds = random_inputs(g, batch, seed=batch)
        got, want = model(feeds), oracle(feeds)
        assert set(got) == set(want)
        for key, w in want.items():
            a = np.asarray(got[key])
            assert a.shape == w.shape == (batch, 1000)
            assert np.abs(w).std(0).mean() > 1e-3 or batch == 1, "outputs do not depend on the input"
            atol = ROW_ATOL[name] * np.abs(w).max(1, keepdims=True) if name in ROW_ATOL else ATOL
            excess = np.abs(a - w) / (np.maximum(atol, ATOL) + RTOL * np.abs(w))
            assert excess.max() <= 1.0, f"batch {batch}: {excess.max():.2f} times the tolerance"
