"""Immutable snapshots of a graph: what the pass manager keeps after each pass for the diff viewer.

A snapshot holds, per node, exactly what the text form shows (op, wiring, attributes, types,
origin, rule) as plain strings and tuples, so it stays valid while passes keep rewriting the live
graph, and its `text` is byte-identical to `print_graph` of the graph it was taken from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from fourier.ir.core import Graph
from fourier.ir.printer import format_attrs, format_header, format_node, format_return, join_lines

__all__ = ["NodeView", "Snapshot", "take_snapshot"]

Ref = tuple[str, int]  # (producer node name, output index)


def ref_text(ref: Ref, names: Mapping[str, str] | None = None) -> str:
    name = names.get(ref[0], ref[0]) if names else ref[0]
    return f"%{name}" if ref[1] == 0 else f"%{name}:{ref[1]}"


@dataclass(frozen=True)
class NodeView:
    """One node as the text form shows it."""

    name: str
    op: str
    inputs: tuple[Ref, ...]
    attrs: str  # `format_attrs` text: '' or ' {a = 1, ...}'
    types: tuple[str, ...]  # one per output
    origin: tuple[str, ...]
    rule: str | None
    line: str  # the node's line in the text form

    def render(self, names: Mapping[str, str]) -> str:
        """The node's line with node names replaced through ``names`` (used to align two graphs)."""
        own = names.get(self.name, self.name)
        results = ", ".join(ref_text((own, i)) for i in range(len(self.types)))
        args = ", ".join(ref_text(r, names) for r in self.inputs)
        text = f"{results} = {self.op}({args}){self.attrs} : {', '.join(self.types)}"
        if self.origin and self.origin != (own,):
            text += "  # from " + ", ".join(self.origin)
        if self.rule:
            text += f"  # rule {self.rule}"
        return text


@dataclass(frozen=True)
class Snapshot:
    """A graph frozen as text pieces: nodes in order, the header and the named outputs."""

    name: str
    header: str
    nodes: tuple[NodeView, ...]
    outputs: tuple[tuple[str, Ref], ...]
    ret: str

    @cached_property
    def text(self) -> str:
        """Exactly `print_graph` of the graph this was taken from."""
        lines = [n.line for n in self.nodes if n.op != "Placeholder"]
        return join_lines(self.header, lines, self.ret)

    def by_name(self) -> dict[str, NodeView]:
        """Nodes by name (built once per snapshot; do not modify)."""
        return self._by_name

    @cached_property
    def _by_name(self) -> dict[str, NodeView]:
        return {n.name: n for n in self.nodes}


def take_snapshot(graph: Graph) -> Snapshot:
    """Freeze ``graph`` as it is now."""
    views = []
    for n in graph.nodes:
        attrs = format_attrs(n)
        views.append(
            NodeView(
                name=n.name,
                op=n.op,
                inputs=tuple((v.producer.name, v.index) for v in n.inputs),
                attrs=attrs,
                types=tuple(str(v.type) for v in n.outputs),
                origin=tuple(n.origin),
                rule=n.rule,
                line=format_node(n, attrs),
            )
        )
    outputs = tuple((name, (v.producer.name, v.index)) for name, v in graph.outputs)
    return Snapshot(graph.name, format_header(graph), tuple(views), outputs, format_return(graph))
