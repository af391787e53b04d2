"""The importer and the IR: formats, shapes, typed errors, static graphs, printer, verifier.

Graphs are built with TensorFlow (tf.function, frozen) so every case is one TF really emits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

import fourier
from fourier.errors import CompileError, GraphImportError, UnsupportedOpsError, VerificationError
from fourier.importer.protos import GraphDef
from fourier.ir.core import Graph
from fourier.ir.verifier import verify
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel


def freeze(fn: Callable[..., Any], *specs: tf.TensorSpec) -> bytes:
    concrete = tf.function(fn).get_concrete_function(*specs)
    return convert_variables_to_constants_v2(concrete).graph.as_graph_def().SerializeToString()


def write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def test_corrupt_pb_names_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, "broken.pb", b"\x0a\xff\xff\xff\xff garbage")
    with pytest.raises(GraphImportError, match="broken.pb: not a valid GraphDef"):
        fourier.import_graph(p)


def test_unsupported_ops_are_listed_all_at_once(tmp_path: Path) -> None:
    data = freeze(
        lambda x: tf.math.lgamma(x) + tf.math.digamma(x) + tf.math.lgamma(x * 2.0),
        tf.TensorSpec([None, 3], tf.float32, name="x"),
    )
    p = write(tmp_path, "special.pb", data)
    with pytest.raises(UnsupportedOpsError) as info:
        fourier.import_graph(p)
    assert set(info.value.uses) == {"Lgamma", "Digamma"}
    assert len(info.value.uses["Lgamma"]) == 2
    assert "special.pb" in str(info.value) and "Lgamma" in str(info.value) and "Digamma" in str(info.value)


def test_pbtxt_imports_like_pb(tmp_path: Path, zoo: dict[str, ZooModel]) -> None:
    gd = GraphDef()
    gd.ParseFromString(zoo["mlp"].pb.read_bytes())
    p = tmp_path / "mlp.pbtxt"
    p.write_text(text_format.MessageToString(gd))
    assert str(fourier.import_graph(p)).replace("@mlp", "@x") == str(
        fourier.import_graph(zoo["mlp"].pb)
    ).replace("@mlp", "@x")


def test_batch_dimension_is_symbolic_through_keras_shape_arithmetic(zoo: dict[str, ZooModel]) -> None:
    graph = fourier.import_graph(zoo["deepfm"].pb)
    unknown = [n.name for n in graph.nodes for v in n.outputs if v.type.shape is None or "?" in v.type.shape]
    assert unknown == []
    assert [str(v.type) for _, v in graph.outputs] == ["float32[N,1]"]


def test_static_shape_graph_compiles_once_and_says_buckets_do_not_apply(tmp_path: Path) -> None:
    fn = lambda x: tf.nn.relu(tf.matmul(x, tf.ones([3, 2])))
    p = write(tmp_path, "static.pb", freeze(fn, tf.TensorSpec([4, 3], tf.float32, name="x")))
    report = fourier.compile(p, tmp_path / "art", buckets=[32, 64])
    assert report.buckets is None
    assert any("not applicable" in n for n in report.notes)
    model = fourier.load(tmp_path / "art")
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(model({"x": x})["Identity"], TFGraph(p)({"x": x})["Identity"], rtol=1e-5)


def test_scalar_inputs_only(tmp_path: Path) -> None:
    fn = lambda a, b: tf.sqrt(a * a + b * b)
    p = write(
        tmp_path,
        "scalars.pb",
        freeze(fn, tf.TensorSpec([], tf.float32, name="a"), tf.TensorSpec([], tf.float32, name="b")),
    )
    fourier.compile(p, tmp_path / "art")
    out = fourier.load(tmp_path / "art")({"a": np.float32(3.0), "b": np.float32(4.0)})
    assert out["Identity"] == pytest.approx(5.0)


def test_graph_without_inputs(tmp_path: Path) -> None:
    p = write(tmp_path, "noinputs.pb", freeze(lambda: tf.cumsum(tf.range(6) * 2)))
    fourier.compile(p, tmp_path / "art")
    out = fourier.load(tmp_path / "art")({})
    np.testing.assert_array_equal(out["Identity"], np.cumsum(np.arange(6) * 2))


def test_saved_model_directory(tmp_path: Path) -> None:
    class Scorer(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.float32, name="features")])
        def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"score": tf.sigmoid(tf.matmul(x, self.w)), "logit": tf.matmul(x, self.w)}

    module = Scorer()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.__call__)
    fourier.compile(tmp_path / "sm", tmp_path / "art", buckets=[4])
    model = fourier.load(tmp_path / "art")
    assert [s.name for s in model.signature.outputs] == ["logit", "score"]
    x = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    got = model({"features": x})
    np.testing.assert_allclose(got["score"], module(tf.constant(x))["score"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(got["logit"], module(tf.constant(x))["logit"].numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_output_name(zoo: dict[str, ZooModel]) -> None:
    with pytest.raises(GraphImportError, match="output 'nope' is not a node"):
        fourier.import_graph(zoo["mlp"].pb, outputs=["nope"])


def test_output_that_folds_the_batch_is_refused(tmp_path: Path) -> None:
    fn = lambda x: tf.reduce_sum(x, axis=0)
    p = write(tmp_path, "sum.pb", freeze(fn, tf.TensorSpec([None, 3], tf.float32, name="x")))
    with pytest.raises(
        CompileError, match=r"would change its results(.|\n)*Sum \(Sum\): reduces over the N axis"
    ):
        fourier.compile(p, tmp_path / "art", require_padding_proof=True)


def test_printer_is_deterministic_and_names_origins(zoo: dict[str, ZooModel]) -> None:
    a, b = str(fourier.import_graph(zoo["din"].pb)), str(fourier.import_graph(zoo["din"].pb))
    assert a == b
    assert "GatherV2(" in a and "float32[N,50,16]" in a


def test_ir_text_of_a_small_graph() -> None:
    # Before: x -> MatMul(W) -> BiasAdd(b) -> Relu, built through the IR API.
    g = Graph("tiny")
    x = g.add_node("Placeholder", [], {"dtype": "float32", "shape": ("N", 2)}, name="x")
    w = g.add_node("Const", [], {"value": np.ones((2, 3), np.float32)}, name="w")
    b = g.add_node("Const", [], {"value": np.zeros(3, np.float32)}, name="b")
    mm = g.add_node("MatMul", [x.output, w.output], name="mm")
    ba = g.add_node("BiasAdd", [mm.output, b.output], name="ba")
    r = g.add_node("Relu", [ba.output], name="r")
    g.set_outputs([("y", r.output)])
    verify(g)
    expected = """\
