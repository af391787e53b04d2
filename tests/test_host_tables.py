"""Embedding tables kept in host memory (``--host-tables SIZE``, ``compile(host_tables=...)``).

Before: the zoo's deepctr DeepFM (26 embedding tables of 10 000 x 16 float32, 0.61 MiB each, and
26 linear tables of 10 000 x 1, 39 KiB each), compiled with ``host_tables`` = 100 000 bytes;
a hand-made graph whose table is read through an Identity, with the limit above and below its
size; the CLI flag.
Expected: exactly the gathers from the 26 larger tables run on the host (each with its reason),
their rows cross as per-row values (no table crosses), the tables are stored in the artifact's
``host_weights.safetensors`` (not in the device weights), and the served model matches
TensorFlow at batches 1, 7, 33, 128 and 300 (float32 rtol 1e-4, atol 1e-5; measured 1.2e-7). A
table at or under the limit, and a gather of a computed (non-constant) table, stay on the device.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fourier
import fourier.ops  # the op registry the hand-made graph is built with
from fourier.host.partition import HOST, needs_host, partition
from fourier.ir.core import Graph
from fourier.testing.zoo import ensure_zoo, random_inputs

tf = pytest.importorskip("tensorflow")
RTOL, ATOL = 1e-4, 1e-5


def test_deepfm_large_tables_on_the_host_match_tensorflow(tmp_path: Path) -> None:
    from fourier.testing.oracle import TFGraph

    zoo = ensure_zoo(["deepfm"])["deepfm"]
    graph = fourier.import_model(zoo.pb).graph
    plan = partition(graph, host_tables=100_000)
    hosted = [n for n in plan.host_nodes if n.op == "GatherV2"]
    assert len(hosted) == 26
    assert all("0.61 MiB table" in plan.reasons[n.name] for n in hosted)
    assert all(c.type.dtype == "float32" and str(c.type.shape[0]) == "N" for c in plan.crossings)

    art = tmp_path / "art"
    fourier.compile(zoo.pb, art, [32, 128], host_tables=100_000)
    assert (art / "host_weights.safetensors").stat().st_size > 26 * 640_000
    model = fourier.load(art, cache_dir=None)
    oracle = TFGraph(zoo.pb)
    for batch in (1, 7, 33, 128, 300):
        feeds = random_inputs(zoo, batch, seed=batch)
        want, got = oracle(feeds), model(feeds)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=RTOL, atol=ATOL, err_msg=f"{batch}")


def _graph(computed: bool = False) -> Graph:
    g = Graph()
    ids = g.add_node("Placeholder", [], {"dtype": "int32", "shape": ("N",)}, name="ids")
    table = g.add_node("Const", [], {"value": np.ones((1000, 8), np.float32)}, name="table")
    read = g.add_node("Identity", [table.output], name="read")
    if computed:
        read = g.add_node("Mul", [read.output, read.output], name="squared")
    axis = g.add_node("Const", [], {"value": np.array(0, np.int32)}, name="axis")
    rows = g.add_node("GatherV2", [read.output, ids.output, axis.output], name="rows")
    g.set_outputs([("rows", rows.output)])
    return g


def test_the_limit_decides_and_only_constant_tables_move() -> None:
    assert needs_host(_graph(), host_tables=31_999)  # the table takes 32 000 bytes
    assert partition(_graph(), host_tables=31_999).placement["rows"] == HOST
    assert not needs_host(_graph(), host_tables=32_000)
    assert not needs_host(_graph())
    assert not needs_host(_graph(computed=True), host_tables=1)


def test_cli_flag(tmp_path: Path) -> None:
    zoo = ensure_zoo(["deepfm"])["deepfm"]
    proc = subprocess.run(
        [sys.executable, "-m", "fourier", "compile", str(zoo.pb), "--buckets", "8", "--host-tables", "500KiB",
         "-o", str(tmp_path / "art")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "gathers rows of a 0.61 MiB table" in " ".join(
        (proc.stdout + proc.stderr).split()
    )  # the printed plan
    model = fourier.load(tmp_path / "art", cache_dir=None)
    assert model(random_inputs(zoo, 3))  # served
