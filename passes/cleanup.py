"""Redundant-compute elimination that needs no rules: pruning and identity stripping.

The importer already drops NoOps and control edges (they order side effects, and an inference
graph Fourier accepts has none), so what is left to clean here are nodes that do not reach an
output and ops that forward their input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fourier.ir.core import Graph
from fourier.ir.rewriter import Rewriter
from fourier.passes.base import Pass, PassResult

__all__ = ["Prune", "DeadCodeElimination", "StripIdentity"]


@dataclass(frozen=True)
class Prune(Pass):
    """Remove every node that no graph output depends on (graph inputs are kept: they are the signature)."""

    name = "prune"
    summary = "remove nodes that do not reach an output"

    def run(self, graph: Graph) -> PassResult:
        live: set[int] = set()
        stack = [v.producer for _, v in graph.outputs]
        while stack:
            n = stack.pop()
            if id(n) in live:
                continue
            live.add(id(n))
            stack.extend(v.producer for v in n.inputs)
        removed = Counter(n.op for n in graph.nodes if id(n) not in live and n.op != "Placeholder")
        if not removed:
            return PassResult(False)
        graph.nodes = [n for n in graph.nodes if id(n) in live or n.op == "Placeholder"]
        return PassResult(True, Counter({f"removed {op}": c for op, c in removed.items()}))


@dataclass(frozen=True)
class DeadCodeElimination(Prune):
    """`Prune` under the name pipelines conventionally end with; a pipeline keeps the name it was given."""

    name = "dce"
    summary = "remove dead nodes (alias of prune)"


FORWARDING_OPS = ("Identity", "Snapshot", "StopGradient", "PreventGradient", "IdentityN")


@dataclass(frozen=True)
class StripIdentity(Pass):
    """Readers of Identity / Snapshot / StopGradient / PreventGradient read the input instead, and
    readers of output ``i`` of IdentityN (Keras custom-gradient activations) read its input ``i``.

    An identity that is itself a graph output stays only if its input is a graph input (an
    output must be produced by a node, and renaming an input into an output is what it does).
    """

    name = "strip-identity"
    summary = "forward Identity, Snapshot, StopGradient, PreventGradient, IdentityN"

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        stats: Counter[str] = Counter()
        for node in list(graph.nodes):
            if node.op not in FORWARDING_OPS or not rw.alive(node):
                continue
            if any(
                rw.is_output(v) and src.producer.op == "Placeholder"
                for v, src in zip(node.outputs, node.inputs)
            ):
                continue
            rw.replace_node(node, list(node.inputs[: len(node.outputs)]))
            stats[node.op] += 1
        return PassResult(rw.finish(), stats)
