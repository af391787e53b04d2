"""The pass manager, the rewrite driver and the rewriter: pipelines, instruments, errors, guards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fourier.cli import cli
from fourier.ir.core import Graph
from fourier.ir.rewriter import RewriteError, Rewriter
from fourier.passes.cleanup import Prune
from fourier.passes.instruments import PassInstrument, PassRecord, PipelineReport
from fourier.passes.manager import (
    OPT_LEVELS,
    Pass,
    PassError,
    PassManager,
    PassResult,
    PipelineError,
    all_passes,
    parse_pipeline,
    pipeline_text,
    register_pass,
)
from fourier.passes.rewrite import ConvergenceError, Rule, RuleSet, any_, apply_rules, const, explain_rule, op
from tests.passes._util import assert_same_outputs, ir

SMALL = """
graph @t(%x: float32[N,4]) -> (float32[N,4]) {
  %one = Const() {value = dense<float32[] [1.0]>} : float32[]
  %a = Identity(%x) : float32[N,4]
  %b = Mul(%a, %one) : float32[N,4]
  %y = Relu(%b) : float32[N,4]
  return "y" = %y
}
"""


def test_pipeline_text_round_trips_with_options() -> None:
    passes = parse_pipeline("prune, fold-constants{max-elements=4096},cse")
    assert [p.name for p in passes] == ["prune", "fold-constants", "cse"]
    assert passes[1].max_elements == 4096  # type: ignore[attr-defined]
    assert pipeline_text(passes) == "prune,fold-constants{max-elements=4096},cse"
    assert pipeline_text(parse_pipeline(pipeline_text(passes))) == pipeline_text(passes)


@pytest.mark.parametrize(
    "text, message",
    [
        ("prune,no-such-pass", "unknown pass 'no-such-pass'"),
        ("fold-constants{size=3}", "has no option 'size'"),
        ("fold-constants{max-elements=lots}", "'lots' is not a int"),
        ("fold-constants{max-elements}", "needs a value"),
    ],
)
def test_bad_pipelines_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        parse_pipeline(text)


def test_every_level_parses_and_every_pass_is_documented() -> None:
    for text in OPT_LEVELS.values():
        parse_pipeline(text)
    docs = (Path(__file__).parents[2] / "docs" / "passes.md").read_text()
    missing = [n for n in all_passes() if f"`{n}`" not in docs and not n.startswith("test-")]
    assert not missing, f"docs/passes.md does not describe {missing}"


def test_instruments_record_time_counts_and_snapshots_of_changed_passes() -> None:
    graph = ir(SMALL)
    report = PassManager(parse_pipeline("strip-identity,cse,simplify"), verify=True, snapshots=True).run(
        graph
    )
    assert [r.name for r in report.records] == ["strip-identity", "cse", "simplify"]
    strip, cse, simplify = report.records
    assert (
        strip.changed
        and strip.stats == {"Identity": 1}
        and strip.nodes_before == 5
        and strip.nodes_after == 4
    )
    assert not cse.changed and cse.ir_after is None
    assert simplify.changed and simplify.stats == {"mul-one": 1} and "Mul" not in (simplify.ir_after or "")
    assert simplify.ops_before["Mul"] == 1 and "Mul" not in simplify.ops_after
    assert report.ir_before is not None and "Identity" in report.ir_before
    assert all(r.seconds >= 0 for r in report.records)


@register_pass
@dataclass(frozen=True)
class _Liar(Pass):
    """Test pass: edits the graph but says it did not."""

    name = "test-liar"

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        node = next(n for n in graph.nodes if n.op == "Relu")
        rw.replace_node(node, [rw.create("Relu6", node.inputs, before=node, name="r6").output])
        rw.finish()
        return PassResult(False)


@register_pass
@dataclass(frozen=True)
class _Crash(Pass):
    """Test pass: raises."""

    name = "test-crash"

    def run(self, graph: Graph) -> PassResult:
        raise ZeroDivisionError("boom")


def test_a_pass_that_misreports_a_change_is_caught() -> None:
    with pytest.raises(PassError, match="test-liar reported the graph unchanged"):
        PassManager(parse_pipeline("test-liar"), verify=True).run(ir(SMALL))


def test_a_failing_pass_names_itself_and_writes_a_reproducer_that_opt_replays(tmp_path: Path) -> None:
    repro = tmp_path / "repro"
    with pytest.raises(PassError) as err:
        PassManager(parse_pipeline("strip-identity,cse,test-crash,prune"), reproducer=repro).run(ir(SMALL))
    text = str(err.value)
    assert "test-crash (#3 of 4) failed: ZeroDivisionError: boom" in text
    assert "passes run before it: strip-identity, cse" in text and str(repro) in text
    assert (repro / "pipeline.txt").read_text().strip() == "strip-identity,cse,test-crash"
    assert (repro / "input.fir").read_text() == str(ir(SMALL))
    # Replaying the reproducer hits the same failure; without the crashing pass it runs.
    result = CliRunner().invoke(cli, ["opt", str(repro)])
    assert isinstance(result.exception, PassError) and "test-crash" in str(result.exception)
    result = CliRunner().invoke(cli, ["opt", str(repro), "-p", "strip-identity,simplify"])
    assert result.exit_code == 0, result.output
    assert "Relu(%x)" in result.output


def test_the_driver_fails_loudly_when_rules_do_not_converge() -> None:
    # Mul(x, c) -> Mul(c, x): commutative matching makes it match its own result forever.
    swap = Rule(
        "swap-operands", op("Mul", any_("x"), const("c")), lambda ctx, m: ctx.op("Mul", [m["c"], m["x"]])
    )
    with pytest.raises(ConvergenceError, match=r"did not converge .* swap-operands \(\d+x\)"):
        apply_rules(ir(SMALL), RuleSet("bad", (swap,)), max_rewrites=50)


def test_explain_rule_says_why_a_node_did_not_match() -> None:
    from fourier.passes.rules import find_rule

    graph = ir(SMALL)
    _, rule = find_rule("mul-one")
    (result,) = explain_rule(graph, rule)
    assert result.matched
    _, dense = find_rule("fuseddense-activation")
    (relu,) = explain_rule(graph, dense)
    assert not relu.matched and "expected FusedDense, got Mul" in relu.reason


def test_opt_cli_explain_rule_and_stats(tmp_path: Path) -> None:
    path = tmp_path / "g.fir"
    path.write_text(SMALL)
    runner = CliRunner()
    # a .fir file is not a graph the importer reads; go through a reproducer directory instead
    from fourier.passes.manager import write_reproducer

    write_reproducer(tmp_path / "r", ir(SMALL), parse_pipeline("strip-identity"))
    result = runner.invoke(cli, ["opt", str(tmp_path / "r"), "--explain-rule", "mul-one"])
    assert result.exit_code == 0, result.output
    assert "fired 0 time(s)" in result.output and "match: b (Mul): matches" in result.output
    result = runner.invoke(cli, ["opt", str(tmp_path / "r"), "-p", "strip-identity,simplify", "--stats"])
    assert result.exit_code == 0 and "mul-one: 1" in result.output


def test_the_rewriter_refuses_type_changes_and_erasing_used_nodes() -> None:
    graph = ir(SMALL)
    rw = Rewriter(graph)
    mul, x = graph.node("b"), graph.node("x")
    with pytest.raises(RewriteError, match="cannot erase node 'b': still read by"):
        rw.erase(mul)
    cast = rw.create("Cast", [x.output], {"DstT": "int32"}, before=mul, name="c")
    with pytest.raises(RewriteError, match="would change its type"):
        rw.replace_uses(mul.output, cast.output)


class _Log(PassInstrument):
    """Test instrument: logs every hook it sees."""

    def __init__(self, tag: str, log: list[str]) -> None:
        self.tag, self.log = tag, log

    def enter_pipeline(self, graph: Graph, report: PipelineReport) -> None:
        self.log.append(f"{self.tag} enter {report.pipeline}")

    def before_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        self.log.append(f"{self.tag} before {p} #{record.index}")

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        self.log.append(f"{self.tag} after {p} changed={record.changed} stats={record.stats}")

    def on_failure(self, p: Pass, graph: Graph, error: Exception) -> str:
        self.log.append(f"{self.tag} failure {p}: {error}")
        return f"{self.tag} saw it"


def test_instruments_are_hooks_that_nest_around_each_pass() -> None:
    log: list[str] = []
    manager = PassManager(parse_pipeline("strip-identity,cse"), instruments=[_Log("a", log), _Log("b", log)])
    report = manager.run(ir(SMALL))
    assert log == [
        "a enter strip-identity,cse",
        "b enter strip-identity,cse",
        "a before strip-identity #0",
        "b before strip-identity #0",
        "b after strip-identity changed=True stats={'Identity': 1}",
        "a after strip-identity changed=True stats={'Identity': 1}",
        "a before cse #1",
        "b before cse #1",
        "b after cse changed=False stats={}",
        "a after cse changed=False stats={}",
    ]
    strip = report.records[0]
    assert strip.seconds > 0 and strip.nodes_before == 5 and strip.nodes_after == 4
    assert report.ir_before is None and strip.ir_after is None  # no snapshots asked for

    # A pass that fails: the failure hooks run innermost first, and their notes join the error.
    log.clear()
    with pytest.raises(
        PassError, match="test-crash .* failed: ZeroDivisionError: boom; .*; b saw it; a saw it"
    ):
        PassManager(parse_pipeline("cse,test-crash"), instruments=[_Log("a", log), _Log("b", log)]).run(
            ir(SMALL)
        )
    assert log[-2:] == ["b failure test-crash: boom", "a failure test-crash: boom"]


def test_prune_and_dce_are_one_pass_under_two_names() -> None:
    prune, dce = parse_pipeline("prune,dce")
    assert isinstance(dce, Prune) and type(dce).run is type(prune).run
    assert pipeline_text([prune, dce]) == "prune,dce"  # a pipeline keeps the names it was given
    dead = SMALL.replace('  return "y"', '  %dead = Neg(%x) : float32[N,4]\n  return "y"')
    for name in ("prune", "dce"):
        graph = ir(dead)
        (record,) = PassManager(parse_pipeline(name), verify=True).run(graph).records
        assert record.name == name and record.stats == {"removed Neg": 1} and str(graph) == str(ir(SMALL))


REQUEUE_BEFORE = """
graph @t(%x: float32[2,3]) -> (float32[2,2], int32[2]) {
  %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
  %d = FusedDense(%x, %w) {activation = ""} : float32[2,2]
  %y = Relu(%d) : float32[2,2]
  %s = Shape(%d) {out_type = "int32"} : int32[2]
  return "y" = %y, "s" = %s
}
"""

REQUEUE_EXPECTED = """
graph @t(%x: float32[2,3]) -> (float32[2,2], int32[2]) {
  %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
  %y = FusedDense(%x, %w) {activation = "Relu"} : float32[2,2]  # from y, d  # rule fuseddense-activation
  %s = Const() {value = dense<int32[2] [2, 2]>} : int32[2]  # rule static-shape
  return "y" = %y, "s" = %s
}
"""


def test_an_erasure_requeues_the_reader_it_leaves_as_the_only_one() -> None:
    """Relu(d) is tried first and refused (d is also read by Shape); the Shape then folds away, which
    leaves Relu the one reader of d: the driver re-queues it and the activation fuses (before, the
    Relu stayed unfused until the pass ran again)."""
    # Shape of a static value -> its constant (what fold-constants does, written as a rule)
    static_shape = Rule(
        "static-shape",
        op("Shape", any_("x", where=lambda v: v.type.is_static, why="static")),
        lambda ctx, m: ctx.op("Const", [], {"value": np.array(m["x"].type.shape, dtype=np.int32)}),
    )
    from fourier.passes.rules import find_rule

    _, activation = find_rule("fuseddense-activation")
    graph = ir(REQUEUE_BEFORE)
    fired = apply_rules(graph, RuleSet("t", (activation, static_shape)))
    assert fired == {"static-shape": 1, "fuseddense-activation": 1}
    assert str(graph) == str(ir(REQUEUE_EXPECTED))
    assert_same_outputs(ir(REQUEUE_BEFORE), graph)
