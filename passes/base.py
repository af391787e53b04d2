"""What a pass is: a frozen dataclass whose fields are its options, and what it returns.

``fold-constants{max-elements=4096}`` is ``FoldConstants(max_elements=4096)``; ``run`` mutates the
graph through a rewriter and returns a `PassResult` saying whether it changed anything and what
it did. The library of passes and pipelines written as text are in `fourier.passes.library`, the
manager that runs them with instruments in `fourier.passes.manager`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fourier.errors import FourierError
from fourier.ir.core import Graph

__all__ = ["Pass", "PassResult", "PassError", "PipelineError"]


class PipelineError(FourierError, ValueError):
    """A pipeline text names an unknown pass or option, or gives an option a bad value."""


class PassError(FourierError):
    """A pass failed; names the pass, the passes before it, and the reproducer if one was written."""


@dataclass
class PassResult:
    """What a pass did: whether the graph changed, and counts (rules fired, nodes folded, ...)."""

    changed: bool
    stats: Counter[str] = field(default_factory=Counter)
    details: dict[str, Any] = field(default_factory=dict)  # what a pass decided, as JSON (hoisting's plan)


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
