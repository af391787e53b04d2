"""The structural change of every pass in a pipeline report (shared by the terminal and HTML views)."""

from __future__ import annotations

from dataclasses import dataclass

from fourier.errors import FourierError
from fourier.passes.manager import PassRecord, PipelineReport
from fourier.viewer.diff import GraphDiff, diff_snapshots

__all__ = ["PassChange", "pass_changes", "select"]


@dataclass
class PassChange:
    record: PassRecord
    diff: GraphDiff

    @property
    def title(self) -> str:
        return f"{self.record.index + 1}: {self.record.name}{self.record.options}"


def pass_changes(report: PipelineReport) -> list[PassChange]:
    """One entry per pass that changed the graph's text, with its structural diff from the graph
    before it. Needs a report made with ``PassManager(..., snapshots=True)``."""
    if report.before is None:
        raise FourierError(
            "the pipeline report has no IR snapshots (run the PassManager with snapshots=True)"
        )
    previous = report.before
    out = []
    for r in report.records:
        if r.snapshot is None:
            continue
        out.append(PassChange(r, diff_snapshots(previous, r.snapshot)))
        previous = r.snapshot
    return out


def select(changes: list[PassChange], only: str | None) -> list[PassChange]:
    """The changes of pass ``only`` (a name or a 1-based position), or all when ``only`` is None."""
    if only is None:
        return changes
    return [c for c in changes if only in (c.record.name, str(c.record.index + 1))]
