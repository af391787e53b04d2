"""Common-subexpression elimination, duplicate constants included.

Two nodes are the same computation when they have the same op, the same attributes and the same
operands (in either order for commutative ops). Constants are the same when dtype, shape and
bytes match. Nodes are visited in topological order, so a chain of duplicates collapses in one
sweep: once the first pair merges, their readers have equal operands too.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.ir.core import Graph, Node
from fourier.ir.rewriter import Rewriter
from fourier.ops.registry import get_op
from fourier.passes.base import Pass, PassResult

__all__ = ["CommonSubexpressionElimination", "node_key"]


def _attr_key(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest())
    if isinstance(v, (list, tuple)):
        return tuple(_attr_key(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("nan",)
    return (type(v).__name__, v)


def node_key(node: Node, ids: dict[int, int]) -> tuple[Any, ...] | None:
    """A hashable key equal for nodes that compute the same thing (None: never merge)."""
    opdef = get_op(node.op)
    if "pure" not in opdef.traits:
        return None
    operands = [(ids[id(v.producer)], v.index) for v in node.inputs]
    if "commutative" in opdef.traits:
        operands.sort()
    attrs = tuple((k, _attr_key(node.attrs[k])) for k in sorted(node.attrs))
    return (node.op, tuple(operands), attrs)


@dataclass(frozen=True)
class CommonSubexpressionElimination(Pass):
    """Merge nodes that compute the same value; the first one in graph order is kept."""

    name = "cse"
    summary = "merge duplicate computations and duplicate constants"

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        stats: Counter[str] = Counter()
        ids: dict[int, int] = {}  # id(node) -> id of its representative (a small int)
        seen: dict[tuple[Any, ...], Node] = {}
        for number, node in enumerate(list(graph.nodes)):
            key = node_key(node, ids)
            rep = seen.get(key) if key is not None else None
            if rep is None:
                ids[id(node)] = number
                if key is not None:
                    seen[key] = node
                continue
            ids[id(node)] = ids[id(rep)]
            rw.replace_node(node, rep.outputs)
            stats[node.op] += 1
        return PassResult(rw.finish(), stats)
