"""``fourier diff``: a table of passes, then a unified diff of the IR for each pass that changed it.

Colour only when the output is a terminal (rich decides); piped output is plain text.
"""

from __future__ import annotations

import difflib
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fourier.ir.core import count_ops
from fourier.passes.manager import PipelineReport

__all__ = ["pass_table", "pass_diffs", "unified_diff"]


def unified_diff(before: str, after: str, name: str, context: int = 2) -> list[str]:
    """Unified diff lines of two IR texts."""
    return list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"before {name}", f"after {name}", n=context, lineterm=""
        )
    )


def pass_table(report: PipelineReport) -> Table:
    """One row per pass: time, ops before -> after, changed, what it did."""
    table = Table(title=f"pipeline: {report.pipeline or '(empty)'}")
    for col in ("#", "pass", "ms", "ops", "changed", "what it did"):
        table.add_column(col, overflow="fold")
    for r in report.records:
        did = ", ".join(f"{k}: {v}" for k, v in r.stats.items())
        table.add_row(
            str(r.index + 1),
            r.name + r.options,
            f"{r.seconds * 1e3:.1f}",
            f"{count_ops(r.ops_before)} -> {count_ops(r.ops_after)}",
            "yes" if r.changed else "no",
            did,
        )
    return table


def pass_diffs(console: Console, report: PipelineReport, only: str | None = None, context: int = 2) -> int:
    """Print the IR diff of every pass that changed the graph (or only pass ``only``); returns how many."""
    previous = report.ir_before or ""
    shown = 0
    for r in report.records:
        if r.ir_after is None:
            continue
        if only is None or r.name == only or f"{r.index + 1}" == only:
            console.print(Text(f"=== pass {r.index + 1}: {r.name}{r.options} ===", style="bold"))
            for line in unified_diff(previous, r.ir_after, f"{r.index + 1} {r.name}", context):
                console.print(_style(line), soft_wrap=True)
            shown += 1
        previous = r.ir_after
    return shown


def _style(line: str) -> Any:
    if line.startswith(("+++", "---")):
        return Text(line, style="bold")
    if line.startswith("+"):
        return Text(line, style="green")
    if line.startswith("-"):
        return Text(line, style="red")
    if line.startswith("@@"):
        return Text(line, style="cyan")
    return Text(line)
