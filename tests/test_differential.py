"""Differential testing: random TensorFlow graphs (fourier/testing/randgraph.py) vs Fourier.

Before: a random valid inference graph built with TensorFlow from the supported op set (seeded),
compiled by Fourier at -O2 for buckets 4 and 16.
Expected: at batch sizes 1, 3, 16 and 21 (padded, exact, chunked) every output equals
TensorFlow's within rtol 1e-4 / atol 1e-5, and the independence analysis accepts every graph
(they are row-local by construction). 300 graphs run here; ``bench/differential.py`` runs more.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.testing.oracle import TFGraph
from fourier.testing.randgraph import random_feeds, random_graph
from tests.conftest import ATOL, RTOL

GRAPHS = 300
BATCHES = (1, 3, 16, 21)


def differential(seed: int, out: Path) -> None:
    g = random_graph(seed)
    pb = out / f"rand{seed}.pb"
    pb.write_bytes(g.graph_def)
    fourier.compile(pb, out / f"rand{seed}.fourier", [4, 16], outputs=g.outputs)
    model = fourier.load(out / f"rand{seed}.fourier", cache_dir=None)
    oracle = TFGraph(pb, g.outputs)
    for batch in BATCHES:
        feeds = random_feeds(g, batch, seed * 1000 + batch)
        want = oracle(feeds)
        got = model({s.name: feeds[s.name] for s in model.signature.inputs})
        for name in g.outputs:
            np.testing.assert_allclose(
                got[name],
                want[name],
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"seed {seed}, batch {batch}, output {name}; ops drawn: {' '.join(g.ops)}",
            )


@pytest.mark.parametrize("seed", range(GRAPHS))
def test_random_graph_matches_tensorflow(seed: int, tmp_path: Path) -> None:
    differential(seed, tmp_path)
