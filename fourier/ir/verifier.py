"""The IR verifier: structural invariants, attributes, and types re-inferred from the registry
(through the installed `fourier.ir.core.OpProvider`)."""

from __future__ import annotations

from fourier.errors import FourierError, InferenceError, VerificationError
from fourier.ir.core import Graph, Node, infer_node, op_provider

__all__ = ["verify"]


def verify(graph: Graph) -> None:
    """Raise `VerificationError` naming the first node that breaks an invariant."""
    ops = op_provider()
    seen_nodes: set[int] = set()
    names: set[str] = set()
    for node in graph.nodes:
        where = f"node {node.name!r} ({node.op})"
        if node.name in names:
            raise VerificationError(f"{where}: name used twice")
        names.add(node.name)
        if not ops.has_op(node.op):
            raise VerificationError(f"{where}: op is not in the registry")
        sig = ops.signature(node.op)
        n_in = len(node.inputs)
        if n_in < sig.min_inputs or (sig.max_inputs is not None and n_in > sig.max_inputs):
            raise VerificationError(f"{where}: has {n_in} inputs")
        for i, v in enumerate(node.inputs):
            if id(v.producer) not in seen_nodes:
                raise VerificationError(
                    f"{where}: input {i} ({v.name}) is not produced by an earlier node of the graph"
                )
            if v.index >= len(v.producer.outputs) or v.producer.outputs[v.index] is not v:
                raise VerificationError(f"{where}: input {i} ({v.name}) is not an output of its producer")
        missing = [key for key in sig.required if key not in node.attrs]
        if missing:
            raise VerificationError(f"{where}: required attribute {missing[0]!r} missing")
        unknown = set(node.attrs) - set(sig.required) - set(sig.defaults)
        if unknown:
            raise VerificationError(f"{where}: unknown attributes {sorted(unknown)}")
        _check_types(node, where)
        seen_nodes.add(id(node))
    for name, v in graph.outputs:
        if id(v.producer) not in seen_nodes:
            raise VerificationError(f"output {name!r} ({v.name}) is not produced by a node of the graph")


def _check_types(node: Node, where: str) -> None:
    try:
        types, _ = infer_node(node)
    except FourierError as e:
        raise InferenceError(f"{where}: inference fails: {e}", node) from e
    if len(types) != len(node.outputs):
        raise VerificationError(f"{where}: has {len(node.outputs)} outputs, its op infers {len(types)}")
    for v, t in zip(node.outputs, types):
        if v.type != t:
            raise VerificationError(f"{where}: output {v.name} has type {v.type}, inference says {t}")
        if v.producer is not node:
            raise VerificationError(f"{where}: output {v.name} names another producer")
