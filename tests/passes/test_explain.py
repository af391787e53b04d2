"""``explain_rule`` on a graph a rule already rewrote: the match that fired, from the provenance.

Before: the bundled MLP (``fourier/examples/mlp.pb``: three MatMul -> BiasAdd -> activation
layers) run through -O2 up to fuse-dense, which leaves three FusedDense nodes, each recorded as
made by ``fuseddense-activation`` from its layer's three TF nodes.
Expected: explaining that rule at a FusedDense, or at one of the TF nodes fused into it, reports
the match that fired (rule, pass, TF nodes), not "expected Relu, got FusedDense"; a rule that
did not make the node says which rule did; the CLI prints the same with no change of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import fourier
from fourier.cli import cli
from fourier.importer import load_graph
from fourier.ir.core import Graph
from fourier.passes.manager import OPT_LEVELS, PassManager, parse_pipeline
from fourier.passes.rewrite import Explanation, Rule, RuleSet, any_, apply_rules, explain_rule, op
from fourier.passes.rules import find_rule
from tests.passes._util import ir

MLP = Path(fourier.__file__).parent / "examples" / "mlp.pb"
UPTO_FUSE_DENSE = OPT_LEVELS[2].split(",fuse-conv,")[0]
FIRED = (
    "rewritten by fuseddense-activation in pass fuse-dense "
    "(from TF nodes model/dense/Relu, model/dense/BiasAdd, model/dense/MatMul)"
)


@pytest.fixture()
def mlp() -> Graph:
    graph = load_graph(MLP)
    PassManager(parse_pipeline(UPTO_FUSE_DENSE)).run(graph)
    return graph


def test_a_rewritten_node_reports_the_match_that_fired(mlp: Graph) -> None:
    _, rule = find_rule("fuseddense-activation")
    (e,) = explain_rule(mlp, rule, "model/dense/Relu")
    assert e == Explanation(
        "model/dense/Relu",
        "FusedDense",
        True,
        FIRED,
        fired=True,
        made_by="fuseddense-activation",
        origin=("model/dense/Relu", "model/dense/BiasAdd", "model/dense/MatMul"),
    )
    assert "expected" not in e.reason


def test_a_tf_node_fused_away_leads_to_the_node_that_stands_for_it(mlp: Graph) -> None:
    _, rule = find_rule("fuseddense-activation")
    (e,) = explain_rule(mlp, rule, "model/dense_1/BiasAdd")  # no node of that name is left
    assert e.node == "model/dense_1/Relu" and e.matched and e.fired
    assert e.reason.startswith("TF node model/dense_1/BiasAdd is now part of this node; rewritten by ")


def test_without_at_the_nodes_the_rule_made_come_first(mlp: Graph) -> None:
    _, rule = find_rule("fuseddense-activation")
    results = explain_rule(mlp, rule)
    assert [(e.node, e.fired) for e in results] == [
        ("model/dense/Relu", True),
        ("model/dense_1/Relu", True),
        ("model/dense_2/Sigmoid", True),
    ]
    assert results[0].reason == FIRED


def test_an_earlier_rule_of_a_chain_is_reported_as_fired(mlp: Graph) -> None:
    """Before: matmul-to-dense made a FusedDense that fuseddense-bias and then
    fuseddense-activation rewrote again (the node records only the last rule). Expected: the
    node's lineage keeps all three, so asking about matmul-to-dense reports the match that fired
    and names the rule that rewrote its result."""
    _, rule = find_rule("matmul-to-dense")
    (e,) = explain_rule(mlp, rule, "model/dense/MatMul")
    assert e.node == "model/dense/Relu" and e.matched and e.fired
    assert e.made_by == "fuseddense-activation"
    assert e.reason == (
        "TF node model/dense/MatMul is now part of this node; rewritten by matmul-to-dense in pass "
        "fuse-dense (from TF nodes model/dense/Relu, model/dense/BiasAdd, model/dense/MatMul); its result "
        "was then rewritten by fuseddense-activation of pass fuse-dense (rules in order: matmul-to-dense, "
        "fuseddense-bias, fuseddense-activation)"
    )


def test_a_rule_that_did_not_make_the_node_names_the_one_that_did() -> None:
    graph = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Relu(%x) : float32[N,4]
      %b = Relu(%a) : float32[N,4]
      return "y" = %b
    }
    """)
    relu_relu = Rule(
        "relu-relu", op("Relu", op("Relu", any_("x"), one_use=True)), lambda ctx, m: ctx.op("Relu", [m["x"]])
    )
    apply_rules(graph, RuleSet("t", (relu_relu,)))
    other = Rule("relu-neg", op("Relu", op("Neg", any_("x"))), lambda ctx, m: ctx.op("Relu", [m["x"]]))
    (e,) = explain_rule(graph, other, "b")
    assert e.node == "b" and not e.matched and not e.fired and e.made_by == "relu-relu"
    assert e.reason.startswith("made by relu-relu from TF nodes b, a; relu-neg does not match it now: ")


def test_a_rule_of_no_pass_reports_where_it_fired_without_a_pass() -> None:
    graph = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Relu(%x) : float32[N,4]
      %b = Relu(%a) : float32[N,4]
      return "y" = %b
    }
    """)
    rule = Rule(
        "relu-relu", op("Relu", op("Relu", any_("x"), one_use=True)), lambda ctx, m: ctx.op("Relu", [m["x"]])
    )
    assert apply_rules(graph, RuleSet("t", (rule,))) == {"relu-relu": 1}
    (e,) = explain_rule(graph, rule, "b")
    assert e.fired and e.reason == "rewritten by relu-relu (from TF nodes b, a)"


def test_the_cli_explains_the_rewrite_with_the_same_call() -> None:
    result = CliRunner().invoke(
        cli, ["opt", str(MLP), "--explain-rule", "fuseddense-activation", "--at", "model/dense_2/Sigmoid"]
    )
    assert result.exit_code == 0, result.output
    assert "fired 3 time(s)" in result.output
    assert (
        "match: model/dense_2/Sigmoid (FusedDense): rewritten by fuseddense-activation in pass fuse-dense "
        "(from TF nodes model/dense_2/Sigmoid, model/dense_2/BiasAdd, model/dense_2/MatMul)"
    ) in result.output
    assert "expected" not in result.output
