"""The rewriter: the one way passes mutate a graph.

It keeps use lists (who reads each value), creates nodes at a valid position, redirects uses,
and erases dead nodes, and tells its listeners about every change: the greedy driver's worklist,
the statistics a pass reports, provenance checks. Passes never edit ``node.inputs`` directly.

Inserting into the middle of ``graph.nodes`` is O(n) per insert, so a new node is recorded as
"placed before" an existing node and the node list is rebuilt once in `Rewriter.finish`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.errors import FourierError
from fourier.ir.core import Graph, Node, Value
from fourier.ir.types import TensorType

__all__ = ["RewriteError", "Rewriter", "Listener", "Builder"]


class RewriteError(FourierError):
    """A rewrite would break the graph (type change, erasing a used node, ...)."""


@dataclass
class Listener:
    """Callbacks a rewriter calls; any may be None."""

    created: Callable[[Node], None] | None = None
    replaced: Callable[[Value, Value], None] | None = None
    erased: Callable[[Node], None] | None = None


class Rewriter:
    """Mutations of ``graph`` with use lists; call `finish` when done to re-linearize."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.listeners: list[Listener] = []
        self._uses: dict[int, list[tuple[Node, int]]] = {}
        self._outputs: dict[int, int] = {}  # id(value) -> how many graph outputs name it
        self._before: dict[int, list[Node]] = {}
        self._erased: set[int] = set()
        self._alive: dict[int, Node] = {id(n): n for n in graph.nodes}
        self.changed = False
        for node in graph.nodes:
            for i, v in enumerate(node.inputs):
                self._uses.setdefault(id(v), []).append((node, i))
        for _, v in graph.outputs:
            self._outputs[id(v)] = self._outputs.get(id(v), 0) + 1

    # -- queries ------------------------------------------------------------------------------

    def users(self, value: Value) -> list[tuple[Node, int]]:
        """The (node, input index) pairs that read ``value``."""
        return list(self._uses.get(id(value), ()))

    def num_uses(self, value: Value) -> int:
        """Readers of ``value``, graph outputs included."""
        return len(self._uses.get(id(value), ())) + self._outputs.get(id(value), 0)

    def is_output(self, value: Value) -> bool:
        return self._outputs.get(id(value), 0) > 0

    def alive(self, node: Node) -> bool:
        return id(node) in self._alive

    def nodes(self) -> list[Node]:
        """Live nodes in a valid order (new nodes placed where they were created)."""
        out: list[Node] = []
        for node in self.graph.nodes:
            self._emit(node, out)
        return out

    def _emit(self, node: Node, out: list[Node]) -> None:
        for pending in self._before.get(id(node), ()):
            self._emit(pending, out)
        if id(node) not in self._erased:
            out.append(node)

    # -- mutation -----------------------------------------------------------------------------

    def create(
        self,
        op: str,
        inputs: Sequence[Value],
        attrs: dict[str, Any] | None = None,
        *,
        before: Node,
        name: str | None = None,
        origin: Iterable[str] = (),
        rule: str | None = None,
    ) -> Node:
        """A new node placed just before ``before``; its inputs must be available there."""
        node = self.graph.make_node(op, inputs, attrs, name=name, origin=tuple(origin), rule=rule)
        self._before.setdefault(id(before), []).append(node)
        self._alive[id(node)] = node
        for i, v in enumerate(node.inputs):
            self._uses.setdefault(id(v), []).append((node, i))
        self.changed = True
        for lst in self.listeners:
            if lst.created:
                lst.created(node)
        return node

    def replace_uses(self, old: Value, new: Value) -> None:
        """Every reader of ``old`` (and every graph output naming it) reads ``new`` instead."""
        if old is new:
            return
        if not _compatible(old.type, new.type):
            raise RewriteError(
                f"replacing {old.name} ({old.type}) with {new.name} ({new.type}) would change its type"
            )
        readers = self._uses.pop(id(old), [])
        new_readers = self._uses.setdefault(id(new), [])
        for node, i in readers:
            node.inputs[i] = new
            new_readers.append((node, i))
        if id(old) in self._outputs:
            count = self._outputs.pop(id(old))
            self._outputs[id(new)] = self._outputs.get(id(new), 0) + count
            self.graph.outputs = [(n, new if v is old else v) for n, v in self.graph.outputs]
        self.changed = True
        for lst in self.listeners:
            if lst.replaced:
                lst.replaced(old, new)

    def replace_node(self, node: Node, values: Sequence[Value]) -> None:
        """Redirect each output of ``node`` to the matching value and erase ``node`` if dead."""
        if len(values) != len(node.outputs):
            raise RewriteError(
                f"node {node.name!r} has {len(node.outputs)} outputs, got {len(values)} values"
            )
        for old, new in zip(node.outputs, values):
            self.replace_uses(old, new)
        self.erase_if_dead(node)

    def set_input(self, node: Node, index: int, value: Value) -> None:
        """Make input ``index`` of ``node`` read ``value`` (same type required)."""
        old = node.inputs[index]
        if not _compatible(old.type, value.type):
            raise RewriteError(f"node {node.name!r} input {index}: {value.type} does not replace {old.type}")
        readers = self._uses.get(id(old), [])
        readers.remove((node, index))
        node.inputs[index] = value
        self._uses.setdefault(id(value), []).append((node, index))
        self.changed = True

    def erase(self, node: Node) -> None:
        """Remove ``node``, which nothing may read any more."""
        if any(self.num_uses(v) for v in node.outputs):
            users = [u.name for v in node.outputs for u, _ in self._uses.get(id(v), ())]
            raise RewriteError(f"cannot erase node {node.name!r}: still read by {users or 'a graph output'}")
        for i, v in enumerate(node.inputs):
            readers = self._uses.get(id(v))
            if readers is not None:
                readers.remove((node, i))
        self._erased.add(id(node))
        self._alive.pop(id(node), None)
        self.graph.release_name(node.name)
        self.changed = True
        for lst in self.listeners:
            if lst.erased:
                lst.erased(node)

    def erase_if_dead(self, node: Node) -> list[Node]:
        """Erase ``node`` and then every producer that becomes unread; graph inputs are kept."""
        erased: list[Node] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if not self.alive(n) or n.op == "Placeholder" or any(self.num_uses(v) for v in n.outputs):
                continue
            producers = [v.producer for v in n.inputs]
            self.erase(n)
            erased.append(n)
            stack.extend(producers)
        return erased

    def finish(self) -> bool:
        """Write the live nodes back to the graph in a valid order; returns whether anything changed."""
        if self.changed:
            self.graph.nodes = _stable_toposort(self.nodes())
            self._before.clear()
            self._erased.clear()
        return self.changed


