"""The pass manager, the rewrite driver and the rewriter: pipelines, instruments, errors, guards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
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

from fourier.cli import cli
from fourier.ir.core import Graph
from fourier.ir.rewriter import RewriteError, Rewriter
from tests.passes._util import ir

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
