"""Host/device partitioning (`fourier.host`): hashes, tables, the partitioner, the host executor.

Before: a graph or a SavedModel with strings, hash tables and host-only ops.
Expected: the host ops equal TensorFlow's exactly (hashes on 10^5 strings here, 10^6 in
``bench/host_hash.py``); tables come out of a SavedModel whole and a frozen graph without them is
refused naming the table; the partition puts what must run on the host there with the fewest
crossing values; and the host part on numpy plus the device part compiled by `fourier.compile`
match TensorFlow on the SavedModel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

import fourier
from fourier.backends.jax_lowering import lower_graph
from fourier.errors import CompileError, FourierError, InputDtypeError
from fourier.host import hashing
from fourier.host.executor import HostExecutor, HostPart, PartitionedModel
from fourier.host.extract import HostModel, TableRecoveryError, load_model
from fourier.host.partition import DEVICE, HOST, partition
from fourier.host.saved import load_host, save_host
from fourier.host.tables import HostTable, load_tables, save_tables
from fourier.interpreter import run_reference
from fourier.ir.core import Graph
from fourier.ir.verifier import verify
from fourier.testing.preprocessing import (
    CATEGORY_VOCAB,
    USER_VOCAB,
    PreprocessingModel,
    ensure_preprocessing,
    random_requests,
    random_strings,
)
from tests.test_feature_columns import COVERED as SPARSE  # value-sized ops: vs TensorFlow there

tf = pytest.importorskip("tensorflow")

# Ops with no reference-vs-lowering case in tests/test_ops.py: the host-only ones have no lowering
# (their reference is compared with TensorFlow here); Bucketize's two forms are compared here.
COVERED = {
    "HashTableV2",
    "LookupTableFindV2",
    "StringToHashBucketFast",
    "StringToHashBucketStrong",
    "StringToHashBucket",
    "AsString",
    "Bucketize",
    "LookupTableSizeV2",
} | SPARSE
RTOL, ATOL = 1e-4, 1e-5
BIG = 2**63 - 1  # buckets: the hash modulo 2^63 - 1 keeps almost all of its bits


def _obj(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# -- hashes --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strings() -> tuple[np.ndarray, Any]:
    s = random_strings(100_000, seed=1)
    return s, tf.constant(s.tolist(), dtype=tf.string)


def test_string_hashes_equal_tensorflow_on_1e5_strings(strings: tuple[np.ndarray, Any]) -> None:
    """Before: 10^5 strings (every length 0..64, up to 5 KB, random bytes, multibyte UTF-8).
    Expected: each hash op gives TensorFlow's bucket for every string."""
    s, t = strings
    lengths = {len(x) for x in s.tolist()}
    assert set(range(65)) <= lengths and max(lengths) > 1024
    np.testing.assert_array_equal(
        hashing.hash_bucket_fast(s, BIG), tf.strings.to_hash_bucket_fast(t, BIG).numpy()
    )
    for key in ([7, 1234567], [-0x2152411035014542, 1]):
        np.testing.assert_array_equal(
            hashing.hash_bucket_strong(s, BIG, key), tf.strings.to_hash_bucket_strong(t, BIG, key).numpy()
        )
    np.testing.assert_array_equal(
        hashing.hash_bucket_legacy(s, BIG), tf.compat.v1.string_to_hash_bucket(t, BIG).numpy()
    )


def test_fingerprint_of_known_strings() -> None:
    """Before: TensorFlow's documented example and FarmHash's value for the empty string.
    Expected: the same buckets, with no TensorFlow involved."""
    assert hashing.hash_bucket_fast(_obj(["Hello", "TensorFlow", "2.x"]), 3).tolist() == [0, 2, 2]
    assert int(hashing.fingerprint64(_obj([b""]))[0]) == 0x9AE16A3B2F90404F  # k2


