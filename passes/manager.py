"""The pass manager: named passes with typed options, pipelines written as text, instruments.

A pass is a frozen dataclass whose fields are its options (``fold-constants{max-elements=4096}``
sets ``max_elements``); ``run`` mutates the graph through a rewriter and returns a `PassResult`
saying whether it changed anything and what it did. The manager runs a pipeline and calls its
instruments around every pass: timing, op counts, verification, IR snapshots (the diff viewer's
input), and a check that a pass which says "unchanged" really left the IR alone.

A pass that raises is reported with its name and the passes that ran before it; with a
reproducer directory the pipeline's input and the pipeline text are written there so that
``fourier opt DIR`` replays the failure.
"""

from __future__ import annotations

import dataclasses
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fourier.errors import CompileError, FourierError, InferenceError
from fourier.ir.core import Graph, Node
from fourier.ir.snapshot import Snapshot

__all__ = [
    "Pass",
    "PassResult",
    "PassError",
    "PipelineError",
    "PassRecord",
    "PipelineReport",
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


class PipelineError(FourierError, ValueError):
    """A pipeline text names an unknown pass or option, or gives an option a bad value."""


class PassError(FourierError):
    """A pass failed; names the pass, the passes before it, and the reproducer if one was written."""


@dataclass
class PassResult:
    """What a pass did: whether the graph changed, and counts (rules fired, nodes folded, ...)."""

    changed: bool
    stats: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Pass:
    """Base of passes. Subclasses set ``name`` and ``summary`` and implement ``run``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def run(self, graph: Graph) -> PassResult:
        raise NotImplementedError

    def options_text(self) -> str:
        """``{k=v,...}`` for options that differ from their defaults, else empty."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                parts.append(f"{f.name.replace('_', '-')}={_format_option(value)}")
        return "{" + ",".join(parts) + "}" if parts else ""

    def __str__(self) -> str:
        return self.name + self.options_text()


def _format_option(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_PASSES: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make a pass available to pipelines by its kebab-case name."""
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", cls.name):
        raise ValueError(f"pass name {cls.name!r} is not kebab-case")
    if cls.name in _PASSES:
        raise ValueError(f"pass {cls.name} registered twice")
    _PASSES[cls.name] = cls
    return cls


def all_passes() -> dict[str, type[Pass]]:
    """Every registered pass by name."""
    import fourier.passes.library  # noqa: F401  (registers the passes)

    return dict(sorted(_PASSES.items()))


def _convert(cls: type[Pass], key: str, raw: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    attr = key.replace("-", "_")
    if attr not in fields:
        known = ", ".join(f.name.replace("_", "-") for f in fields.values()) or "none"
        raise PipelineError(f"pass {cls.name!r} has no option {key!r} (options: {known})")
    kind = fields[attr].type
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name == "bool":
            if raw not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw in ("true", "1")
        if kind_name == "int":
            return int(raw)
        if kind_name == "float":
            return float(raw)
        return raw
    except ValueError:
        raise PipelineError(f"pass {cls.name!r} option {key!r}: {raw!r} is not a {kind_name}") from None


def parse_pipeline(text: str) -> list[Pass]:
    """``"prune,fold-constants{max-elements=4096},cse"`` -> pass instances."""
    registry = all_passes()
    passes: list[Pass] = []
    for item in re.findall(r"[^,{]+(?:\{[^}]*\})?", text.replace(" ", "").replace("\n", "")):
        m = re.fullmatch(r"([a-z0-9-]+)(?:\{([^}]*)\})?", item)
        if not m:
            raise PipelineError(f"cannot parse pipeline element {item!r}")
        name, opts = m.group(1), m.group(2)
        if name not in registry:
            raise PipelineError(f"unknown pass {name!r}; known passes: {', '.join(registry)}")
        cls = registry[name]
        kwargs = {}
        for kv in filter(None, (opts or "").split(",")):
            if "=" not in kv:
                raise PipelineError(f"pass {name!r}: option {kv!r} needs a value (key=value)")
            k, v = kv.split("=", 1)
            kwargs[k.replace("-", "_")] = _convert(cls, k, v)
        passes.append(cls(**kwargs))
    return passes


def pipeline_text(passes: Sequence[Pass]) -> str:
    """The text that `parse_pipeline` turns back into ``passes``."""
    return ",".join(str(p) for p in passes)


# Optimization levels of `fourier compile -O<n>`.
OPT_LEVELS: dict[int, str] = {
    0: "",
    1: "strip-identity,prune,fold-constants,cse,simplify,prune",
    2: (
        "strip-identity,prune,fold-constants,cse,simplify,"
        "recognize,fold-batchnorm,fuse-dense,fuse-conv,conv-algorithm,"
        "embedding-bag,fuse-tables,cse,simplify,fuse-gathers,fuse-horizontal,"
        "fold-constants,cse,simplify,fuse-elementwise,prune"
    ),
}


def pipeline_for_level(level: int) -> list[Pass]:
    """The passes of optimization level ``level`` (0, 1 or 2)."""
    if level not in OPT_LEVELS:
        raise PipelineError(f"optimization level {level} does not exist (levels: {sorted(OPT_LEVELS)})")
    return parse_pipeline(OPT_LEVELS[level])


# -- instruments and records ----------------------------------------------------------------------


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


class PassManager:
    """Runs passes in order with instruments; `run` returns a `PipelineReport`."""

    def __init__(
        self,
        passes: Sequence[Pass],
        *,
        verify: bool = False,
        snapshots: bool = False,
        check_changed: bool = False,
        reproducer: str | Path | None = None,
        on_pass: Callable[[PassRecord], None] | None = None,
    ) -> None:
        self.passes = list(passes)
        self.verify = verify
        self.snapshots = snapshots
        self.check_changed = check_changed or verify
        self.reproducer = Path(reproducer) if reproducer is not None else None
        self.on_pass = on_pass

    @property
    def pipeline(self) -> str:
        return pipeline_text(self.passes)

    def run(self, graph: Graph) -> PipelineReport:
        """Run the pipeline on ``graph`` in place; the report holds what the instruments saw."""
        import gc

        # The IR is many small objects that live as long as the graph; the cyclic collector
        # rescanning them while passes allocate made a 100k-node pipeline 2x slower.
        from fourier.ir.printer import digest_cache

        enabled = gc.isenabled()
        gc.disable()
        try:
            with digest_cache():
                return self._run(graph)
        finally:
            if enabled:
                gc.enable()

    def _failed(self, p: Any, i: int, e: Exception, report: PipelineReport, saved: Any) -> PassError:
        """The PassError for pass ``p`` (the ``i``-th) raising ``e``; writes the reproducer."""
        ran = ", ".join(r.name for r in report.records) or "none"
        where = ""
        if saved is not None and self.reproducer is not None:
            write_reproducer(self.reproducer, saved, self.passes[: i + 1])
            where = f"; reproducer written to {self.reproducer} (replay: fourier opt {self.reproducer})"
        detail = str(e) if isinstance(e, FourierError) else f"{type(e).__name__}: {e}"
        tb = "" if isinstance(e, FourierError) else "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
        return PassError(
            f"pass {p} (#{i + 1} of {len(self.passes)}) failed: {detail}; passes run before it: {ran}{where}{tb}"
        )

    def _run(self, graph: Graph) -> PipelineReport:
        from fourier.ir.snapshot import take_snapshot
        from fourier.ir.verifier import verify

        need_text = self.snapshots or self.check_changed
        snap = take_snapshot(graph) if need_text else None
        text = snap.text if snap is not None else None
        saved = _capture(graph) if self.reproducer is not None else None
        report = PipelineReport(self.pipeline, text if self.snapshots else None, [])
        report.before = snap if self.snapshots else None
        for i, p in enumerate(self.passes):
            before_nodes, before_ops = len(graph.nodes), graph.op_counts()
            t0 = time.perf_counter()
            try:
                result = p.run(graph)
                if self.verify:
                    verify(graph)
            except InferenceError as e:
                node = e.node
                if isinstance(node, Node) and node.rule is None and node.origin:
                    # A node of the user's graph that its op rejects once a pass made more of its
                    # inputs known (an axis computed by ops import does not evaluate): bad input.
                    raise CompileError(
                        f"{graph.source or 'the graph'}: {e} (found once pass {p} made its inputs known)"
                    ) from e
                raise self._failed(p, i, e, report, saved) from e
            except Exception as e:
                raise self._failed(p, i, e, report, saved) from e
            seconds = time.perf_counter() - t0
            after_text = None
            if need_text:
                snap = take_snapshot(graph)
                after_text = snap.text
                really = after_text != text
                if self.check_changed and really != result.changed:
                    claim = "changed" if result.changed else "unchanged"
                    raise PassError(f"pass {p} reported the graph {claim}, but its IR text says otherwise")
                text = after_text
            record = PassRecord(
                index=i,
                name=p.name,
                options=p.options_text(),
                seconds=seconds,
                changed=result.changed,
                nodes_before=before_nodes,
                nodes_after=len(graph.nodes),
                ops_before=before_ops,
                ops_after=graph.op_counts(),
                stats=dict(sorted(result.stats.items())),
                ir_after=after_text if (self.snapshots and result.changed) else None,
                snapshot=snap if (self.snapshots and result.changed) else None,
            )
            report.records.append(record)
            if self.on_pass:
                self.on_pass(record)
        return report


# -- reproducers ----------------------------------------------------------------------------------


@dataclass
class _Saved:
    text: str
    constants: dict[str, np.ndarray]


def _capture(graph: Graph) -> _Saved:
    from fourier.ir.printer import INLINE_CONST_ELEMENTS, print_graph

    consts = {
        n.name: n.attrs["value"]
        for n in graph.nodes
        if n.op == "Const" and n.attrs["value"].size > INLINE_CONST_ELEMENTS
    }
    return _Saved(print_graph(graph), consts)


def write_reproducer(directory: Path, saved: _Saved | Graph, passes: Sequence[Pass]) -> Path:
    """Write ``pipeline.txt``, ``input.fir`` and ``constants.safetensors`` into ``directory``."""
    from safetensors.numpy import save_file

    if isinstance(saved, Graph):
        saved = _capture(saved)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pipeline.txt").write_text(pipeline_text(passes) + "\n")
    (directory / "input.fir").write_text(saved.text)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in saved.constants.items()},
        str(directory / "constants.safetensors"),
    )
    return directory


def read_reproducer(directory: Path) -> tuple[Graph, str]:
    """The input graph and pipeline text of a reproducer directory."""
    from safetensors.numpy import load_file

    from fourier.ir.parser import parse_graph

    consts = load_file(str(directory / "constants.safetensors"))
    graph = parse_graph((directory / "input.fir").read_text(), consts)
    return graph, (directory / "pipeline.txt").read_text().strip()
