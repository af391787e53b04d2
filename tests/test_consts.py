"""Inputs that set shapes at run time, bound at compile time (``--const NAME=VALUE``).

Before: a TensorFlow graph whose reshape target takes its width from a scalar input ``k``.
Expected: compiling it unbound is refused, naming ``k`` and the flag; bound to 8 it compiles,
matches TensorFlow fed ``k = 8`` at batches 1, 7, 33 (rtol 1e-5), accepts a request that still
passes ``k = 8`` and refuses one that passes another value, naming the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.errors import CompileError, GraphImportError, InputError
from fourier.testing.oracle import TFGraph

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8], name="x")
        k = tf.compat.v1.placeholder(tf.int32, [], name="k")
        y = tf.reshape(x, tf.stack([-1, k]))
        tf.identity(tf.nn.relu(y) * 2.0, name="y")
    path = tmp_path_factory.mktemp("consts") / "reshape_k.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


def test_an_unbound_shape_input_is_named(pb: Path, tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"--const NAME=VALUE \(inputs without a batch dimension: k\)"):
        fourier.compile(pb, tmp_path / "a", [4])


def test_a_bound_input_compiles_and_matches_tensorflow(pb: Path, tmp_path: Path) -> None:
    fourier.compile(pb, tmp_path / "a", [4, 16], consts={"k": 8})
    model = fourier.load(tmp_path / "a")
    assert [s.name for s in model.signature.inputs] == ["x"]
    oracle = TFGraph(pb)
    rng = np.random.default_rng(0)
    for n in (1, 7, 33):
        x = rng.normal(size=(n, 8)).astype(np.float32)
        want = oracle({"x": x, "k": np.int32(8)})["y"]
        np.testing.assert_allclose(model({"x": x})["y"], want, rtol=1e-5)
        np.testing.assert_allclose(model({"x": x, "k": np.int32(8)})["y"], want, rtol=1e-5)
    with pytest.raises(InputError, match=r"input 'k' was bound to 8 when the model was compiled"):
        model({"x": x, "k": np.int32(4)})


@pytest.mark.parametrize(
    ("consts", "message"),
    [
        ({"kk": 8}, r"cannot bind 'kk': it is not an input of the graph \(inputs: k, x\)"),
        ({"k": [8, 8]}, r"cannot bind input 'k': it is declared int32\[\], the value has shape \[2\]"),
        ({"k": 8.5}, r"cannot bind input 'k' \(int32\) to 8.5"),
    ],
)
def test_a_bad_binding_is_refused(pb: Path, tmp_path: Path, consts: dict[str, object], message: str) -> None:
    with pytest.raises(GraphImportError, match=message):
        fourier.compile(pb, tmp_path / "a", [4], consts=consts)


def test_the_command_line_binds(pb: Path, tmp_path: Path) -> None:
    from tests.test_cli import assert_one_line_error, fourier_cli

    ok = fourier_cli(
        "compile", str(pb), "-o", str(tmp_path / "a.fourier"), "--buckets", "4", "--const", "k=8"
    )
    assert ok.returncode == 0, ok.stderr
    bad = fourier_cli("compile", str(pb), "-o", str(tmp_path / "b.fourier"), "--const", "k")
    assert_one_line_error(bad, ["--const", "NAME=VALUE"])