def test_strings_hash_as_utf8_bytes_whatever_their_array_form() -> None:
    """Before: the same words as str objects, bytes objects, a U array, an S array, a 2-D array.
    Expected: one set of hashes (str is its UTF-8 bytes); a non-string is refused naming it."""
    words = ["", "a", "zoë", "東京", "🙂" * 20]
    want = hashing.fingerprint64(_obj([w.encode() for w in words]))
    for form in (_obj(words), np.array(words), np.array([w.encode() for w in words])):
        np.testing.assert_array_equal(hashing.fingerprint64(form), want)
    assert hashing.fingerprint64(_obj(words).reshape(5, 1)).shape == (5, 1)
    with pytest.raises(TypeError, match="element 1 is a int"):
        hashing.fingerprint64(_obj(["a", 3]))


def test_as_string_equals_tensorflow() -> None:
    """Before: integers, floats and bools through AsString with its formatting attributes.
    Expected: TensorFlow's strings."""
    from fourier.ops.registry import get_op

    ref = get_op("AsString").reference
    ints = np.array([0, -7, 123456789012, 2**62], dtype=np.int64)
    floats = np.array([0.0, -1.5, 3.14159265, 1e20, 2.5e-7], dtype=np.float32)
    cases: list[tuple[np.ndarray, dict[str, Any]]] = [
        (ints, {}),
        (ints.astype(np.int32) % 1000, {"width": 6, "fill": "0"}),
        (floats, {}),
        (floats, {"precision": 3, "scientific": True}),
        (floats, {"shortest": True}),
        (np.array([True, False]), {}),
    ]
    defaults = {"precision": -1, "scientific": False, "shortest": False, "width": -1, "fill": ""}
    for x, attrs in cases:
        got = ref({**defaults, **attrs}, x)
        want = tf.strings.as_string(x, **attrs).numpy()
        assert got.tolist() == want.tolist(), (x.dtype, attrs)


def test_bucketize_reference_lowering_and_tensorflow_agree() -> None:
    """Before: values on, between and beyond the boundaries, in float32, float64, int32, int64.
    Expected: numpy reference == JAX lowering == TensorFlow's Bucketize."""
    from fourier.ops.registry import get_op

    op = get_op("Bucketize")
    bounds = [-1.0, 0.0, 0.5, 2.0, 100.0]
    for dtype in (np.float32, np.float64, np.int32, np.int64):
        x = np.array([[-5, -1, -0.5, 0], [0.5, 1, 2, 1000]], dtype=np.float64).astype(dtype)
        want = tf.raw_ops.Bucketize(input=x, boundaries=bounds).numpy()
        ref = op.reference({"boundaries": bounds}, x)
        with jax.enable_x64(True):
            low = np.asarray(jax.jit(lambda a: op.lower({"boundaries": bounds}, a))(x))
        np.testing.assert_array_equal(ref, want)
        np.testing.assert_array_equal(low, want)
        assert ref.dtype == low.dtype == np.int32


def test_host_only_ops_refuse_to_lower_naming_the_node() -> None:
    """Before: a graph with a StringToHashBucketFast lowered for XLA as it is.
    Expected: a CompileError naming the node and saying to partition the graph."""
    g = Graph()
    s = g.add_node("Placeholder", [], {"dtype": "string", "shape": ("N",)}, name="s")
    h = g.add_node("StringToHashBucketFast", [s.output], {"num_buckets": 5}, name="bucket")
    g.set_outputs([("y", h.output)])
    lowered = lower_graph(g)
    with pytest.raises(CompileError, match="'bucket'.*partition"):
        jax.jit(lambda a: lowered.fn([], [a]))(np.zeros(2, np.int32))


# -- tables --------------------------------------------------------------------------------------


