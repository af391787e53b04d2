"""Kernel fusion over groups of nodes (what one-root patterns cannot express).

- ``fuse-tables``: lookups into many embedding tables with the same row width become one gather
  over the concatenated table, with each feature's ids shifted by its table's row offset. An id
  outside its own table still gives a zero row (it is mapped to -1, never into a neighbour's rows).
- ``fuse-gathers``: gathers that read the same ids from different tables with the same number of
  rows become one gather over the tables concatenated side by side, then a split.
- ``fuse-horizontal``: sibling FusedDense / MatMul / Einsum nodes that read the same input with
  constant weights become one wider product and a split.
- ``fuse-elementwise``: chains of elementwise ops whose intermediates have a single reader
  become one FusedElementwise region, lowered as one unit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.ir.core import Graph, Node, Value
from fourier.ir.rewriter import Builder, Rewriter
from fourier.ops.registry import get_op
from fourier.passes.base import Pass, PassResult

__all__ = ["FuseTables", "FuseGathers", "FuseHorizontal", "FuseElementwise"]

_INT_MAX = {"int32": 2**31 - 1, "int64": 2**63 - 1}


def _const(v: Value) -> np.ndarray | None:
    return np.asarray(v.producer.attrs["value"]) if v.producer.op == "Const" else None


def _origin(nodes: Sequence[Node]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for n in nodes:
        for o in n.origin or (n.name,):
            out[o] = None
    return tuple(out)


def _array(v: Value) -> np.ndarray:
    """The value of a node already known to be a Const."""
    value = _const(v)
    assert value is not None, v.name
    return value


def _is_table_gather(n: Node) -> bool:
    if n.op != "GatherV2" or n.attrs.get("batch_dims", 0) != 0:
        return False
    table, axis = _const(n.inputs[0]), _const(n.inputs[2])
    return table is not None and table.ndim == 2 and axis is not None and int(axis.reshape(-1)[0]) == 0


def _split(build: Builder, x: Value, sizes: Sequence[int], axis: int, suffix: str) -> list[Value]:
    """``x`` split along ``axis`` into pieces of ``sizes`` (no node for a single piece)."""
    if len(sizes) == 1:
        return [x]
    sizes_c = build.const(sizes, dtype=np.int64, suffix=suffix + "/sizes")
    axis_c = build.const(axis, dtype=np.int32, suffix=suffix + "/axis")
    return list(build.node("SplitV", [x, sizes_c, axis_c], {"num_split": len(sizes)}, suffix=suffix).outputs)


def _replace_all(rw: Rewriter, members: Sequence[Node], pieces: Sequence[Value]) -> None:
    for m, piece in zip(members, pieces):
        rw.replace_node(m, [piece])


def _position(graph: Graph) -> dict[int, int]:
    return {id(n): i for i, n in enumerate(graph.nodes)}


@dataclass(frozen=True)
class FuseTables(Pass):
    """Many embedding tables with the same row width -> one concatenated table, one gather."""

    name = "fuse-tables"
    summary = "batch lookups into tables of the same width into one gather"
    min_tables: int = 2

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        groups: dict[tuple[Any, ...], list[Node]] = {}
        for n in graph.nodes:
            if not _is_table_gather(n):
                continue
            table, ids = n.inputs[0], n.inputs[1]
            shape = ids.type.shape
            if shape is None or not shape or not isinstance(shape[-1], int) or "?" in shape:
                continue
            key = (
                table.type.dtype,
                table.type.shape[1] if table.type.shape else None,
                ids.type.dtype,
                tuple(shape[:-1]),
            )
            groups.setdefault(key, []).append(n)
        stats: Counter[str] = Counter()
        pos = _position(graph)
        for key, members in groups.items():
            if len({id(m.inputs[0].producer) for m in members}) < max(self.min_tables, 2):
                continue
            # One table per distinct table constant, in first-use order, and its row offset.
            arrays: dict[int, np.ndarray] = {}
            for m in members:
                arrays.setdefault(id(m.inputs[0].producer), _array(m.inputs[0]))
            offsets, total = {}, 0
            for k, t in arrays.items():
                offsets[k], total = total, total + int(t.shape[0])
            id_dtype = key[2]
            if total > _INT_MAX[id_dtype]:
                stats["not fused (rows overflow the id dtype)"] += 1
                continue
            last = max(members, key=lambda m: pos[id(m)])  # every member's ids exist before it
            b = Builder(
                rw,
                before=last,
                base=f"fused_tables/{members[0].name}",
                origin=_origin(members),
                rule="fuse-tables",
            )
            table_v = b.const(np.concatenate(list(arrays.values()), axis=0), suffix="/table")
            widths = [int((m.inputs[1].type.shape or (0,))[-1]) for m in members]
            lo, hi = [], []
            for m, w in zip(members, widths):
                k = id(m.inputs[0].producer)
                lo += [offsets[k]] * w
                hi += [int(arrays[k].shape[0])] * w
            rank = len(members[0].inputs[1].type.shape or ())
            ids = b.op(
                "ConcatV2",
                [*[m.inputs[1] for m in members], b.const(rank - 1, dtype=np.int32, suffix="/ids_axis")],
                suffix="/ids",
            )
            ge = b.op(
                "GreaterEqual", [ids, b.const([0] * len(lo), dtype=id_dtype, suffix="/zero")], suffix="/ge"
            )
            lt = b.op("Less", [ids, b.const(hi, dtype=id_dtype, suffix="/rows")], suffix="/lt")
            ok = b.op("LogicalAnd", [ge, lt], suffix="/in_range")
            shifted = b.op("AddV2", [ids, b.const(lo, dtype=id_dtype, suffix="/offsets")], suffix="/shifted")
            safe = b.op(
                "SelectV2", [ok, shifted, b.const(-1, dtype=id_dtype, suffix="/oob")], suffix="/safe_ids"
            )
            gaxis = b.const(0, dtype=np.int32, suffix="/gather_axis")
            gathered = b.op("GatherV2", [table_v, safe, gaxis], {"batch_dims": 0})
            _replace_all(rw, members, _split(b, gathered, widths, rank - 1, "/split"))
            stats[f"fused {len(members)} lookups into one"] += 1
            stats["lookups fused"] += len(members)
        return PassResult(rw.finish(), stats)


@dataclass(frozen=True)
class FuseGathers(Pass):
    """Gathers of the same ids from tables with the same rows -> one gather of the side-by-side tables."""

    name = "fuse-gathers"
    summary = "parallel gathers on the same ids into one wider gather"

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        groups: dict[tuple[Any, ...], list[Node]] = {}
        for n in graph.nodes:
            if _is_table_gather(n):
                t = n.inputs[0].type
                groups.setdefault((id(n.inputs[1]), t.dtype, t.shape[0] if t.shape else None), []).append(n)
        stats: Counter[str] = Counter()
        for members in groups.values():
            if len(members) < 2:
                continue
            first = members[0]
            b = Builder(rw, before=first, base=first.name, origin=_origin(members), rule="fuse-gathers")
            tables = [_array(m.inputs[0]) for m in members]
            wide = b.const(np.concatenate(tables, axis=1), suffix="/wide_table")
            g = b.op("GatherV2", [wide, first.inputs[1], first.inputs[2]], {"batch_dims": 0}, suffix="/wide")
            widths = [int(t.shape[1]) for t in tables]
            _replace_all(rw, members, _split(b, g, widths, len(g.type.shape or ()) - 1, "/wide_split"))
            stats["gathers fused"] += len(members)
        return PassResult(rw.finish(), stats)


def _einsum_split_axis(eq: str) -> tuple[int, int] | None:
    """For ``x,w->out``: (axis in w, axis in out) of the first output label only w has."""
    ins, out = eq.replace(" ", "").split("->")
    parts = ins.split(",")
    if len(parts) != 2 or "." in eq:
        return None
    x, w = parts
    for k, label in enumerate(out):
        if label in w and label not in x:
            return w.index(label), k
    return None


@dataclass(frozen=True)
class FuseHorizontal(Pass):
    """Sibling products on one input with constant weights -> one wider product + split."""

    name = "fuse-horizontal"
    summary = "sibling FusedDense/MatMul/Einsum on one input into one wider op"

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        groups: dict[tuple[Any, ...], list[Node]] = {}
        for n in graph.nodes:
            key = self._key(n)
            if key is not None:
                groups.setdefault(key, []).append(n)
        stats: Counter[str] = Counter()
        for key, members in groups.items():
            if len(members) < 2:
                continue
            op_name, w_axis, out_axis = key[0], key[-2], key[-1]
            first = members[0]
            b = Builder(rw, before=first, base=first.name, origin=_origin(members), rule="fuse-horizontal")
            weights = [_array(m.inputs[1]) for m in members]
            inputs = [first.inputs[0], b.const(np.concatenate(weights, axis=w_axis), suffix="/wide_weights")]
            if op_name == "FusedDense" and len(first.inputs) == 3:
                biases = [_array(m.inputs[2]) for m in members]
                inputs.append(b.const(np.concatenate(biases), suffix="/wide_bias"))
            wide = b.op(op_name, inputs, dict(first.attrs), suffix="/wide")
            sizes = [int(w.shape[w_axis]) for w in weights]
            _replace_all(rw, members, _split(b, wide, sizes, out_axis, "/wide_split"))
            stats[f"{op_name} fused"] += len(members)
        return PassResult(rw.finish(), stats)

    @staticmethod
    def _key(n: Node) -> tuple[Any, ...] | None:
        if n.op not in ("FusedDense", "MatMul", "Einsum") or len(n.inputs) < 2:
            return None
        x, w = n.inputs[0], n.inputs[1]
        if _const(w) is None or x.producer.op == "Const":
            return None
        if n.op == "MatMul":
            if n.attrs["transpose_a"] or n.attrs["transpose_b"]:
                return None
            return ("MatMul", id(x), w.type.dtype, 1, 1)
        if n.op == "FusedDense":
            has_bias = len(n.inputs) == 3
            if has_bias and _const(n.inputs[2]) is None:
                return None
            rank = len(x.type.shape or ())
            return ("FusedDense", id(x), w.type.dtype, n.attrs["activation"], has_bias, 1, rank - 1)
        if len(n.inputs) != 2:
            return None
        axes = _einsum_split_axis(n.attrs["equation"])
        if axes is None:
            return None
        return ("Einsum", id(x), w.type.dtype, n.attrs["equation"], *axes)


@dataclass(frozen=True)
class FuseElementwise(Pass):
    """Chains of elementwise ops with single-reader intermediates -> FusedElementwise regions."""

    name = "fuse-elementwise"
    summary = "vertical fusion of elementwise chains into FusedElementwise"
    min_ops: int = 2
    max_ops: int = 64

    def run(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph)
        stats: Counter[str] = Counter()
        taken: set[int] = set()
        pos = _position(graph)
        for root in reversed(list(graph.nodes)):
            if id(root) in taken or not self._fusable(root):
                continue
            region = self._grow(rw, root, taken)
            if len(region) < self.min_ops:
                continue
            taken.update(id(n) for n in region)
            self._replace(rw, root, region, pos)
            stats["regions"] += 1
            stats["ops fused"] += len(region)
        return PassResult(rw.finish(), stats)

    @staticmethod
    def _fusable(n: Node) -> bool:
        opdef = get_op(n.op)
        return (
            "elementwise" in opdef.traits
            and "pure" in opdef.traits
            and n.op != "FusedElementwise"
            and len(n.outputs) == 1
        )

    def _grow(self, rw: Rewriter, root: Node, taken: set[int]) -> list[Node]:
        region = [root]
        members = {id(root)}
        frontier = [root]
        while frontier and len(region) < self.max_ops:
            n = frontier.pop()
            for v in n.inputs:
                p = v.producer
                if (
                    id(p) in members
                    or id(p) in taken
                    or not self._fusable(p)
                    or rw.num_uses(v) != 1
                    or v.type.shape != root.outputs[0].type.shape
                ):
                    continue
                members.add(id(p))
                region.append(p)
                frontier.append(p)
                if len(region) >= self.max_ops:
                    break
        return region

    def _replace(self, rw: Rewriter, root: Node, region: list[Node], pos: dict[int, int]) -> None:
        members = {id(n) for n in region}
        order = sorted(region, key=lambda n: pos[id(n)])  # topological
        inputs: list[Value] = []
        slot: dict[int, int] = {}
        for n in order:
            for v in n.inputs:
                if id(v.producer) not in members and id(v) not in slot:
                    slot[id(v)] = len(inputs)
                    inputs.append(v)
        body = []
        for k, n in enumerate(order):
            args = [slot[id(v)] for v in n.inputs]
            body.append([n.op, args, {a: _jsonable(x) for a, x in sorted(n.attrs.items())}])
            slot[id(n.outputs[0])] = len(inputs) + k
        build = Builder(rw, before=root, base=root.name, origin=_origin(order), rule="fuse-elementwise")
        body_text = json.dumps(body, separators=(",", ":"))
        rw.replace_node(root, [build.op("FusedElementwise", inputs, {"body": body_text}, suffix="/fused")])


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x