class Builder:
    """Creates nodes just before one anchor node, named ``base + suffix``, all tagged with one
    provenance (the TF nodes they replace) and the rule or pass that made them."""

    def __init__(
        self,
        rw: Rewriter,
        *,
        before: Node,
        base: str,
        origin: Iterable[str],
        rule: str,
        lineage: Iterable[str] = (),
    ) -> None:
        self.rw, self.graph = rw, rw.graph
        self.before, self.base, self.origin, self.rule = before, base, tuple(origin), rule
        self.lineage = tuple(lineage) or (rule,)

    def node(
        self, op: str, inputs: Sequence[Value], attrs: dict[str, Any] | None = None, *, suffix: str = ""
    ) -> Node:
        """Create a node."""
        node = self.rw.create(
            op, inputs, attrs, before=self.before, name=self.base + suffix, origin=self.origin, rule=self.rule
        )
        node.lineage = self.lineage
        return node

    def op(
        self, op: str, inputs: Sequence[Value], attrs: dict[str, Any] | None = None, *, suffix: str = ""
    ) -> Value:
        """Create a node and return its first output."""
        return self.node(op, inputs, attrs, suffix=suffix).output

    def const(self, value: Any, *, suffix: str = "/const", dtype: Any = None) -> Value:
        """A new constant (``dtype`` converts ``value`` first)."""
        return self.op("Const", [], {"value": np.asarray(value, dtype=dtype)}, suffix=suffix)


def _stable_toposort(nodes: list[Node]) -> list[Node]:
    """``nodes`` unchanged if already in order, else topologically sorted keeping their order."""
    seen: set[int] = set()
    for n in nodes:
        if any(id(v.producer) not in seen for v in n.inputs):
            break
        seen.add(id(n))
    else:
        return nodes
    import heapq

    index = {id(n): i for i, n in enumerate(nodes)}
    waiting = {id(n): len({id(v.producer) for v in n.inputs}) for n in nodes}
    readers: dict[int, list[Node]] = {}
    for n in nodes:
        for p in {id(v.producer) for v in n.inputs}:
            readers.setdefault(p, []).append(n)
    heap = [index[id(n)] for n in nodes if waiting[id(n)] == 0]
    heapq.heapify(heap)
    out: list[Node] = []
    while heap:
        n = nodes[heapq.heappop(heap)]
        out.append(n)
        for r in readers.get(id(n), ()):
            waiting[id(r)] -= 1
            if waiting[id(r)] == 0:
                heapq.heappush(heap, index[id(r)])
    if len(out) != len(nodes):
        raise RewriteError("the rewritten graph has a cycle")
    return out


def _compatible(old: TensorType, new: TensorType) -> bool:
    return old == new