def test_table_lookup_hits_misses_and_key_forms() -> None:
    """Before: a string table (non-ASCII and empty keys) and an int64 table.
    Expected: each key's value, the default for a miss, str and bytes alike."""
    words = HostTable("w", "string", "int64", _obj([b"a", "é".encode(), b""]), np.array([1, 2, 3]))
    got = words.lookup(np.array([["é", "a"], ["", "zz"]], dtype=object), np.int64(-1))
    assert got.tolist() == [[2, 1], [3, -1]] and got.dtype == np.int64
    ids = HostTable("i", "int64", "float32", np.array([10, -4, 7]), np.array([0.5, 1.5, 2.5], np.float32))
    assert ids.lookup(np.array([7, 8, -4, 10]), np.float32(9)).tolist() == [2.5, 9.0, 1.5, 0.5]
    empty = HostTable("e", "int64", "int64", np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert empty.lookup(np.array([1, 2]), np.int64(0)).tolist() == [0, 0]
    with pytest.raises(ValueError, match="table 'd': keys are not unique"):
        HostTable("d", "int64", "int64", np.array([1, 1]), np.array([1, 2]))


def test_tables_round_trip_through_their_file(tmp_path: Path) -> None:
    """Before: tables with string keys, string values and numbers, saved to one safetensors file.
    Expected: the same tables back; a file of another kind is refused, saying what it is."""
    tables = {
        "vocab": HostTable(
            "vocab", "string", "int64", _obj([b"", "東京".encode(), b"x" * 3000]), np.arange(3)
        ),
        "inverse": HostTable("inverse", "int64", "string", np.array([1, 2]), _obj([b"one", b""])),
        "none": HostTable("none", "int32", "float64", np.zeros(0, np.int32), np.zeros(0)),
    }
    save_tables(tables, tmp_path / "tables.safetensors")
    back = load_tables(tmp_path / "tables.safetensors")
    assert sorted(back) == sorted(tables)
    for name, t in tables.items():
        b = back[name]
        assert (b.key_dtype, b.value_dtype) == (t.key_dtype, t.value_dtype)
        assert b.keys.tolist() == t.keys.tolist() and b.values.tolist() == t.values.tolist()
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a tables file"):
        load_tables(tmp_path / "other.safetensors")


# -- a model with its tables ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ranking() -> PreprocessingModel:
    return ensure_preprocessing("ranking")


@pytest.fixture(scope="module")
def imported(ranking: PreprocessingModel) -> HostModel:
    return load_model(ranking.path)


def test_saved_model_tables_are_extracted_whole(imported: HostModel) -> None:
    """Before: the SavedModel with a StringLookup and an IntegerLookup.
    Expected: two tables, named after their layers, holding each vocabulary (index 0 is OOV);
    the graph names them in HashTableV2 nodes and holds no resource input."""
    tables = imported.tables
    user = next(t for n, t in tables.items() if "user_lookup" in n)
    category = next(t for n, t in tables.items() if "category_lookup" in n)
    assert dict(zip(user.keys.tolist(), user.values.tolist())) == {
        w.encode(): i + 1 for i, w in enumerate(USER_VOCAB)
    }
    assert dict(zip(category.keys.tolist(), category.values.tolist())) == {
        c: i + 1 for i, c in enumerate(CATEGORY_VOCAB)
    }
    names = {n.attrs["shared_name"] for n in imported.graph.nodes if n.op == "HashTableV2"}
    assert names == set(tables)
    assert all(n.output.type.dtype != "resource" for n in imported.graph.inputs)


def test_frozen_pb_without_table_contents_is_refused_naming_the_table(
    ranking: PreprocessingModel, tmp_path: Path
) -> None:
    """Before: the SavedModel's signature frozen to a .pb (its tables become resource inputs).
    Expected: TableRecoveryError naming the lookup that reads the table."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    loaded = tf.saved_model.load(str(ranking.path))  # keeps the signature's variables alive
    fn = loaded.signatures["serving_default"]
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(convert_variables_to_constants_v2(fn).graph.as_graph_def().SerializeToString())
    with pytest.raises(TableRecoveryError, match="table .*(user|category)_lookup.*SavedModel"):
        load_model(pb)


def test_plain_import_of_a_model_with_tables_points_to_fourier_host(ranking: PreprocessingModel) -> None:
    """Before: the SavedModel imported by the plain importer (which keeps no tables).
    Expected: GraphImportError naming the table's resource input and where tables import."""
    from fourier.errors import GraphImportError
    from fourier.importer.graphdef import load_graph

    with pytest.raises(GraphImportError, match="'unknown.*DT_RESOURCE.*fourier.host.extract.load_model"):
        load_graph(ranking.path)


def test_frozen_pb_with_constant_table_initializer_is_recovered(tmp_path: Path) -> None:
    """Before: a TF1-style graph: a HashTableV2 initialized from constants, a lookup, +1.
    Expected: the table is recovered from the .pb (no TensorFlow needed) and the host part
    gives TensorFlow's result, misses included."""
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.string, [None], name="x")
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant([b"a", "é".encode(), b""]), tf.constant([10, 20, 30], tf.int64)
        )
        table = tf.lookup.StaticHashTable(init, default_value=-1, name="vocab")
        tf.identity(table.lookup(x) + 1, name="y")
        feed = _obj([b"a", b"", "é".encode(), b"nope"])
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.tables_initializer())
            want = sess.run("y:0", {"x:0": feed})
    pb = tmp_path / "table.pb"
    pb.write_bytes(g.as_graph_def().SerializeToString())
    model = load_model(pb, outputs=["y"])
    assert len(model.tables) == 1
    plan = partition(model.graph)
    got = PartitionedModel.from_plan(plan, model.tables, lambda f: run_reference(plan.device, f))({"x": feed})
    np.testing.assert_array_equal(got["y"], want)


