"""The compiler's public API beyond `compile`: optimize a graph, explain a rule, list the passes.

Every ``fourier`` command is one of these calls plus rendering (`fourier.cli`), so what the CLI
can do a Python user can do too. Errors are phrased in API terms (``pipeline``, ``rule``, ``at``);
the CLI adds its flag names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourier.errors import FourierError
from fourier.ir.core import Graph

__all__ = [
    "Optimized",
    "RuleReport",
    "Inspection",
    "read_model",
    "optimize",
    "explain_rule",
    "list_passes",
    "inspect",
    "import_graph",
    "export_onnx",
]


@dataclass
class Optimized:
    """A graph after a pass pipeline, with the pipeline's report (per-pass time, op counts,
    statistics, and the IR after each pass when snapshots were asked for)."""

    graph: Graph
    report: Any  # fourier.passes.manager.PipelineReport
    pipeline: str
    replayed: str | None = None  # the reproducer directory the graph and pipeline came from


@dataclass
class RuleReport:
    """Why a rewrite rule did or did not match: the pass that owns it, how often it fired on the
    way, and per candidate node an explanation (`fourier.passes.rewrite.Explanation`)."""

    rule: str
    owner: str
    ran: list[str]
    fired: int
    results: list[Any] = field(default_factory=list)
    owner_in_pipeline: bool = True

    @property
    def made(self) -> int:
        """Nodes this rule made (recorded provenance)."""
        return sum(1 for r in self.results if getattr(r, "fired", False))

    @property
    def matching(self) -> int:
        """Candidates the rule matches now (its own rewrites excluded)."""
        return sum(1 for r in self.results if r.matched and not getattr(r, "fired", False))


def read_model(path: str | Path, outputs: Sequence[str] | None = None) -> tuple[Graph, str | None]:
    """A graph file or SavedModel (imported), or a reproducer directory (its input graph and
    the pipeline that failed on it): ``(graph, reproducer pipeline or None)``."""
    from fourier.importer import load_graph
    from fourier.passes.manager import read_reproducer

    p = Path(path)
    if p.is_dir() and (p / "pipeline.txt").exists():
        return read_reproducer(p)
    return load_graph(p, list(outputs) if outputs else None), None


def _pipeline_text(pipeline: str | None, opt_level: int | None, replay: str | None) -> str:
    from fourier.passes.manager import OPT_LEVELS

    if pipeline is not None:
        return pipeline
    if replay is not None and opt_level is None:
        return replay
    level = 2 if opt_level is None else opt_level
    if level not in OPT_LEVELS:
        raise FourierError(f"opt_level must be one of {sorted(OPT_LEVELS)}, got {opt_level}")
    return str(OPT_LEVELS[level])


def optimize(
    model: str | Path | Graph,
    pipeline: str | None = None,
    *,
    opt_level: int | None = None,
    outputs: Sequence[str] | None = None,
    verify: bool = True,
    snapshots: bool = False,
    reproducer: str | Path | None = None,
) -> Optimized:
    """Run a pass pipeline (text, e.g. ``"prune,fold-constants,cse"``; default the passes of
    ``opt_level``, 2 unless given, or a reproducer's own pipeline) on ``model`` (a path, a
    reproducer directory, or a `Graph`, changed in place)."""
    from fourier.ir.verifier import verify as verify_graph
    from fourier.passes.manager import PassManager, parse_pipeline

    replay = None
    if isinstance(model, Graph):
        graph = model
    else:
        graph, replay = read_model(model, outputs)
    verify_graph(graph)
    text = _pipeline_text(pipeline, opt_level, replay)
    report = PassManager(parse_pipeline(text), verify=verify, snapshots=snapshots, reproducer=reproducer).run(
        graph
    )
    return Optimized(graph, report, text, str(model) if replay is not None else None)


def explain_rule(
    model: str | Path | Graph,
    rule: str,
    at: str | None = None,
    *,
    pipeline: str | None = None,
    opt_level: int | None = None,
    outputs: Sequence[str] | None = None,
) -> RuleReport:
    """Run the pipeline up to the pass that owns ``rule``, then say for each candidate node (or
    only node ``at``, a graph node or an original TF node name) why the rule does or does not
    match there, and which nodes it made."""
    from fourier.passes.manager import PassManager, parse_pipeline
    from fourier.passes.rewrite import explain_rule as explain
    from fourier.passes.rules import find_rule

    replay = None
    if isinstance(model, Graph):
        graph = model
    else:
        graph, replay = read_model(model, outputs)
    owner, found = find_rule(rule)
    upto = []
    in_pipeline = False
    for p in parse_pipeline(_pipeline_text(pipeline, opt_level, replay)):
        upto.append(p)
        if p.name == owner:
            in_pipeline = True
            break
    report = PassManager(upto).run(graph)
    fired = sum(r.stats.get(found.name, 0) for r in report.records if r.name == owner)
    return RuleReport(
        found.name, owner, [p.name for p in upto], fired, explain(graph, found, at), in_pipeline
    )


def list_passes() -> dict[str, str]:
    """Every pass a pipeline can name, with its one-line summary."""
    from fourier.passes.manager import all_passes

    return {name: cls.summary for name, cls in all_passes().items()}


@dataclass
class Inspection:
    """A verified artifact: its manifest (every file's sha256 checked, the manifest checked
    against the modules it describes) and its digest (for ``fourier.load(..., digest=)``)."""

    manifest: Any  # fourier.artifact.Manifest
    digest: str


def inspect(path: str | Path) -> Inspection:
    """Verify an artifact without loading it: hashes, then the manifest against its modules."""
    from fourier.artifact import artifact_digest, read_manifest
    from fourier.artifact_check import check_artifact

    manifest = read_manifest(Path(path), verify=True)
    check_artifact(Path(path), manifest)
    return Inspection(manifest, artifact_digest(Path(path)))


def import_graph(path: str | Path, outputs: Sequence[str] | None = None) -> Graph:
    """Import a graph file or SavedModel into the IR, verified."""
    from fourier.importer import load_graph
    from fourier.ir.verifier import verify

    graph = load_graph(Path(path), list(outputs) if outputs else None)
    verify(graph)
    return graph


def export_onnx(
    model: str | Path,
    out: str | Path,
    *,
    opt_level: int = 2,
    outputs: Sequence[str] | None = None,
    batch: int | None = None,
    opset: int = 17,
) -> Path:
    """Fourier's optimized graph of ``model`` as a standalone ONNX file (for ONNX Runtime or
    TensorRT users): imported, optimized at ``opt_level``, exported with the batch symbolic (or
    static at ``batch``)."""
    from fourier.backends.onnx_export import export_onnx as _export
    from fourier.compiler import import_model

    optimized = import_model(model, outputs).optimize(opt_level=opt_level)
    proto = _export(optimized.graph, opset=opset, batch=batch)
    path = Path(out)
    path.write_bytes(proto.SerializeToString())
    return path
