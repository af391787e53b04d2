"""The API is the product and the CLI its face: what a command does, one Python call does.

Before: the bundled MLP example. Expected: `fourier.optimize` returns the optimized graph and
the per-pass report (fewer ops than imported, the pipeline it ran); `fourier.explain_rule` says
which nodes a rule made and why others do not match; `fourier.list_passes` names every pass;
`fourier.api.inspect` verifies an artifact and gives its digest; and `fourier/cli.py` imports no
module of the compiler's internals (importer, passes, IR verifier) itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fourier
from fourier import api

MLP = Path(fourier.__file__).parent / "examples" / "mlp.pb"


def test_optimize_returns_the_graph_and_the_report() -> None:
    imported = fourier.import_graph(MLP)
    result = fourier.optimize(MLP)
    assert result.graph.num_ops() < imported.num_ops()
    assert [r.name for r in result.report.records][:1] and result.pipeline
    assert fourier.optimize(MLP, "strip-identity").pipeline == "strip-identity"


def test_explain_rule_reports_the_nodes_the_rule_made() -> None:
    report = fourier.explain_rule(MLP, "fuseddense-activation")
    assert report.owner == "fuse-dense" and report.owner_in_pipeline
    assert report.fired >= 1 and report.made >= 1
    assert all(r.reason for r in report.results)


def test_list_passes_and_inspect(tmp_path: Path) -> None:
    passes = fourier.list_passes()
    assert {"cse", "fuse-dense", "fold-constants"} <= set(passes)
    assert all(passes[name] for name in ("cse", "fuse-dense", "fold-constants"))
    fourier.compile(MLP, tmp_path / "mlp", buckets=[4])
    found = api.inspect(tmp_path / "mlp")
    assert found.manifest.buckets == [4] and len(found.digest) == 64


def test_the_cli_uses_the_public_api_only() -> None:
    source = (Path(fourier.__file__).parent / "cli.py").read_text()
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fourier")
    }
    internals = {m for m in imported if m.startswith(("fourier.passes", "fourier.importer", "fourier.ir"))}
    assert internals == set(), internals