# -- the partitioner -----------------------------------------------------------------------------


def _two_hashes_into_a_dense_layer() -> Graph:
    g = Graph("ranker")
    s = g.add_node("Placeholder", [], {"dtype": "string", "shape": ("N", 1)}, name="s")
    t = g.add_node("Placeholder", [], {"dtype": "string", "shape": ("N", 1)}, name="t")
    x = g.add_node("Placeholder", [], {"dtype": "float32", "shape": ("N", 4)}, name="x")
    h1 = g.add_node("StringToHashBucketFast", [s.output], {"num_buckets": 10}, name="h1")
    h2 = g.add_node("StringToHashBucketStrong", [t.output], {"num_buckets": 10, "key": [1, 2]}, name="h2")
    c1 = g.add_node("Cast", [h1.output], {"DstT": "float32"}, name="c1")
    c2 = g.add_node("Cast", [h2.output], {"DstT": "float32"}, name="c2")
    axis = g.add_node("Const", [], {"value": np.array(1, np.int32)}, name="axis")
    cat = g.add_node("ConcatV2", [c1.output, c2.output, x.output, axis.output], name="cat")
    w = g.add_node("Const", [], {"value": np.arange(18, dtype=np.float32).reshape(6, 3)}, name="w")
    y = g.add_node("MatMul", [cat.output, w.output], name="y")
    g.set_outputs([("y", y.output)])
    return g


def test_partition_keeps_cheap_ops_on_the_host_when_fewer_values_cross() -> None:
    """Before: two string hashes, each cast, concatenated with a float input, into a MatMul.
    Expected: hashes, casts and the concatenation on the host (one value crosses, not two); the
    MatMul (it holds weights) on the device; both parts verify and the plan prints readably."""
    g = _two_hashes_into_a_dense_layer()
    plan = partition(g)
    assert {n.name for n in plan.host_nodes} == {"h1", "h2", "c1", "c2", "cat"}
    assert [n.name for n in plan.device_nodes] == ["y"]
    assert [(c.name, str(c.type)) for c in plan.crossings] == [("cat", "float32[N,6]")]
    assert plan.placement["h1"] == HOST and plan.placement["y"] == DEVICE
    assert plan.reasons["h1"] == "host op" and "fewer values cross" in plan.reasons["cat"]
    assert plan.device is not None
    assert [n.name for n in plan.device.inputs] == ["cat"]
    assert sorted(n.name for n in plan.host.inputs) == ["s", "t", "x"]
    text = str(plan)
    assert (
        text.splitlines()[0] == "partition of @ranker: 5 nodes on the host, 1 on the device, 1 values cross"
    )
    assert "%cat : float32[N,6] -> input 'cat' (read by y)" in text
    assert "device: MatMul" in text
    feeds = {
        "s": np.array([[b"a"], [b"b"]], dtype=object),
        "t": np.array([["c"], ["d"]]),
        "x": np.ones((2, 4), np.float32),
    }
    want = HostExecutor(g, {})(feeds)["y"]  # the whole graph on numpy
    got = PartitionedModel.from_plan(plan, {}, lambda f: run_reference(plan.device, f))(feeds)["y"]  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, want)


