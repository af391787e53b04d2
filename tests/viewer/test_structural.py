"""Structural diff of two graphs: renaming or reordering alone is not a change.

Each test: a Before graph and an After graph (IR text or a zoo model changed by a pass); Expected:
which nodes are added, removed, rewritten or only renamed, and the aligned text diff.
"""

from __future__ import annotations

from collections import defaultdict

from fourier.importer import load_graph
from fourier.ir.core import Graph
from fourier.ir.snapshot import take_snapshot
from fourier.passes.manager import PassManager, parse_pipeline
from fourier.testing.zoo import ZooModel
from fourier.viewer.diff import diff_snapshots
from tests.passes._util import ir


def _reordered(graph: Graph) -> None:
    """Put the nodes in another valid topological order: always take the last ready node."""
    users = defaultdict(list)
    indeg = {n.name: len({v.producer.name for v in n.inputs}) for n in graph.nodes}
    for n in graph.nodes:
        for p in {v.producer.name for v in n.inputs}:
            users[p].append(n)
    ready = [n for n in graph.nodes if indeg[n.name] == 0]
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for u in users[n.name]:
            indeg[u.name] -= 1
            if indeg[u.name] == 0:
                ready.append(u)
    assert len(order) == len(graph.nodes)
    graph.nodes[:] = order


def test_renaming_and_reordering_a_zoo_model_is_no_change(zoo: dict[str, ZooModel]) -> None:
    graph = load_graph(zoo["deepfm"].pb)
    before = take_snapshot(graph)
    renamed = 0
    for i, n in enumerate(list(graph.nodes)):
        if n.op != "Placeholder":
            graph.rename(n, f"renamed_{i}")
            renamed += 1
    _reordered(graph)
    after = take_snapshot(graph)
    assert after.text != before.text  # a text diff would show every line

    d = diff_snapshots(before, after)

    assert not d.changed and d.unified() == []
    assert (d.added, d.removed, d.rewritten, d.outputs_changed) == ([], [], [], [])
    assert len(d.renamed) == renamed
    assert d.aligned_after_text().splitlines()[1:] == before.text.splitlines()[1:]


def test_rewrite_keeps_its_name_and_shows_as_rewritten() -> None:
    before = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,2]) {
      %w = Const() {value = dense<float32[4x2] [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]>} : float32[4,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %mm = MatMul(%x, %w) {transpose_a = false, transpose_b = false} : float32[N,2]
      %add = BiasAdd(%mm, %b) {data_format = "NHWC"} : float32[N,2]
      %y = Relu(%add) : float32[N,2]
      return "y" = %y
    }
    """)
    snap = take_snapshot(before)
    PassManager(parse_pipeline("fuse-dense")).run(before)

    d = diff_snapshots(snap, take_snapshot(before))

    assert d.rewritten == ["y"]  # the FusedDense took the name of the node it replaced
    assert sorted(d.removed) == ["add", "mm"]
    assert d.added == [] and d.outputs_changed == []
    lines = d.unified(0)
    assert "-  %y = Relu(%add) : float32[N,2]" in lines
    assert any(
        line.startswith("+  %y = FusedDense(%x, %w, %b)") and "# rule fuseddense-activation" in line
        for line in lines
    )


def test_renamed_node_below_a_change_is_matched_to_its_old_self() -> None:
    """%s changed (x*2 -> x*3) and its consumer was renamed r -> r2: r2 is the same node as r, rewired."""
    before = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %two = Const() {value = dense<float32[] [2.0]>} : float32[]
      %s = Mul(%x, %two) : float32[N,4]
      %r = Relu(%s) : float32[N,4]
      return "y" = %r
    }
    """)
    after = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %three = Const() {value = dense<float32[] [3.0]>} : float32[]
      %s = Mul(%x, %three) : float32[N,4]
      %r2 = Relu(%s) : float32[N,4]
      return "y" = %r2
    }
    """)

    d = diff_snapshots(take_snapshot(before), take_snapshot(after))

    assert d.added == ["three"] and d.removed == ["two"]
    assert d.rewritten == ["s"]  # same name, new input
    assert d.match["r2"] == "r" and d.status["r2"] == "same" and d.renamed == [("r", "r2")]
    assert d.outputs_changed == []
    assert [line for line in d.unified(0) if line[:1] in "+-" and not line.startswith(("+++", "---"))] == [
        "-  %two = Const() {value = dense<float32[] [2.0]>} : float32[]",
        "-  %s = Mul(%x, %two) : float32[N,4]",
        "+  %three = Const() {value = dense<float32[] [3.0]>} : float32[]",
        "+  %s = Mul(%x, %three) : float32[N,4]",
    ]


def test_merged_duplicates_show_one_removed_node() -> None:
    """Cse merges two equal Relu nodes: one is removed, the Add is rewired (rewritten)."""
    before = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Relu(%x) : float32[N,4]
      %b = Relu(%x) : float32[N,4]
      %c = AddV2(%a, %b) : float32[N,4]
      return "y" = %c
    }
    """)
    snap = take_snapshot(before)
    PassManager(parse_pipeline("cse")).run(before)

    d = diff_snapshots(snap, take_snapshot(before))

    assert d.removed == ["b"] and d.rewritten == ["c"] and d.added == []


def test_output_bound_to_another_node_is_a_change() -> None:
    before = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Relu(%x) : float32[N,4]
      %b = Neg(%x) : float32[N,4]
      return "y" = %a, "z" = %b
    }
    """)
    after = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Relu(%x) : float32[N,4]
      %b = Neg(%x) : float32[N,4]
      return "y" = %b, "z" = %a
    }
    """)

    d = diff_snapshots(take_snapshot(before), take_snapshot(after))

    assert d.changed and d.outputs_changed == ["y", "z"]
    assert '+  return "y" = %b, "z" = %a' in d.unified(0)
