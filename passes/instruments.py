"""Pass instruments: hooks the pass manager calls around every pass (TVM's ``PassInstrument``).

Nothing a pipeline measures or checks lives inside a pass or inside the manager's loop: each
concern is an instrument with some of the hooks `PassInstrument` defines, and fills in its part of
the pass's `PassRecord`.

- `OpCounts`: node and op counts before and after (always installed);
- `Timing`: the seconds the pass itself took (always installed, innermost);
- `Verify`: the IR verifier after every pass;
- `Snapshots`: the IR after every pass, kept in the report for the passes that changed it (the
  diff viewer's input);
- `CheckChanged`: a pass that says "unchanged" really left the IR text alone, and vice versa;
- `Reproducer`: when a pass fails, writes the pipeline's input and the pipeline up to the failing
  pass to a directory that ``fourier opt DIR`` replays.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourier.ir.core import Graph
from fourier.ir.saved import SavedGraph, save_graph
from fourier.ir.snapshot import Snapshot, take_snapshot
from fourier.ir.verifier import verify
from fourier.passes.base import Pass, PassError
from fourier.passes.reproducer import write_reproducer

__all__ = [
    "PassRecord",
    "PipelineReport",
    "PassInstrument",
    "OpCounts",
    "Timing",
    "Verify",
    "Snapshots",
    "CheckChanged",
    "Reproducer",
]


@dataclass
class PassRecord:
    """One pass run: time, node and op counts before and after, stats, IR after (if it changed)."""

    index: int
    name: str
    options: str
    seconds: float
    changed: bool
    nodes_before: int
    nodes_after: int
    ops_before: dict[str, int]
    ops_after: dict[str, int]
    stats: dict[str, int]
    ir_after: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # the pass's decisions (PassResult.details)
    snapshot: Snapshot | None = field(default=None, repr=False)  # the graph after, if it changed

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "snapshot"}


@dataclass
class PipelineReport:
    """Everything the instruments saw: the input IR and one record per pass."""

    pipeline: str
    ir_before: str | None
    records: list[PassRecord]
    before: Snapshot | None = field(default=None, repr=False)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "ir_before": self.ir_before,
            "records": [r.to_json() for r in self.records],
        }


class PassInstrument:
    """Hooks around a pipeline and each of its passes; an instrument overrides the ones it needs.

    The manager calls ``before_pass`` hooks in the order the instruments are installed and
    ``after_pass`` and ``on_failure`` hooks in reverse order, so instruments nest like ``with``
    blocks: the last one installed (`Timing`) is closest to the pass. A hook that raises fails
    the pass, as the pass raising would (that is how `Verify` and `CheckChanged` refuse).
    """

    def enter_pipeline(self, graph: Graph, report: PipelineReport) -> None:
        """The pipeline is about to run on ``graph``; ``report`` is what it will return."""

    def before_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        """Pass ``p`` is about to run; ``record`` is its entry in the report."""

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        """Pass ``p`` returned; ``record.changed`` and ``record.stats`` are what it said it did."""

    def on_failure(self, p: Pass, graph: Graph, error: Exception) -> str:
        """Pass ``p``, or a hook after it, raised ``error``: returns a note for the error message, or ''."""
        return ""


class OpCounts(PassInstrument):
    """Node and op counts before and after each pass."""

    def before_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        record.nodes_before, record.ops_before = len(graph.nodes), graph.op_counts()

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        record.nodes_after, record.ops_after = len(graph.nodes), graph.op_counts()


class Timing(PassInstrument):
    """The wall-clock seconds of each pass, without the instruments installed before it."""

    def __init__(self) -> None:
        self._start = 0.0

    def before_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        self._start = time.perf_counter()

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        record.seconds = time.perf_counter() - self._start


class Verify(PassInstrument):
    """The IR verifier after every pass: a pass that leaves a broken graph fails."""

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        verify(graph)


class Snapshots(PassInstrument):
    """The IR before the pipeline and after every pass.

    With ``keep`` the report holds the input IR and, for each pass that changed the graph, the IR
    after it. The snapshot after a pass is taken once, however many instruments ask for it
    (`current`); `CheckChanged` reads it from here.
    """

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.before: Snapshot | None = None  # the IR the running pass started from
        self._latest: Snapshot | None = None
        self._taken = False  # whether _latest is the IR after the running pass

    def enter_pipeline(self, graph: Graph, report: PipelineReport) -> None:
        self._latest, self._taken = take_snapshot(graph), True
        if self.keep:
            report.ir_before, report.before = self._latest.text, self._latest

    def before_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        self.before, self._taken = self._latest, False

    def current(self, graph: Graph) -> Snapshot:
        """The IR after the pass that just ran."""
        if not self._taken or self._latest is None:
            self._latest, self._taken = take_snapshot(graph), True
        return self._latest

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        snap = self.current(graph)
        if self.keep and record.changed:
            record.ir_after, record.snapshot = snap.text, snap


class CheckChanged(PassInstrument):
    """A pass's claim that it changed the graph (or did not) must agree with the IR text.

    Reads the IR from ``snapshots`` when given (an instrument installed beside it, so the text is
    printed once per pass), else keeps its own.
    """

    def __init__(self, snapshots: Snapshots | None = None) -> None:
        self._own = snapshots is None
        self.snapshots = Snapshots(keep=False) if snapshots is None else snapshots

    def enter_pipeline(self, graph: Graph, report: PipelineReport) -> None:
        if self._own:
            self.snapshots.enter_pipeline(graph, report)

    def before_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        if self._own:
            self.snapshots.before_pass(p, graph, record)

    def after_pass(self, p: Pass, graph: Graph, record: PassRecord) -> None:
        before = self.snapshots.before
        really = before is None or self.snapshots.current(graph).text != before.text
        if really != record.changed:
            claim = "changed" if record.changed else "unchanged"
            raise PassError(f"{p} reported the graph {claim}, but its IR text says otherwise")


class Reproducer(PassInstrument):
    """When a pass fails, writes a reproducer of it to ``directory`` (`fourier.passes.reproducer`)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._input: SavedGraph | None = None
        self._report: PipelineReport | None = None

    def enter_pipeline(self, graph: Graph, report: PipelineReport) -> None:
        self._input, self._report = save_graph(graph), report

    def on_failure(self, p: Pass, graph: Graph, error: Exception) -> str:
        if self._input is None or self._report is None:
            return ""
        ran = [r.name + r.options for r in self._report.records]
        write_reproducer(self.directory, self._input, ",".join([*ran, str(p)]))
        return f"reproducer written to {self.directory} (replay: fourier opt {self.directory})"
