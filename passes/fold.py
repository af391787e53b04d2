"""Constant folding and shape folding, through the ops' numpy references.

A node whose inputs are all constants is evaluated with the same reference the interpreter and
the differential tests use, and replaced by a Const. Folding is bounded: a node is folded only if
its inferred output type is static and holds at most ``max-elements`` elements, checked before
anything is evaluated, so folding a huge Fill/Tile/Range never allocates without bound.

Shape folding: a value whose contents inference already knows (``Shape`` of a value with static
dims, ``Size``, ``Rank``, and the shape arithmetic built on them) becomes a Const, even when its
operands are not constants. Values that involve the batch dim stay symbolic and are left alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from fourier.ir.core import Graph, Node, Value
from fourier.ir.rewriter import Builder, Rewriter
from fourier.ir.types import TensorType
from fourier.ops.registry import get_op, static_elements
from fourier.passes.base import Pass, PassResult

__all__ = ["FoldConstants"]


def _static_size(t: TensorType) -> int | None:
    return static_elements(t)


def _foldable(node: Node, max_elements: int) -> bool:
    opdef = get_op(node.op)
    if "pure" not in opdef.traits or "constant" in opdef.traits or "no_fold" in opdef.traits:
        return False
    for v in node.outputs:
        size = _static_size(v.type)
        if size is None or size > max_elements:
            return False
    return True


def _static_known(v: Value) -> np.ndarray | None:
    """The value inference knows for ``v``, if it has no symbolic entries, in ``v``'s dtype."""
    known = v.known
    if known is None:
        return None
    if known.dtype == object:
        if not all(isinstance(x, (int, np.integer)) for x in known.reshape(-1)):
            return None  # holds the batch dimension: stays symbolic
        known = np.array(known.tolist(), dtype=np.int64).reshape(known.shape)
    if known.dtype.name != v.type.dtype and known.dtype.kind in "iub":
        cast = known.astype(v.type.dtype)  # shape values are held as int64 where the op says int32
        return cast if np.array_equal(cast, known) else None
    return known


@dataclass(frozen=True)
class FoldConstants(Pass):
    """Evaluate nodes with constant (or statically known) inputs; see the module docstring."""

    name = "fold-constants"
    summary = "evaluate constant subgraphs and known shape arithmetic into Consts"
    max_elements: int = 1 << 20

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        stats: Counter[str] = Counter()
        for node in list(graph.nodes):
            if not rw.alive(node) or not _foldable(node, self.max_elements):
                continue
            if node.inputs and all(v.producer.op == "Const" for v in node.inputs):
                args = [v.producer.attrs["value"] for v in node.inputs]
                try:
                    out = get_op(node.op).reference(node.attrs, *args)
                except (ArithmeticError, ValueError, IndexError, TypeError) as e:
                    stats[f"not folded ({type(e).__name__})"] += 1
                    continue
                values = [np.asarray(o) for o in (out if isinstance(out, (tuple, list)) else (out,))]
                kind = "constant"
            elif all(_static_known(v) is not None for v in node.outputs):
                values = [_static_known(v) for v in node.outputs]  # type: ignore[misc]
                kind = "shape"
            else:
                continue
            if any(
                v.dtype.name != o.type.dtype or v.shape != o.type.shape for v, o in zip(values, node.outputs)
            ):
                stats["not folded (reference disagrees with inference)"] += 1
                continue
            build = Builder(rw, before=node, base=node.name, origin=node.origin, rule=f"fold-{kind}")
            replacements = []
            for i, (o, value) in enumerate(zip(node.outputs, values)):
                if not rw.num_uses(o):
                    replacements.append(o)
                    continue
                suffix = "/folded" if len(node.outputs) == 1 else f"/{i}/folded"
                replacements.append(build.const(value, suffix=suffix))
            rw.replace_node(node, replacements)
            stats[f"{kind} {node.op}"] += 1
        return PassResult(rw.finish(), stats)
