"""Calls into a GraphDef's function library are inlined on import (fourier/importer/functions.py).

Before: GraphDefs whose outputs go through ``PartitionedCall`` nodes, nodes whose op is a library
function, nested calls, list-valued arguments (``number_attr``), ``placeholder`` attributes,
``node:out_arg:i`` and whole-list ``node:out_arg`` references, control inputs; and a graph
TensorFlow itself freezes with a ``jit_compile=True`` function kept as a call.
Expected: the imported graph computes what the functions compute (reference interpreter against
numpy; TensorFlow's own answer for the frozen one), no call or function name survives as an op,
and broken calls (recursion, a missing function, a placeholder the call does not give, an
unknown output argument) are refused with a GraphImportError naming the node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.errors import GraphImportError
from fourier.importer.graphdef import import_graphdef
from fourier.interpreter import run_reference
from fourier.testing.hostile import _const, _graph, _node

FLOAT = 1


def _function(g: Any, name: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> Any:
    """A library function; each argument is (name, number_attr or '')."""
    f = g.library.function.add()
    f.signature.name = name
    for arg_name, number in inputs:
        a = f.signature.input_arg.add()
        a.name, a.type_attr = arg_name, "T"
        a.number_attr = number
    for arg_name, number in outputs:
        a = f.signature.output_arg.add()
        a.name, a.type_attr = arg_name, "T"
        a.number_attr = number
    return f


def _body(f: Any, name: str, op: str, inputs: list[str], **attrs: Any) -> Any:
    n = f.node_def.add()
    n.name, n.op = name, op
    n.input.extend(inputs)
    for key, (kind, v) in attrs.items():
        if kind == "placeholder":
            n.attr[key].placeholder = v
        elif kind == "i":
            n.attr[key].i = v
        elif kind == "type":
            n.attr[key].type = v
        elif kind == "tensor":
            n.attr[key].tensor.CopyFrom(v)
    return n


def _library_graph(**change: Any) -> Any:
    """f(a, xs: N) -> (r, parts: K): r = a * AddN(xs), parts = split(r, K, axis 1);
    g(a) -> b: calls f directly as an op and returns its second part."""
    g = _graph()
    for x in ("x", "y"):
        _node(g, x, "Placeholder", dtype=("type", "float32"), shape=("shape", (-1, 4)))
    f = _function(g, "f", [("a", ""), ("xs", "N")], [("r", ""), ("parts", "K")])
    _body(f, "add", "AddN", ["xs", "^a"], T=("placeholder", "T"), N=("placeholder", "N"))
    _body(f, "mul", "Mul", ["a", "add:sum:0"], T=("placeholder", "T"))
    dim = _const(_graph(), "dim", np.int32(1), "int32")
    _body(f, "dim", "Const", ["^mul"], dtype=("type", 3), value=("tensor", dim.attr["value"].tensor))
    _body(f, "split", "Split", ["dim:output:0", "mul:z:0"], T=("placeholder", "T"), num_split=("i", 2))
    f.ret["r"] = change.get("ret_r", "mul:z:0")
    f.ret["parts"] = "split:output"
    gfn = _function(g, "g", [("a", "")], [("b", "")])
    inner = _body(gfn, "inner", change.get("inner_op", "f"), ["a", "a", "a"], T=("type", FLOAT))
    inner.attr["N"].i, inner.attr["K"].i = 2, 2
    gfn.ret["b"] = change.get("ret_b", "inner:parts:1")
    c = _node(g, "c", "PartitionedCall", ("x", "x", "y", "^x"), f=("func", change.get("callee", "f")))
    c.attr["f"].func.attr["T"].type = FLOAT
    c.attr["f"].func.attr["N"].i = 2
    if not change.get("drop_k"):
        c.attr["f"].func.attr["K"].i = 2
    c.attr["Tout"].list.type.extend([FLOAT] * 3)
    d = _node(g, "d", "g", ("x",))
    d.attr["T"].type = FLOAT
    return g


def test_calls_are_inlined_and_compute_what_the_functions_compute() -> None:
    graph = import_graphdef(_library_graph(), outputs=["c:0", "c:1", "c:2", "d"])
    ops = {n.op for n in graph.nodes}
    assert not ops & {"PartitionedCall", "f", "g", "IdentityN"}, ops
    assert any(n.name == "d/inner/split" for n in graph.nodes), [n.name for n in graph.nodes]
    rng = np.random.default_rng(0)
    x, y = (rng.normal(size=(3, 4)).astype(np.float32) for _ in range(2))
    got = run_reference(graph, {"x": x, "y": y})
    r = x * (x + y)
    np.testing.assert_allclose(got["c"], r, rtol=1e-6)
    np.testing.assert_allclose(got["c:1"], r[:, :2], rtol=1e-6)
    np.testing.assert_allclose(got["c:2"], r[:, 2:], rtol=1e-6)
    np.testing.assert_allclose(got["d"], (x * (x + x))[:, 2:], rtol=1e-6)


def test_a_ret_that_is_an_argument_forwards_the_call_input() -> None:
    graph = import_graphdef(_library_graph(ret_r="a"), outputs=["c:0"])
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(run_reference(graph, {"x": x, "y": x})["c"], x)


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"callee": "nowhere"}, "'nowhere' is not in the library"),
        ({"inner_op": "g", "ret_b": "inner:b:0"}, "recurse: g -> g"),
        ({"drop_k": True}, "needs attribute 'K'"),
        ({"ret_b": "inner:nope:0"}, "no output argument 'nope'"),
        ({"ret_r": "ghost:z:0"}, "not in the function"),
    ],
    ids=["missing", "recursion", "missing-attr", "bad-out-arg", "ghost-node"],
)
def test_broken_calls_are_refused_naming_the_node(change: dict[str, Any], expect: str) -> None:
    outputs = ["d"] if "ret_b" in change else ["c:0"]
    with pytest.raises(GraphImportError, match=expect):
        import_graphdef(_library_graph(**change), outputs=outputs)


def test_placeholder_missing_from_the_call_is_refused() -> None:
    g = _library_graph()
    del g.node[2].attr["f"].func.attr["T"]
    with pytest.raises(GraphImportError, match="placeholder 'T' is not given"):
        import_graphdef(g, outputs=["c:0"])


def test_a_frozen_jit_compiled_function_matches_tensorflow(tmp_path: Path) -> None:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from fourier.testing.oracle import TFGraph

    w = tf.constant(np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32))

    @tf.function(jit_compile=True)
    def inner(x: Any) -> Any:
        a, b = tf.split(tf.matmul(x, w), 2, axis=1)
        return tf.nn.relu(a) * b, tf.reduce_sum(b, 1)

    @tf.function
    def outer(x: Any) -> Any:
        p, q = inner(x)
        return tf.identity(p + 1.0, name="p"), tf.identity(q, name="q")

    frozen = convert_variables_to_constants_v2(
        outer.get_concrete_function(tf.TensorSpec([None, 4], tf.float32, name="x"))
    )
    gd = frozen.graph.as_graph_def()
    assert any(n.op in ("PartitionedCall", "StatefulPartitionedCall") for n in gd.node)
    pb = tmp_path / "call.pb"
    pb.write_bytes(gd.SerializeToString())
    fourier.compile(pb, tmp_path / "out", [4])
    model, oracle = fourier.load(tmp_path / "out"), TFGraph(pb)
    for batch in (1, 3, 9):
        feeds = {"x": np.random.default_rng(batch).normal(size=(batch, 4)).astype(np.float32)}
        got, want = model(feeds), oracle(feeds)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)