def test_what_feeds_a_host_op_runs_on_the_host() -> None:
    """Before: a MatMul whose result is formatted as a string (AsString) and hashed.
    Expected: the MatMul on the host too (the device never feeds the host), reason given;
    nothing left for the device."""
    g = Graph()
    x = g.add_node("Placeholder", [], {"dtype": "int64", "shape": ("N", 2)}, name="x")
    w = g.add_node("Const", [], {"value": np.arange(40, dtype=np.int64).reshape(2, 20)}, name="w")
    m = g.add_node("MatMul", [x.output, w.output], name="m")
    s = g.add_node("AsString", [m.output], name="s")
    h = g.add_node("StringToHashBucketFast", [s.output], {"num_buckets": 7}, name="h")
    g.set_outputs([("h", h.output)])
    plan = partition(g)
    assert plan.placement == {"m": HOST, "s": HOST, "h": HOST}
    assert plan.reasons["m"] == "feeds s" and plan.reasons["s"] == "host op"
    assert plan.device is None and plan.crossings == [] and plan.host_outputs == ["h"]


def test_graph_without_host_ops_stays_whole_on_the_device() -> None:
    """Before: a graph of numeric ops only. Expected: all on the device, nothing crosses."""
    g = Graph()
    x = g.add_node("Placeholder", [], {"dtype": "float32", "shape": ("N", 2)}, name="x")
    b = g.add_node("Bucketize", [x.output], {"boundaries": [0.0, 1.0]}, name="b")
    g.set_outputs([("b", b.output)])
    plan = partition(g)
    assert plan.placement == {"b": DEVICE} and plan.crossings == [] and not plan.host.nodes
    assert plan.device is not None and str(plan.device) == str(g)


def test_executor_refuses_a_missing_table_and_a_wrong_input_naming_them(imported: HostModel) -> None:
    """Before: the ranking model's host part without one of its tables; then a request with
    numbers where strings go. Expected: errors naming the table and the input."""
    plan = partition(imported.graph)
    name = next(iter(imported.tables))
    partial = {k: v for k, v in imported.tables.items() if k != name}
    with pytest.raises(FourierError, match=f"reads table '{name}', which is not given"):
        HostExecutor(plan.host, partial)
    request = random_requests(2)
    request["category"] = request["category"].astype(np.int32)
    with pytest.raises(InputDtypeError, match="input 'category': expected int64, got int32"):
        HostExecutor(plan.host, imported.tables)(request)


# -- end to end ----------------------------------------------------------------------------------


def _tf_request(request: dict[str, np.ndarray]) -> dict[str, Any]:
    out = {}
    for k, v in request.items():
        if v.dtype == object:
            v = np.vectorize(lambda s: s if isinstance(s, bytes) else s.encode("utf-8"), otypes=[object])(v)
        out[k] = tf.constant(v)
    return out


def test_ranking_model_host_part_and_compiled_device_part_match_tensorflow(
    ranking: PreprocessingModel, imported: HostModel, tmp_path: Path
) -> None:
    """Before: a SavedModel with StringLookup, Hashing (plain and salted), IntegerLookup and
    Discretization feeding embeddings and a DNN; partitioned; the device part compiled.
    Expected: the lookups and hashes (and only they) on the host, ids crossing; host part on
    numpy + compiled device part == TensorFlow at batches 1, 7, 33 with out-of-vocabulary,
    empty and non-ASCII strings."""
    plan = partition(imported.graph)
    host_ops = {n.op for n in plan.host_nodes} - {"Identity"}
    assert host_ops == {
        "HashTableV2",
        "LookupTableFindV2",
        "StringToHashBucketFast",
        "StringToHashBucketStrong",
    }
    assert len(plan.crossings) == 4 and all(str(c.type) == "int64[N,1]" for c in plan.crossings)
    assert plan.device is not None
    assert {n.name for n in plan.device.inputs} == {"age", "price"} | {c.name for c in plan.crossings}
    assert any(n.op == "Bucketize" for n in plan.device.nodes)  # numeric: compiled for the device
    verify(plan.device)

    fourier.compile(plan.device, tmp_path / "device", [1, 8, 64])
    served = PartitionedModel.from_plan(plan, imported.tables, fourier.load(tmp_path / "device"))
    loaded = tf.saved_model.load(str(ranking.path))  # keeps the signature's variables alive
    signature = loaded.signatures["serving_default"]
    seen: set[str] = set()
    for batch in (1, 7, 33):
        request = random_requests(batch, seed=batch)
        got = served(request)
        want = signature(**_tf_request(request))["score"].numpy()
        np.testing.assert_allclose(got["score"], want, rtol=RTOL, atol=ATOL)
        for s in request["user"].ravel().tolist():
            text = s.decode() if isinstance(s, bytes) else s
            seen.add("empty" if not text else "vocab" if text in USER_VOCAB else "oov")
            seen.update(["non-ascii"] if not text.isascii() else [])
        seen.update(
            ["oov category"] if set(request["category"].ravel().tolist()) - set(CATEGORY_VOCAB) else []
        )
    assert seen == {"empty", "vocab", "oov", "non-ascii", "oov category"}


