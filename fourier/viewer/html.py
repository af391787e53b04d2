"""The HTML pass report: one self-contained file (inline data, script and style; no network).

Python does the work (structural diffs, unified and side-by-side diff rows, the layout of each
drawing, which pass the page opens on, the command that explains a rule); the page's script only
builds the DOM for the pass the user selects, so the file opens quickly however many passes
changed the graph. All text reaches the page as JSON and is put in with ``textContent``, never
parsed as HTML.
"""

from __future__ import annotations

import difflib
import html
import json
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

from fourier.ir.core import count_ops
from fourier.ir.snapshot import NodeView
from fourier.passes.manager import OPT_LEVELS, PipelineReport
from fourier.viewer.changes import PassChange, pass_changes
from fourier.viewer.diff import ADDED, REMOVED, REWRITTEN, SAME, GraphDiff
from fourier.viewer.layout import draw_change

__all__ = ["render_report", "write_report", "report_data", "explain_command", "start_pass"]

CONTEXT = 3  # lines of context in both diff views


def _unified(d: GraphDiff) -> list[list[str]]:
    rows = []
    for line in d.unified(CONTEXT)[2:]:  # drop the ---/+++ header
        kind = "@" if line.startswith("@@") else line[:1]
        rows.append([kind, line if kind == "@" else line[1:]])
    return rows


def _side_by_side(d: GraphDiff) -> list[list[Any]]:
    """Rows [left line no, left text, right line no, right text, kind] per hunk; kind is
    eq / del / ins / chg, or '@' for a hunk header."""
    left = d.before.text.splitlines()
    right = d.aligned_after_text().splitlines()
    rows: list[list[Any]] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT):
        first, last = group[0], group[-1]
        rows.append([None, f"@@ {first[1] + 1}-{last[2]}", None, f"@@ {first[3] + 1}-{last[4]}", "@"])
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [
                    [i + 1, left[i], j + 1, right[j], "eq"] for i, j in zip(range(i1, i2), range(j1, j2))
                ]
                continue
            n = max(i2 - i1, j2 - j1)
            for k in range(n):
                i, j = i1 + k, j1 + k
                lt = [i + 1, left[i]] if i < i2 else [None, ""]
                rt = [j + 1, right[j]] if j < j2 else [None, ""]
                kind = "chg" if (i < i2 and j < j2) else ("del" if i < i2 else "ins")
                rows.append([*lt, *rt, kind])
    return rows


def _why(a: NodeView, b: NodeView, d: GraphDiff) -> list[str]:
    out = []
    if a.op != b.op:
        out.append(f"op {a.op} -> {b.op}")
    if a.attrs != b.attrs:
        out.append("attributes")
    if a.types != b.types:
        out.append(f"type {', '.join(a.types)} -> {', '.join(b.types)}")
    if tuple((d.match.get(p, "?"), i) for p, i in b.inputs) != a.inputs:
        out.append("inputs")
    if a.name != b.name:
        out.append(f"renamed from {a.name}")
    return out


def _own_change(why: list[str]) -> bool:
    """Whether a rewritten node changed itself (op, attributes, type), not only where its inputs
    come from or its name: re-pointed inputs are the consequence of another node's removal."""
    return any(w != "inputs" and not w.startswith("renamed from") for w in why)


def _node_info(
    view: NodeView, status: str, before: NodeView | None, after: NodeView | None
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": view.name,
        "op": view.op,
        "status": status,
        "types": list(view.types),
        "rule": view.rule,
        "origin": list(view.origin) or [view.name],
        "before": before.line if before is not None else None,
        "after": after.line if after is not None else None,
    }
    return info


def _pass_view(c: PassChange) -> dict[str, Any]:
    d = c.diff
    a_nodes, b_nodes = d.before.by_name(), d.after.by_name()
    drawing = draw_change(d)
    nodes: dict[str, dict[str, Any]] = {}
    weight = len(d.removed)
    for name, st in d.status.items():
        b = b_nodes[name]
        a = a_nodes.get(d.match[name]) if name in d.match else None
        if st == SAME and not any(n["node"] == name for n in drawing.nodes):
            continue
        info = _node_info(b, st, a, b)
        if a is not None and st != SAME:
            info["why"] = _why(a, b, d)
        weight += st == ADDED or (st == REWRITTEN and _own_change(info.get("why", [])))
        nodes[name] = info
    for r in d.removed:
        nodes["-" + r] = _node_info(a_nodes[r], REMOVED, a_nodes[r], None)
    return {
        "summary": d.summary(),
        "weight": weight,
        "structural": d.changed,
        "unified": _unified(d),
        "side": _side_by_side(d),
        "nodes": nodes,
        "graph": drawing.to_json(),
    }


