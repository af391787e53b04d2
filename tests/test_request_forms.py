"""A model keeps the signature its user exported, and a request in the wrong form gets a typed error.

Before: deepctr's DIN exports a ``seq_length`` input its outputs never read; Fourier dropped it and
then refused the model's full feed with `UnknownInputError`. A ``PlaceholderWithDefault`` was folded
to its default, so a caller's fed value was refused. ``model(array)``, ``model([x])``,
``model(None)`` and ``model(features=x)`` raised raw TypeError/AttributeError.
Expected: the unused input stays in the signature (``signature.unused``), is accepted and ignored;
a fed PlaceholderWithDefault is honoured and an omitted one takes its default; TensorFlow agrees at
odd batches (rtol 1e-4, atol 1e-5); wrong call shapes raise `InputTypeError` naming the inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.errors import InputTypeError, UnknownInputError
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel, random_inputs
from tests.conftest import ATOL, RTOL


@pytest.fixture(scope="module")
def din(zoo: dict[str, ZooModel], artifacts: Path) -> fourier.Model:
    fourier.compile(zoo["din"].pb, artifacts / "din-feed", buckets=[32, 64])
    return fourier.load(artifacts / "din-feed")


def test_din_keeps_its_unused_input_in_the_signature(din: fourier.Model) -> None:
    assert [s.name for s in din.signature.unused] == ["seq_length"]
    assert "seq_length" not in {s.name for s in din.signature.inputs}  # not copied to the device


@pytest.mark.parametrize("batch", [1, 7, 33, 100])
def test_din_served_with_its_full_feed_matches_tensorflow(
    din: fourier.Model, zoo: dict[str, ZooModel], batch: int
) -> None:
    feeds = random_inputs(zoo["din"], batch, seed=batch)
    assert "seq_length" in feeds
    got, want = din(feeds), TFGraph(zoo["din"].pb)(feeds)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL)
    without = {k: v for k, v in feeds.items() if k != "seq_length"}
    for key, value in din(without).items():
        np.testing.assert_array_equal(value, got[key])


def test_an_input_the_model_never_declared_is_still_refused(
    din: fourier.Model, zoo: dict[str, ZooModel]
) -> None:
    feeds = {**random_inputs(zoo["din"], 3), "user_age": np.zeros((3, 1), np.int32)}
    with pytest.raises(UnknownInputError, match="'user_age'.*seq_length"):
        din(feeds)


def _din_with_temperature(zm: ZooModel, out: Path) -> Path:
    """DIN's frozen graph with a fed-or-default temperature scaling its logit (TF1 style)."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(zm.pb.read_bytes())
    with tf.Graph().as_default() as g:
        temperature = tf.compat.v1.placeholder_with_default(tf.constant(2.0), shape=[], name="temperature")
        (prob,) = tf.compat.v1.import_graph_def(graph_def, return_elements=[f"{zm.outputs[0]}:0"], name="")
        tf.identity(prob * temperature, name="scaled")
    out.write_bytes(g.as_graph_def().SerializeToString())
    return out


def test_a_fed_placeholder_with_default_is_honoured(
    zoo: dict[str, ZooModel], artifacts: Path, tmp_path: Path
) -> None:
    pb = _din_with_temperature(zoo["din"], tmp_path / "din_t.pb")
    fourier.compile(pb, artifacts / "din-t", buckets=[32], outputs=["scaled"])
    model, oracle = fourier.load(artifacts / "din-t"), TFGraph(pb, ["scaled"])
    spec = next(s for s in model.signature.inputs if s.name == "temperature")
    assert spec.default == (2.0,) and spec.shape == ()
    for batch, temperature in ((7, None), (33, 0.5), (1, 3.0)):
        feeds = random_inputs(zoo["din"], batch, seed=batch)
        if temperature is not None:
            feeds["temperature"] = np.float32(temperature) * np.ones((), np.float32)
        got, want = model(feeds), oracle(feeds)
        np.testing.assert_allclose(got["scaled"], want["scaled"], rtol=RTOL, atol=ATOL)
    unfed = model(random_inputs(zoo["din"], 5, seed=5))["scaled"]
    fed = model({**random_inputs(zoo["din"], 5, seed=5), "temperature": np.array(4.0, np.float32)})["scaled"]
    np.testing.assert_allclose(fed, unfed * 2, rtol=1e-6)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (None, "got nothing"),
        ([np.zeros((2, 1), np.int32)], "got a list"),
        (np.zeros((2, 1), np.int32), "got a ndarray"),
        ("C1", "got a str"),
    ],
)
def test_wrong_call_shapes_get_a_typed_error(din: fourier.Model, request_: object, message: str) -> None:
    with pytest.raises(
        InputTypeError, match=f"expected a dict of numpy arrays by input name .*C1.*{message}"
    ):
        din(request_)  # type: ignore[arg-type]


def test_keyword_arguments_are_inputs_by_name(din: fourier.Model, zoo: dict[str, ZooModel]) -> None:
    feeds = random_inputs(zoo["din"], 3)
    np.testing.assert_array_equal(
        din(**feeds)[din.signature.outputs[0].name], din(feeds)[din.signature.outputs[0].name]
    )
    with pytest.raises(UnknownInputError, match="'features'"):
        din(features=np.zeros((3, 1), np.float32))
    with pytest.raises(InputTypeError, match="not both"):
        din(feeds, C1=feeds["C1"])


def test_a_single_input_model_takes_a_bare_array(zoo: dict[str, ZooModel], artifacts: Path) -> None:
    fourier.compile(zoo["mlp"].pb, artifacts / "mlp-bare", buckets=[8])
    model = fourier.load(artifacts / "mlp-bare")
    (spec,) = model.signature.inputs
    feeds = random_inputs(zoo["mlp"], 5)
    np.testing.assert_array_equal(
        model(feeds[spec.name])[model.signature.outputs[0].name],
        model(feeds)[model.signature.outputs[0].name],
    )