def test_lookup_layer_variants_run_on_the_host_exactly() -> None:
    """Before: StringLookup / IntegerLookup with several OOV buckets and mask tokens, Hashing with
    a mask and on integers, an inverted StringLookup (strings out), as one SavedModel.
    Expected: everything on the host (nothing worth a device), every output equal to
    TensorFlow's at batches 1, 7 and 33."""
    variants = ensure_preprocessing("variants")
    model = load_model(variants.path)
    plan = partition(model.graph)
    assert plan.device is None and sorted(plan.host_outputs) == sorted(variants.outputs)
    ops = {n.op for n in plan.host_nodes}
    assert {"AsString", "Equal", "SelectV2", "StringToHashBucketFast", "LookupTableFindV2"} <= ops
    served = PartitionedModel.from_plan(plan, model.tables, None)
    loaded = tf.saved_model.load(str(variants.path))  # keeps the signature's variables alive
    signature = loaded.signatures["serving_default"]
    for batch in (1, 7, 33):
        request = random_requests(batch, seed=batch, model="variants")
        got = served(request)
        want = signature(**_tf_request(request))
        for name in variants.outputs:
            assert got[name].tolist() == want[name].numpy().tolist(), name


# Serving in a process where TensorFlow cannot be imported: the host part from its files, the
# device part from its artifact; the modules the serving side must not load are listed.
_SERVE = """
import sys
sys.modules["tensorflow"] = None  # importing it fails
import numpy as np
import fourier
from fourier.host.executor import PartitionedModel
from fourier.host.saved import load_host
from fourier.testing.preprocessing import random_requests
art = sys.argv[1]
served = PartitionedModel(load_host(art), fourier.load(art))
for batch in (1, 7, 33):
    np.save(f"{art}/out{batch}.npy", served(random_requests(batch, seed=batch))["score"])
bad = ("fourier.compiler", "fourier.importer", "fourier.passes", "fourier.backends.jax_lowering", "networkx")
print(sorted(m for m in sys.modules if m.startswith(bad)))
"""


def test_host_part_serves_from_its_files_without_tensorflow(
    ranking: PreprocessingModel, imported: HostModel, tmp_path: Path
) -> None:
    """Before: the ranking model partitioned; the device part compiled into an artifact and the
    host part saved beside it (host.json, host_tables.safetensors).
    Expected: the saved host part loads back equal; a process that cannot import TensorFlow (and
    loads neither the compiler, the importer nor networkx) serves the model, matching TensorFlow
    at batches 1, 7 and 33."""
    plan = partition(imported.graph)
    assert plan.device is not None
    art = tmp_path / "art"
    fourier.compile(plan.device, art, [1, 8, 64])
    part = HostPart.from_plan(plan, imported.tables)
    save_host(part, art)
    back = load_host(art)
    assert str(back.graph) == str(part.graph) and sorted(back.tables) == sorted(part.tables)
    assert (back.crossings, back.device_inputs, back.outputs) == (
        part.crossings,
        part.device_inputs,
        part.outputs,
    )

    run = subprocess.run(
        [sys.executable, "-c", _SERVE, str(art)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout
    loaded = tf.saved_model.load(str(ranking.path))  # keeps the signature's variables alive
    signature = loaded.signatures["serving_default"]
    for batch in (1, 7, 33):
        want = signature(**_tf_request(random_requests(batch, seed=batch)))["score"].numpy()
        np.testing.assert_allclose(np.load(art / f"out{batch}.npy"), want, rtol=RTOL, atol=ATOL)