graph @tiny(%x: float32[N,2]) -> (float32[N,3]) {
  %w = Const() {value = dense<float32[2x3] [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]>} : float32[2,3]
  %b = Const() {value = dense<float32[3] [0.0, 0.0, 0.0]>} : float32[3]
  %mm = MatMul(%x, %w) {transpose_a = false, transpose_b = false} : float32[N,3]
  %ba = BiasAdd(%mm, %b) {data_format = "NHWC"} : float32[N,3]
  %r = Relu(%ba) : float32[N,3]
  return "y" = %r
}
"""
    assert str(g) == expected


def _tiny() -> Graph:
    g = Graph("t")
    x = g.add_node("Placeholder", [], {"dtype": "float32", "shape": ("N", 2)}, name="x")
    r = g.add_node("Relu", [x.output], name="r")
    g.set_outputs([("y", r.output)])
    return g


def test_verifier_rejects_use_before_definition() -> None:
    g = _tiny()
    g.nodes.reverse()
    with pytest.raises(VerificationError, match="'r'.*not produced by an earlier node"):
        verify(g)


def test_verifier_rejects_a_stale_type() -> None:
    g = _tiny()
    from fourier.ir.types import TensorType

    g.node("r").outputs[0].type = TensorType("float32", ("N", 3))
    with pytest.raises(VerificationError, match="inference says float32\\[N,2\\]"):
        verify(g)


def test_verifier_rejects_unknown_attribute_and_duplicate_names() -> None:
    g = _tiny()
    g.node("r").attrs["bogus"] = 1
    with pytest.raises(VerificationError, match="unknown attributes"):
        verify(g)
    g = _tiny()
    g.node("r").name = "x"
    with pytest.raises(VerificationError, match="name used twice"):
        verify(g)


def test_training_mode_batch_norm_is_refused(tmp_path: Path) -> None:
    def fn(x: tf.Tensor) -> tf.Tensor:
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, tf.ones([3]), tf.zeros([3]), is_training=True)
        return y

    p = write(tmp_path, "bn.pb", freeze(fn, tf.TensorSpec([None, 4, 4, 3], tf.float32, name="x")))
    with pytest.raises(GraphImportError, match="is_training=true"):
        fourier.import_graph(p)