def start_pass(passes: list[dict[str, Any]]) -> int | None:
    """The pass the page opens on: the one that changed the most nodes (added, removed, or
    rewritten in op, attributes or type; a node whose inputs were only re-pointed does not count),
    the earlier on a tie. None when no pass changed the graph."""
    changed = [p for p in passes if p.get("weight") is not None]
    if not changed:
        return None
    return int(max(changed, key=lambda p: (p["weight"], -p["index"]))["index"])


def explain_command(source: str, pipeline: str, rule: str | None = None, node: str | None = None) -> str:
    """The ``fourier opt`` command that says why ``rule`` fired at ``node``, for the model at
    ``source`` (made absolute when it exists, so the command runs from any directory; ``MODEL``
    when unknown) run through ``pipeline`` (``-p`` only when it is not the -O2 default). Without
    ``rule`` and ``node``: the command's start, which the page completes per node."""
    model = "MODEL"
    if source:
        path = Path(source).expanduser()
        model = shlex.quote(str(path.resolve() if path.exists() else path))
    cmd = f"fourier opt {model}"
    if pipeline != OPT_LEVELS[2]:
        cmd += f" -p {shlex.quote(pipeline)}"
    if rule is not None:
        cmd += f" --explain-rule {shlex.quote(rule)}"
    if node is not None:
        cmd += f" --at {shlex.quote(node)}"
    return cmd


def report_data(
    report: PipelineReport, title: str, source: str = "", changes: list[PassChange] | None = None
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (``changes``: `pass_changes` of the report,
    if the caller has them already)."""
    from fourier import __version__

    if changes is None:
        changes = pass_changes(report)
    by_index = {c.record.index: c for c in changes}
    passes, views = [], {}
    for r in report.records:
        c = by_index.get(r.index)
        entry: dict[str, Any] = {
            "index": r.index + 1,
            "name": r.name,
            "options": r.options,
            "ms": round(r.seconds * 1e3, 3),
            "ops_before": count_ops(r.ops_before),
            "ops_after": count_ops(r.ops_after),
            "nodes_before": r.nodes_before,
            "nodes_after": r.nodes_after,
            "stats": r.stats,
            "changed": c is not None and c.diff.changed,
        }
        if c is not None:
            d = c.diff
            entry.update(added=len(d.added), removed=len(d.removed), rewritten=len(d.rewritten))
            views[str(r.index + 1)] = _pass_view(c)
            entry["weight"] = views[str(r.index + 1)]["weight"]
        passes.append(entry)
    final = changes[-1].record.snapshot if changes else report.before
    assert final is not None
    touched: dict[str, int] = {}
    for c in changes:
        for name, st in c.diff.status.items():
            if st != SAME:
                touched[name] = c.record.index + 1
    first, last = (
        report.records[0] if report.records else None,
        report.records[-1] if report.records else None,
    )
    from fourier.passes.rules import all_rules

    used = {n.rule for c in changes for n in c.diff.after.nodes if n.rule}
    rules = {
        name: {"pass": owner, "doc": rule.doc} for name, (owner, rule) in all_rules().items() if name in used
    }
    return {
        "title": title,
        "source": source,
        "start": start_pass(passes),
        "explain": explain_command(source, report.pipeline),
        "rules": rules,
        "fourier": __version__,
        "pipeline": report.pipeline,
        "ops_before": count_ops(first.ops_before) if first else None,
        "ops_after": count_ops(last.ops_after) if last else None,
        "ms": round(report.seconds * 1e3, 3),
        "passes": passes,
        "views": views,
        "final": [
            {
                "name": n.name,
                "op": n.op,
                "rule": n.rule,
                "origin": list(n.origin) or [n.name],
                "pass": touched.get(n.name),
                "line": n.line,
            }
            for n in final.nodes
        ],
    }


def _asset(name: str) -> str:
    return resources.files("fourier.viewer").joinpath("static", name).read_text(encoding="utf-8")


def render_report(
    report: PipelineReport, title: str, source: str = "", changes: list[PassChange] | None = None
) -> str:
    """The report page as one HTML string."""
    data = json.dumps(report_data(report, title, source, changes), separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        '<meta name=viewport content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)} - Fourier passes</title>\n"
        # No network: nothing may load from anywhere but this file.
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
        f"<style>\n{_asset('report.css')}</style>\n</head>\n<body>\n"
        f'<script type="application/json" id="fourier-data">{data}</script>\n'
        f"<script>\n{_asset('report.js')}</script>\n</body>\n</html>\n"
    )


def write_report(
    report: PipelineReport,
    path: str | Path,
    title: str,
    source: str = "",
    changes: list[PassChange] | None = None,
) -> Path:
    """Write the report page to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(report, title, source, changes), encoding="utf-8")
    return path
