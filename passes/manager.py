"""The pass manager: runs a pipeline, calling its instruments around every pass.

The loop is short: for each pass, the instruments' ``before_pass`` hooks, the pass, their
``after_pass`` hooks, and the pass's record in the report. What a run measures and checks
(timing, op counts, verification, IR snapshots for the diff viewer, the changed-claim check,
reproducers) are instruments (`fourier.passes.instruments`); the manager's flags install them.

A pass that raises, or whose instruments refuse it, is reported with its name and the passes that
ran before it; with a reproducer directory the pipeline's input and the pipeline text are written
there so that ``fourier opt DIR`` replays the failure.

The names of the pass library (`fourier.passes.library`), of the instruments and of reproducers
are importable from here too.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from fourier.errors import CompileError, FourierError, InferenceError
from fourier.ir.core import Graph, Node
from fourier.ir.printer import digest_cache
from fourier.passes.base import Pass, PassError, PassResult, PipelineError
from fourier.passes.instruments import (
    CheckChanged,
    OpCounts,
    PassInstrument,
    PassRecord,
    PipelineReport,
    Reproducer,
    Snapshots,
    Timing,
    Verify,
)
from fourier.passes.library import (
    OPT_LEVELS,
    all_passes,
    parse_pipeline,
    pipeline_for_level,
    pipeline_text,
    register_pass,
)
from fourier.passes.reproducer import read_reproducer, write_reproducer

__all__ = [
    "Pass",
    "PassResult",
    "PassError",
    "PipelineError",
    "PassRecord",
    "PipelineReport",
    "PassInstrument",
    "PassManager",
    "register_pass",
    "all_passes",
    "parse_pipeline",
    "pipeline_text",
    "OPT_LEVELS",
    "pipeline_for_level",
    "write_reproducer",
    "read_reproducer",
]


class PassManager:
    """Runs passes in order with instruments; `run` returns a `PipelineReport`.

    The flags install instruments: ``verify`` the IR verifier and the changed-claim check after
    every pass, ``check_changed`` the check alone, ``snapshots`` the IR after every pass that
    changed the graph (kept in the report), ``reproducer`` a reproducer written to that directory
    when a pass fails. ``instruments`` are installed after those, and `OpCounts` and `Timing`
    always. ``on_pass`` is called with each pass's finished record.
    """

    def __init__(
        self,
        passes: Sequence[Pass],
        *,
        verify: bool = False,
        snapshots: bool = False,
        check_changed: bool = False,
        reproducer: str | Path | None = None,
        on_pass: Callable[[PassRecord], None] | None = None,
        instruments: Sequence[PassInstrument] = (),
    ) -> None:
        self.passes = list(passes)
        self.verify = verify
        self.snapshots = snapshots
        self.check_changed = check_changed or verify
        self.reproducer = Path(reproducer) if reproducer is not None else None
        self.on_pass = on_pass
        self.instruments = list(instruments)

    @property
    def pipeline(self) -> str:
        return pipeline_text(self.passes)

    def installed(self) -> list[PassInstrument]:
        """The instruments of one run, outermost first: the flags' and ``instruments``, fresh each run."""
        out: list[PassInstrument] = [OpCounts()]
        if self.reproducer is not None:
            out.append(Reproducer(self.reproducer))
        if self.snapshots or self.check_changed:
            snapshots = Snapshots(keep=self.snapshots)
            out.append(snapshots)
            if self.check_changed:
                out.append(CheckChanged(snapshots))
        if self.verify:
            out.append(Verify())
        return [*out, *self.instruments, Timing()]

    def run(self, graph: Graph) -> PipelineReport:
        """Run the pipeline on ``graph`` in place; the report holds what the instruments saw."""
        # The IR is many small objects that live as long as the graph; the cyclic collector
        # rescanning them while passes allocate made a 100k-node pipeline 2x slower.
        enabled = gc.isenabled()
        gc.disable()
        try:
            with digest_cache():
                return self._run(graph, self.installed())
        finally:
            if enabled:
                gc.enable()

    def _run(self, graph: Graph, instruments: list[PassInstrument]) -> PipelineReport:
        report = PipelineReport(self.pipeline, None, [])
        for ins in instruments:
            ins.enter_pipeline(graph, report)
        for i, p in enumerate(self.passes):
            record = PassRecord(
                index=i,
                name=p.name,
                options=p.options_text(),
                seconds=0.0,  # the instruments fill in what they measure
                changed=False,
                nodes_before=0,
                nodes_after=0,
                ops_before={},
                ops_after={},
                stats={},
            )
            for ins in instruments:
                ins.before_pass(p, graph, record)
            try:
                result = p.run(graph)
                record.changed, record.stats = result.changed, dict(sorted(result.stats.items()))
                record.details = dict(result.details)
                for ins in reversed(instruments):
                    ins.after_pass(p, graph, record)
            except Exception as e:
                raise self._failed(p, i, graph, e, report, instruments) from e
            report.records.append(record)
            if self.on_pass:
                self.on_pass(record)
        return report

    def _failed(
        self,
        p: Pass,
        i: int,
        graph: Graph,
        e: Exception,
        report: PipelineReport,
        instruments: list[PassInstrument],
    ) -> Exception:
        """The error to raise for pass ``p`` (the ``i``-th) raising ``e``, after the failure hooks."""
        if isinstance(e, InferenceError):
            node = e.node
            if isinstance(node, Node) and node.rule is None and node.origin:
                # A node of the user's graph that its op rejects once a pass made more of its
                # inputs known (an axis computed by ops import does not evaluate): bad input.
                return CompileError(
                    f"{graph.source or 'the graph'}: {e} (found once pass {p} made its inputs known)"
                )
        notes = [note for ins in reversed(instruments) if (note := ins.on_failure(p, graph, e))]
        ran = ", ".join(r.name for r in report.records) or "none"
        detail = str(e) if isinstance(e, FourierError) else f"{type(e).__name__}: {e}"
        tb = "" if isinstance(e, FourierError) else "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
        where = "".join(f"; {note}" for note in notes)
        return PassError(
            f"pass {p} (#{i + 1} of {len(self.passes)}) failed: {detail}; passes run before it: {ran}{where}{tb}"
        )
