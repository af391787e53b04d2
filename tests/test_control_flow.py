"""Control flow: loops, conditionals and TensorLists, from one op up to Keras GRU/LSTM models.

Before: one-op graphs of each control-flow op (``While`` and ``If`` with regions written as IR
text, the TensorList ops); loops written as IR text that keep rows, mix them, or count
iterations by row data; hand-built GraphDefs with a functional ``While`` that TensorFlow cannot
run on Fourier's terms (a list of unknown length); and Keras models frozen by
`fourier.testing.recurrent` (``Embedding -> GRU(32) -> Dense(1)`` over token ids ``[N, S]``, two
stacked LSTMs over features ``[N, S, 8]``, and a ``tf.cond`` on the sequence length pooling by max
or mean, all with an unknown batch and sequence length).
Expected: the JAX lowering equals the numpy reference (float32 rtol 1e-5); a loop prints, parses
and saves back to the same text; the padding analysis proves the batch for a row-local loop and
refuses, naming the loop, a loop that mixes rows or whose trip count depends on the data or on the
padded size; unsupported lists are refused naming the node and what is missing; and the Keras
models compile with ``buckets=(32, 64, 128)`` and ``dims={"S": [5, 12]}`` and match TensorFlow running
the same frozen graph at batches 1, 7, 33, 128 and 300 and lengths 5, 12 and 7 (not compiled: served
exactly) within float32 rtol 1e-4, atol 1e-5, in both forms TensorFlow freezes loops to:
functional ``StatelessWhile``/``StatelessIf`` nodes and the v1 form (frames of ``Enter``/``Merge``/
``Switch``/``NextIteration``/``Exit``/``LoopCond``; ``Switch``/``Merge`` outside a frame), which the
importer rebuilds as the same loops and conditionals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

import fourier
from fourier.backends.jax_lowering import lower_graph
from fourier.errors import GraphImportError
from fourier.importer.graphdef import import_graphdef, load_graph
from fourier.interpreter import run_reference
from fourier.ir.parser import parse_graph
from fourier.ir.printer import print_graph
from fourier.ir.saved import save_graph
from fourier.ir.verifier import verify
from fourier.ops.control import decode_region, encode_region
from fourier.passes.independence import analyze
from fourier.testing.hostile import _const, _graph, _node
from fourier.testing.oracle import TFGraph
from fourier.testing.recurrent import RECURRENT_NAMES, RecurrentGraph, ensure_recurrent, random_inputs
from tests.test_ops import C, Case
from tests.test_ops import _graph as one_op_graph

RTOL, ATOL = 1e-4, 1e-5
rng = np.random.default_rng(7)


def _region(text: str) -> str:
    """A region attribute from IR text (checked: it parses)."""
    return encode_region(parse_graph(text))


# A loop summing the rows of a list: i, acc, xs -> i + 1, acc + xs[i], xs while i < 5.
SUM_BODY = _region(
    """graph @body(%arg0: int32[], %arg1: float32[3,4], %arg2: float32[5,3,4]) -> (int32[], float32[3,4], float32[5,3,4]) {
  %one = Const() {value = dense<int32[] [1]>} : int32[]
  %next = AddV2(%arg0, %one) : int32[]
  %x = TensorListGetItem(%arg2, %arg0) {element_dtype = "float32"} : float32[3,4]
  %acc = AddV2(%arg1, %x) : float32[3,4]
  return "0" = %next, "1" = %acc, "2" = %arg2
}"""
)
BELOW_5 = _region(
    """graph @cond(%arg0: int32[]) -> (bool[]) {
  %five = Const() {value = dense<int32[] [5]>} : int32[]
  %less = Less(%arg0, %five) : bool[]
  return "0" = %less
}"""
)
DOUBLE = _region(
    """graph @then(%arg0: float32[3,4]) -> (float32[3,4]) {
  %y = AddV2(%arg0, %arg0) : float32[3,4]
  return "0" = %y
}"""
)
PLUS_ONE = _region(
    """graph @else(%arg0: float32[3,4]) -> (float32[3,4]) {
  %one = Const() {value = dense<float32[] [1.0]>} : float32[]
  %y = AddV2(%arg0, %one) : float32[3,4]
  return "0" = %y
}"""
)

CASES = [
    Case("TensorListReserve", [C([3, 4]), C(5)], {"element_dtype": "float32"}),
    Case("TensorListFromTensor", [rng.standard_normal((5, 3)).astype(np.float32), C([3])]),
    Case("TensorListGetItem", [rng.standard_normal((5, 3)).astype(np.float32), np.int32(2), C([3])]),
    Case(
        "TensorListSetItem",
        [
            rng.standard_normal((5, 3)).astype(np.float32),
            np.int32(4),
            rng.standard_normal(3).astype(np.float32),
        ],
    ),
    Case("TensorListStack", [rng.standard_normal((5, 3)).astype(np.float32), C([3])], {"num_elements": 5}),
    Case("TensorListLength", [rng.standard_normal((5, 3)).astype(np.float32)]),
    Case("TensorListElementShape", [rng.standard_normal((5, 3, 2)).astype(np.float32)]),
    Case(
        "While",
        [np.int32(0), np.zeros((3, 4), np.float32), rng.standard_normal((5, 3, 4)).astype(np.float32)],
        {"cond": BELOW_5, "body": SUM_BODY},
    ),
    Case(
        "StatelessWhile",
        [np.int32(2), np.zeros((3, 4), np.float32), rng.standard_normal((5, 3, 4)).astype(np.float32)],
        {"cond": BELOW_5, "body": SUM_BODY},
    ),
    Case(
        "If",
        [np.bool_(True), rng.standard_normal((3, 4)).astype(np.float32)],
        {"then_branch": DOUBLE, "else_branch": PLUS_ONE},
    ),
    Case(
        "StatelessIf",
        [np.bool_(False), rng.standard_normal((3, 4)).astype(np.float32)],
        {"then_branch": DOUBLE, "else_branch": PLUS_ONE},
    ),
]
COVERED = {c.op for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.op for c in CASES])
def test_reference_matches_lowering(case: Case) -> None:
    graph, feeds = one_op_graph(case)
    verify(graph)
    want = run_reference(graph, feeds)
    lowered = lower_graph(graph, param_min_bytes=1 << 40)
    got = jax.jit(lowered.fn)([], [feeds[n] for n in lowered.input_names])
    for (name, value), out in zip(graph.outputs, got):
        out, ref = np.asarray(out), want[name]
        assert out.dtype.name == value.type.dtype == ref.dtype.name, name
        assert value.type.is_static and tuple(out.shape) == value.type.shape == ref.shape, name
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_while_sums_the_list_it_walks() -> None:
    xs = rng.standard_normal((5, 3, 4)).astype(np.float32)
    graph, feeds = one_op_graph(
        Case("While", [np.int32(0), np.zeros((3, 4), np.float32), xs], {"cond": BELOW_5, "body": SUM_BODY})
    )
    out = run_reference(graph, feeds)
    assert int(out["out0"]) == 5
    np.testing.assert_allclose(out["out1"], xs.sum(0), rtol=1e-6)


# -- the IR text: regions print, parse and save -------------------------------------------------

LOOP = """graph @main(%x: float32[N,4]) -> (float32[N,4]) {
  %i = Const() {value = dense<int32[] [0]>} : int32[]
  %loop, %loop:1 = While(%i, %x) {body = {BODY}, cond = {COND}} : int32[], float32[N,4]
  return "y" = %loop:1
}
"""


def _loop(body: str, cond: str) -> str:
    from fourier.ir.printer import format_attr

    return LOOP.replace("{BODY}", format_attr(_region(body))).replace("{COND}", format_attr(_region(cond)))


ROW_LOCAL = """graph @body(%arg0: int32[], %arg1: float32[N,4]) -> (int32[], float32[N,4]) {
  %one = Const() {value = dense<int32[] [1]>} : int32[]
  %next = AddV2(%arg0, %one) : int32[]
  %y = Tanh(%arg1) : float32[N,4]
  return "0" = %next, "1" = %y
}"""
ROW_MIXING = """graph @body(%arg0: int32[], %arg1: float32[N,4]) -> (int32[], float32[N,4]) {
  %one = Const() {value = dense<int32[] [1]>} : int32[]
  %next = AddV2(%arg0, %one) : int32[]
  %axis = Const() {value = dense<int32[] [0]>} : int32[]
  %total = Sum(%arg1, %axis) {keep_dims = true} : float32[1,4]
  %y = AddV2(%arg1, %total) : float32[N,4]
  return "0" = %next, "1" = %y
}"""
THREE_TIMES = """graph @cond(%arg0: int32[]) -> (bool[]) {
  %three = Const() {value = dense<int32[] [3]>} : int32[]
  %less = Less(%arg0, %three) : bool[]
  return "0" = %less
}"""
WHILE_POSITIVE = """graph @cond(%arg1: float32[N,4]) -> (bool[]) {
  %axes = Const() {value = dense<int32[2] [0, 1]>} : int32[2]
  %row_sum = Sum(%arg1, %axes) {keep_dims = false} : float32[]
  %zero = Const() {value = dense<float32[] [0.0]>} : float32[]
  %more = Greater(%row_sum, %zero) : bool[]
  return "0" = %more
}"""


def test_a_loop_prints_parses_and_saves_to_the_same_text() -> None:
    text = _loop(ROW_LOCAL, THREE_TIMES)
    graph = parse_graph(text)
    assert print_graph(graph) == text
    assert print_graph(save_graph(graph).load()) == text
    assert print_graph(decode_region(graph.node("loop").attrs["body"])) == print_graph(parse_graph(ROW_LOCAL))


def test_a_region_with_a_wrong_type_is_refused_naming_the_loop() -> None:
    text = _loop(ROW_LOCAL.replace("float32[N,4]", "float32[N,5]"), THREE_TIMES)
    with pytest.raises(
        Exception, match=r"loop.*operand 1 is float32\[N,4\], region 'body' takes float32\[N,5\]"
    ):
        parse_graph(text)


# -- padding --------------------------------------------------------------------------------------


def test_a_row_local_loop_keeps_rows() -> None:
    result = analyze(parse_graph(_loop(ROW_LOCAL, THREE_TIMES)), "N")
    assert result.safe, result.explain()


def test_a_loop_that_mixes_rows_is_refused_naming_the_body_node() -> None:
    result = analyze(parse_graph(_loop(ROW_MIXING, THREE_TIMES)), "N")
    assert not result.safe
    assert result.explain() == "output 'y': total (Sum): reduces over the N axis"


def test_a_loop_counted_by_row_data_is_refused_naming_the_condition() -> None:
    result = analyze(parse_graph(_loop(ROW_LOCAL, WHILE_POSITIVE)), "N")
    assert not result.safe
    assert result.explain() == "output 'y': row_sum (Sum): reduces over the N axis"


# -- import: refusals ----------------------------------------------------------------------------


def _while_graph(num_elements_from_input: bool) -> Any:
    """``While`` over a list reserved with a length fed at run time (or a constant 3)."""
    g = _graph()
    _node(g, "x", "Placeholder", dtype=("type", "float32"), shape=("shape", [-1, 4]))
    _node(g, "n", "Placeholder", dtype=("type", "int32"))
    g.node[-1].attr["shape"].shape.SetInParent()  # a scalar
    _const(g, "shape", np.array([-1, 4], np.int32), "int32")
    _const(g, "three", np.array(3, np.int32), "int32")
    _const(g, "i", np.array(0, np.int32), "int32")
    _node(
        g,
        "list",
        "TensorListReserve",
        ("shape", "n" if num_elements_from_input else "three"),
        element_dtype=("type", "float32"),
        shape_type=("type", "int32"),
    )
    _node(g, "loop", "StatelessWhile", ("i", "list", "x"), cond=("func", "cond"), body=("func", "body"))
    _node(g, "stack", "TensorListStack", ("loop:1", "shape"), element_dtype=("type", "float32"))
    for name, ins, outs in [
        ("cond", ["i", "l", "x"], ["z"]),
        ("body", ["i", "l", "x"], ["i2", "l2", "x2"]),
    ]:
        f = g.library.function.add()
        f.signature.name = name
        for a in ins:
            arg = f.signature.input_arg.add()
            arg.name = a
        for a in outs:
            arg = f.signature.output_arg.add()
            arg.name = a
    cond, body = g.library.function
    _fnode(cond, "three", "Const", [], value=np.array(3, np.int32))
    _fnode(cond, "less", "Less", ["i", "three:output:0"])
    cond.ret["z"] = "less:z:0"
    _fnode(body, "one", "Const", [], value=np.array(1, np.int32))
    _fnode(body, "next", "AddV2", ["i", "one:output:0"])
    _fnode(body, "y", "Tanh", ["x"])
    _fnode(body, "set", "TensorListSetItem", ["l", "i", "y:y:0"], element_dtype=1)
    body.ret.update({"i2": "next:z:0", "l2": "set:output_handle:0", "x2": "x"})
    return g


def _fnode(f: Any, name: str, op: str, inputs: list[str], value: Any = None, element_dtype: int = 0) -> None:
    from fourier.testing.hostile import _tensor

    n = f.node_def.add()
    n.name, n.op = name, op
    n.input.extend(inputs)
    if value is not None:
        n.attr["value"].tensor.CopyFrom(_tensor(value, dtype=value.dtype.name))
        n.attr["dtype"].type = 3
    if element_dtype:
        n.attr["element_dtype"].type = element_dtype


def test_a_functional_while_over_a_reserved_list_imports_and_runs() -> None:
    graph = import_graphdef(_while_graph(False), "loop.pb", ["stack"])
    assert graph.node("loop").op == "StatelessWhile"
    assert str(graph.node("stack").output.type) == "float32[3,N,4]"  # the body set [N,4] items
    x = rng.standard_normal((2, 4)).astype(np.float32)
    out = run_reference(graph, {"x": x})["stack"]
    np.testing.assert_allclose(out, np.broadcast_to(np.tanh(x), (3, 2, 4)), rtol=1e-6)
    assert analyze(graph, "N").safe


def test_a_list_of_run_time_length_is_refused_naming_the_node() -> None:
    with pytest.raises(
        GraphImportError,
        match=r"'list' \(TensorListReserve\): the list length .* must be known at compile time",
    ):
        import_graphdef(_while_graph(True), "loop.pb", ["stack"])


def test_a_loop_whose_body_is_missing_is_refused() -> None:
    g = _while_graph(False)
    g.node[-2].attr["body"].func.name = "nowhere"
    with pytest.raises(
        GraphImportError, match=r"'loop' \(StatelessWhile\): attribute 'body' names function 'nowhere'"
    ):
        import_graphdef(g, "loop.pb", ["stack"])


# -- Keras recurrent models against TensorFlow ---------------------------------------------------


@pytest.fixture(scope="module")
def recurrent() -> dict[str, RecurrentGraph]:
    return ensure_recurrent(RECURRENT_NAMES)


LOOP_COUNT = {"gru_text": 1, "lstm_seq": 2, "cond_len": 0}
FRAME_OPS = {"Enter", "Merge", "Switch", "NextIteration", "Exit", "LoopCond"}


def test_the_graphs_hold_what_they_are_here_for(recurrent: dict[str, RecurrentGraph]) -> None:
    from fourier.importer.protos import GraphDef

    for name, g in recurrent.items():
        gd = GraphDef()
        gd.ParseFromString(g.pb.read_bytes())
        ops = {n.op for n in gd.node}
        loops = LOOP_COUNT[name.rpartition("_")[0]]
        if loops:
            assert {"TensorListReserve", "TensorListFromTensor", "TensorListStack"} <= ops, name
        if name.endswith("_functional"):
            assert ops & ({"StatelessWhile", "While"} if loops else {"StatelessIf", "If"}), name
        else:
            assert (FRAME_OPS if loops else {"Switch", "Merge"}) <= ops, name


@pytest.mark.parametrize("name", RECURRENT_NAMES)
def test_recurrent_model_imports_as_regions_that_round_trip(
    name: str, recurrent: dict[str, RecurrentGraph]
) -> None:
    graph = load_graph(recurrent[name].pb)
    ops = graph.op_counts()
    loops = LOOP_COUNT[name.rpartition("_")[0]]
    assert ops.get("StatelessWhile", 0) == loops
    assert ops.get("StatelessIf", 0) == (0 if loops else 1)
    assert not FRAME_OPS & set(ops)
    assert not graph.unused_inputs  # the placeholders lowering leaves behind are dropped
    text = print_graph(graph)
    assert print_graph(save_graph(graph).load()) == text


def test_a_frame_that_is_not_a_loop_is_refused_naming_it(recurrent: dict[str, RecurrentGraph]) -> None:
    from fourier.importer.protos import GraphDef

    gd = GraphDef()
    gd.ParseFromString(recurrent["gru_text_frames"].pb.read_bytes())
    merge = next(n for n in gd.node if n.op == "Merge")
    del merge.input[1]  # its NextIteration
    with pytest.raises(
        GraphImportError,
        match=rf"loop frame 'model/gru/PartitionedCall/while': Merge '{merge.name}' merges 1 values; "
        "expected its Enter and one NextIteration",
    ):
        import_graphdef(gd, "gru.pb")


@pytest.mark.parametrize("name", RECURRENT_NAMES)
def test_recurrent_model_pads_the_batch_not_the_sequence(
    name: str, recurrent: dict[str, RecurrentGraph]
) -> None:
    graph = load_graph(recurrent[name].pb)
    assert analyze(graph, "N").safe
    s = analyze(graph, "S")
    why = "which branch runs" if name.startswith("cond") else "the number of iterations"
    assert not s.safe and f"{why} depends on the size of S" in s.explain()


@pytest.mark.parametrize("name", RECURRENT_NAMES)
def test_recurrent_model_matches_tensorflow(
    name: str, recurrent: dict[str, RecurrentGraph], tmp_path: Path
) -> None:
    g = recurrent[name]
    fourier.compile(g.pb, tmp_path / name, buckets=(32, 64, 128), dims={"S": [5, 12]})
    model, oracle = fourier.load(tmp_path / name), TFGraph(g.pb)
    for batch in (1, 7, 33, 128, 300):
        for length in (5, 12, 7):
            feeds = random_inputs(g, batch, length, seed=batch * 100 + length)
            got, want = model(feeds), oracle(feeds)
            assert set(got) == set(want)
            for key, w in want.items():
                a = np.asarray(got[key])
                assert a.shape == w.shape == (batch, 1)
                assert batch == 1 or w.std() > 1e-3, "outputs do not depend on the input"
                np.testing.assert_allclose(
                    a, w, rtol=RTOL, atol=ATOL, err_msg=f"batch {batch}, length {length}"
                )


def _nested_loops(tmp_path: Path, lower: bool) -> Path:
    """A loop running a loop whose body holds a ``tf.cond``, frozen in either form."""
    import os

    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function
    def f(x: Any) -> Any:
        def outer(i: Any, acc: Any) -> Any:
            def inner(j: Any, a: Any) -> Any:
                return j + 1, tf.cond(j > 0, lambda: a * 0.5 + tf.tanh(a), lambda: a - 1.0)

            _, acc = tf.while_loop(lambda j, a: j < 3, inner, [0, acc])
            return i + 1, acc + 1.0

        _, y = tf.while_loop(lambda i, a: i < 2, outer, [0, x])
        return tf.identity(y, name="y")

    concrete = f.get_concrete_function(tf.TensorSpec([None, 4], tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=lower)
    pb = tmp_path / f"nested_{'frames' if lower else 'functional'}.pb"
    pb.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return pb


@pytest.mark.parametrize("lower", [False, True], ids=["functional", "frames"])
def test_nested_loops_with_a_conditional_match_tensorflow(lower: bool, tmp_path: Path) -> None:
    pb = _nested_loops(tmp_path, lower)
    graph = load_graph(pb)
    (loop,) = [n for n in graph.nodes if n.op == "StatelessWhile"]  # the rest are its regions
    (inner,) = [n for n in decode_region(loop.attrs["body"]).nodes if n.op in ("While", "StatelessWhile")]
    assert [n.op for n in decode_region(inner.attrs["body"]).nodes if n.op.endswith("If")] == ["StatelessIf"]
    fourier.compile(pb, tmp_path / "out", buckets=(8, 64))
    model, oracle = fourier.load(tmp_path / "out"), TFGraph(pb)
    (name,) = oracle.outputs
    for batch in (1, 7, 33):
        x = rng.standard_normal((batch, 4)).astype(np.float32)
        np.testing.assert_allclose(model({"x": x})[name], oracle({"x": x})[name], rtol=RTOL, atol=ATOL)


def test_a_loop_of_a_proven_trip_count_lowers_to_a_scan() -> None:
    """Before: the summing loop (``i < 5``, ``i + 1``) from i = 0, from i = 2, from an i known
    only at run time, and a loop whose condition reads what it sums.
    Expected: 5 and 3 trips proven (lowered to a scan, no while loop left), the others not proven
    (a while loop); every form gives the numpy reference's answer."""
    from fourier.ops.control import _while_lower, _while_reference, static_trip_count

    body, cond = decode_region(SUM_BODY), decode_region(BELOW_5)
    xs = rng.standard_normal((5, 3, 4)).astype(np.float32)
    acc = np.zeros((3, 4), np.float32)
    assert static_trip_count(cond, body, [np.int32(0), acc, xs]) == 5
    assert static_trip_count(cond, body, [np.int32(2), acc, xs]) == 3
    attrs = {"body": SUM_BODY, "cond": BELOW_5}
    for start in (0, 2):
        args = (np.int32(start), acc, xs)
        jaxpr = str(jax.make_jaxpr(lambda *a: _while_lower(attrs, *a), static_argnums=(0,))(*args))
        assert "scan" in jaxpr and "while" not in jaxpr
        got = jax.jit(lambda a, x: _while_lower(attrs, np.int32(start), a, x))(acc, xs)
        want = _while_reference(attrs, *args)
        np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-6)

    traced = str(jax.make_jaxpr(lambda i, a, x: _while_lower(attrs, i, a, x))(np.int32(0), acc, xs))
    assert "while" in traced  # the start is a run-time value: nothing proven
    by_data = parse_graph(
        """graph @cond(%arg1: float32[3,4]) -> (bool[]) {
  %axes = Const() {value = dense<int32[2] [0, 1]>} : int32[2]
  %s = Sum(%arg1, %axes) {keep_dims = false} : float32[]
  %ten = Const() {value = dense<float32[] [10.0]>} : float32[]
  %less = Less(%s, %ten) : bool[]
  return "0" = %less
}"""
    )
    assert static_trip_count(by_data, body, [np.int32(0), acc, xs]) is None  # reads the sums
