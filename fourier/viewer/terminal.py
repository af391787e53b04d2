"""``fourier diff``: a table of passes, then the structural diff of each pass that changed the graph.

The diff is of the IR text with the new graph aligned to the old one (matched nodes under their old
names, in the old order), so renaming or reordering alone shows nothing. Colour only when the
output is a terminal (rich decides); piped output is plain text.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fourier.ir.core import count_ops
from fourier.passes.manager import PipelineReport
from fourier.viewer.changes import PassChange

__all__ = ["pass_table", "print_changes"]


def pass_table(report: PipelineReport, changes: list[PassChange] | None = None) -> Table:
    """One row per pass: time, ops before -> after, changed (with +added -removed ~rewritten
    nodes when ``changes`` are given), and the pass's own stats."""
    table = Table(title=f"pipeline: {report.pipeline or '(empty)'}")
    for col in ("#", "pass", "ms", "ops", "changed", "what it did"):
        table.add_column(col, overflow="fold")
    by_index = {c.record.index: c.diff for c in changes or []}
    for r in report.records:
        did = ", ".join(f"{k}: {v}" for k, v in r.stats.items())
        changed = "yes" if r.changed else "no"
        d = by_index.get(r.index)
        if d is not None:
            changed = (
                f"+{len(d.added)} -{len(d.removed)} ~{len(d.rewritten)}" if d.changed else "names/order only"
            )
        table.add_row(
            str(r.index + 1),
            r.name + r.options,
            f"{r.seconds * 1e3:.1f}",
            f"{count_ops(r.ops_before)} -> {count_ops(r.ops_after)}",
            changed,
            did,
        )
    return table


def print_changes(console: Console, changes: list[PassChange], context: int = 2) -> None:
    """Each pass's structural summary and the unified diff of its aligned IR text."""
    for c in changes:
        console.print(Text(f"=== pass {c.title} ===  {c.diff.summary()}", style="bold"))
        lines = c.diff.unified(context, f"{c.record.index + 1} {c.record.name}")
        if not lines:
            console.print("(no structural change: only names or order)")
        for line in lines:
            console.print(_style(line), soft_wrap=True)


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
