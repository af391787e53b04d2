"""Independence analysis: does padding a symbolic dimension leave the real results unchanged?

Padding a request to a compiled shape is only correct when every output element depends on the
inputs at its own index of the padded dimension and on nothing else: not on other rows, not on the
padded size. This analysis proves that over the IR, for one symbol at a time (``N``, the batch, or
a sequence symbol such as ``S``), or names the nodes that break it.

It walks the graph once, giving each value a state of the lattice in `fourier.ops.padding`
(``free``, ``size``, ``rows`` along an axis, or ``mixed`` with the nodes to blame). Per-op
knowledge is not kept here: each op's padding rule is a facet of its registry entry, registered
beside the op in its family module or implied by its traits (`fourier.ops.padding.rule_of`). The
analysis itself applies only what holds for every op: a node with a mixed input is mixed, a node
whose outputs are all known at compile time is free unless they hold the symbol's size, an op
without a rule (or whose rule fails on a malformed node) is mixed -- it never guesses -- and an
output is safe when it ends free or as rows along an axis that is exactly the symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fourier.ir.core import Graph, Value
from fourier.ir.types import BATCH
from fourier.ops.padding import (
    PROBE_SIZES,
    Culprit,
    State,
    has_symbol,
    mixed,
    node_states,
    rule_of,
)
from fourier.ops.registry import get_op

__all__ = ["Culprit", "State", "OutputVerdict", "Independence", "analyze", "has_rule", "PROBE_SIZES"]


@dataclass(frozen=True)
class OutputVerdict:
    """Whether padding the symbol is safe for one graph output."""

    name: str
    safe: bool
    axis: int | None  # the output's axis along the symbol (None: the output does not have it)
    culprits: tuple[Culprit, ...] = ()
    reason: str = ""


@dataclass
class Independence:
    """The analysis of one symbol over a graph."""

    symbol: str
    outputs: list[OutputVerdict] = field(default_factory=list)
    states: dict[Value, State] = field(default_factory=dict, repr=False)

    @property
    def safe(self) -> bool:
        return all(o.safe for o in self.outputs)

    @property
    def culprits(self) -> list[Culprit]:
        seen: dict[Culprit, None] = {}
        for o in self.outputs:
            for c in o.culprits:
                seen.setdefault(c, None)
        return list(seen)

    def explain(self) -> str:
        """One line per unsafe output, naming the nodes that break independence."""
        lines = []
        for o in self.outputs:
            if o.safe:
                continue
            where = "; ".join(str(c) for c in o.culprits) or o.reason
            lines.append(f"output {o.name!r}: {where}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "safe": self.safe,
            "outputs": {
                o.name: {"safe": o.safe, "axis": o.axis, "culprits": [str(c) for c in o.culprits]}
                for o in self.outputs
            },
        }


def has_rule(op: str) -> bool:
    """Whether ``op`` has a padding rule, registered or implied by its traits (an op without one
    is refused as mixing)."""
    return rule_of(get_op(op)) is not None


def analyze(graph: Graph, symbol: str = BATCH) -> Independence:
    """Prove (or refute) for each output that padding ``symbol`` leaves its real part unchanged."""
    states: dict[Value, State] = {}
    for node in graph.nodes:
        ins = [states.get(v, mixed(node, "input not analysed")) for v in node.inputs]
        outs = node_states(node, ins, symbol)
        for v, s in zip(node.outputs, outs):
            states[v] = s
    result = Independence(symbol, states=states)
    for name, v in graph.outputs:
        s = states[v]
        t = v.type
        axes = [a for a, d in enumerate(t.shape or ()) if has_symbol(d, symbol)]
        if s.kind == "mixed":
            result.outputs.append(OutputVerdict(name, False, None, s.culprits))
        elif s.kind == "size":
            result.outputs.append(
                OutputVerdict(name, False, None, reason=f"its values depend on the size of {symbol}")
            )
        elif s.kind == "free":
            ok = len(axes) <= 1 and all(t.shape is not None and t.shape[a] == symbol for a in axes)
            reason = "" if ok else f"has {symbol} folded into a dimension ({t})"
            result.outputs.append(OutputVerdict(name, ok, axes[0] if axes else None, reason=reason))
        else:
            ok = s.plain and axes == [s.axis]
            reason = "" if ok else f"{symbol} ends up folded or in a different dimension ({t})"
            result.outputs.append(OutputVerdict(name, ok, s.axis if ok else None, reason=reason))
    return result
