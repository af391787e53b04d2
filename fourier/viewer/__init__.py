"""Seeing what the passes did: the pass table and structural IR diffs in the terminal, and a
self-contained HTML report (``fourier diff``, ``fourier compile --report DIR``)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from fourier.passes.manager import PipelineReport

__all__ = ["write_report_dir"]


def write_report_dir(report: PipelineReport, out: str | Path, title: str, source: str = "") -> list[Path]:
    """Write ``passes.html`` (the interactive report), ``passes.txt`` (the terminal view, plain)
    and ``passes.json`` (per-pass records) into directory ``out``; returns their paths."""
    from fourier.viewer.changes import pass_changes
    from fourier.viewer.html import write_report
    from fourier.viewer.terminal import pass_table, print_changes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    changes = pass_changes(report)
    html = write_report(report, out / "passes.html", title, source, changes)
    text = out / "passes.txt"
    with text.open("w", encoding="utf-8") as f:
        console = Console(file=f, width=160, no_color=True, force_terminal=False, highlight=False)
        console.print(pass_table(report, changes))
        print_changes(console, changes, context=3)
    records = [{k: v for k, v in r.to_json().items() if k != "ir_after"} for r in report.records]
    data = out / "passes.json"
    data.write_text(json.dumps({"pipeline": report.pipeline, "records": records}, indent=1) + "\n")
    return [html, text, data]
