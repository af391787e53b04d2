"""Structural diff of two graph snapshots: which nodes a pass added, removed or rewrote.

Nodes are matched by what they compute, not by name or position, so a pass that only renames
or reorders nodes shows no change. Matching runs in three rounds:

1. *Same computation*: a hash of each node's op, attributes and types combined with the hashes of
   its inputs (a Merkle hash over the DAG; graph inputs hash by name). Equal hashes pair up,
   preferring equal names among duplicates.
2. *Same name*: nodes left over that kept their name (a rewrite that keeps the replaced node's
   name, as Fourier's rewriter does) pair up whatever their op.
3. *Same local computation over matched inputs*, in topological order: a renamed node below a
   change still pairs with its old self.

A matched pair whose op, attributes, types or (matched) inputs differ is *rewritten*; unmatched
nodes of the new graph are *added*, of the old graph *removed*. Matched pairs that differ only in
name are *renamed* (not a change).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from fourier.ir.printer import join_lines
from fourier.ir.snapshot import NodeView, Ref, Snapshot, ref_text

__all__ = ["GraphDiff", "diff_snapshots", "ADDED", "REMOVED", "REWRITTEN", "SAME"]

ADDED, REMOVED, REWRITTEN, SAME = "added", "removed", "rewritten", "same"


def _local(n: NodeView) -> tuple[str, str, tuple[str, ...], str]:
    # Graph inputs are the interface: their name is part of what they are.
    return (n.op, n.attrs, n.types, n.name if n.op == "Placeholder" else "")


@dataclass
class GraphDiff:
    """The change from ``before`` to ``after``; node names refer to their own snapshot."""

    before: Snapshot
    after: Snapshot
    match: dict[str, str]  # after name -> before name
    status: dict[str, str]  # after name -> ADDED | REWRITTEN | SAME
    removed: list[str]  # before names with no match, in before order
    outputs_changed: list[str]  # graph outputs now bound to a different computation

    @property
    def added(self) -> list[str]:
        return [n for n, s in self.status.items() if s == ADDED]

    @property
    def rewritten(self) -> list[str]:
        return [n for n, s in self.status.items() if s == REWRITTEN]

    @property
    def renamed(self) -> list[tuple[str, str]]:
        """(old, new) names of nodes that changed only their name."""
        return [(self.match[n], n) for n, s in self.status.items() if s == SAME and self.match[n] != n]

    @property
    def changed(self) -> bool:
        """Whether anything other than names and order changed."""
        return bool(self.removed or self.outputs_changed) or any(s != SAME for s in self.status.values())

    def summary(self) -> str:
        parts = [
            f"+{len(self.added)} added",
            f"-{len(self.removed)} removed",
            f"~{len(self.rewritten)} rewritten",
        ]
        if self.renamed:
            parts.append(f"{len(self.renamed)} renamed only")
        if self.outputs_changed:
            parts.append(f"outputs rebound: {', '.join(self.outputs_changed)}")
        return ", ".join(parts)

    def aligned_after_text(self) -> str:
        """The new graph's text with matched nodes under their old names and in the old order
        where possible, so a text diff against ``before.text`` shows only structural change."""
        return self._aligned

    @cached_property
    def _aligned(self) -> str:
        old_index = {n.name: i for i, n in enumerate(self.before.nodes)}
        names = {new: old for new, old in self.match.items() if new != old}
        # A name an unmatched new node carries may be taken by a renamed one: keep them apart.
        taken = set(self.match.values())
        for n in self.after.nodes:
            if n.name not in self.match and n.name in taken:
                names[n.name] = n.name + "'"
        key: dict[str, tuple[float, int, int]] = {}
        for i, n in enumerate(self.after.nodes):
            if n.name in self.match:
                key[n.name] = (old_index[self.match[n.name]], 0, i)
            else:
                key[n.name] = (max((key[p][0] for p, _ in n.inputs), default=-1.0), 1, i)
        ordered = sorted((n for n in self.after.nodes if n.op != "Placeholder"), key=lambda n: key[n.name])
        ret = "  return " + ", ".join(f'"{o}" = {ref_text(r, names)}' for o, r in self.after.outputs)
        a_nodes = self.before.by_name()
        lines = [
            a_nodes[self.match[n.name]].line if self.status[n.name] == SAME else n.render(names)
            for n in ordered
        ]
        return join_lines(self.before.header, lines, ret)

    def unified(self, context: int = 2, label: str = "") -> list[str]:
        """Unified diff lines of the structural change (empty when nothing but names/order changed)."""
        if not self.changed:
            return []
        return list(
            difflib.unified_diff(
                self.before.text.splitlines(),
                self.aligned_after_text().splitlines(),
                f"before {label}".strip(),
                f"after {label}".strip(),
                n=context,
                lineterm="",
            )
        )


def _pair(a_names: list[str], b_names: list[str]) -> Iterable[tuple[str, str]]:
    """Pair two lists of equivalent nodes: equal names first, then in order."""
    if len(a_names) == 1 and len(b_names) == 1:
        yield a_names[0], b_names[0]
        return
    common = set(a_names) & set(b_names)
    for n in b_names:
        if n in common:
            yield n, n
    rest_a = [n for n in a_names if n not in common]
    rest_b = [n for n in b_names if n not in common]
    yield from zip(rest_a, rest_b)


def _merkle(snap: Snapshot) -> dict[str, int]:
    h: dict[str, int] = {}
    for n in snap.nodes:
        h[n.name] = hash((_local(n), tuple((h[p], i) for p, i in n.inputs)))
    return h


def _downward(snap: Snapshot, up: dict[str, int]) -> dict[str, int]:
    """A hash of each node's computation and of where its results go (consumers, input slots,
    graph outputs): tells apart equal computations feeding different places."""
    uses: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for n in snap.nodes:
        for slot, (p, i) in enumerate(n.inputs):
            uses[p].append((n.name, slot, i))
    outs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for name, (p, i) in snap.outputs:
        outs[p].append((name, i))
    down: dict[str, int] = {}
    for n in reversed(snap.nodes):
        below = sorted((down[c], slot, i) for c, slot, i in uses[n.name])
        down[n.name] = hash((up[n.name], tuple(below), tuple(sorted(outs[n.name]))))
    return down


def diff_snapshots(before: Snapshot, after: Snapshot) -> GraphDiff:
    """The structural change from ``before`` to ``after``."""
    ha, hb = _merkle(before), _merkle(after)
    match: dict[str, str] = {}  # after -> before
    used: set[str] = set()
    # Round 1: same computation; among equal computations, first those that also feed the same places.
    da, db = _downward(before, ha), _downward(after, hb)
    for key_a, key_b in (((lambda n: (ha[n], da[n])), (lambda n: (hb[n], db[n]))), (ha.get, hb.get)):
        by_a: dict[object, list[str]] = defaultdict(list)
        by_b: dict[object, list[str]] = defaultdict(list)
        for n in before.nodes:
            if n.name not in used:
                by_a[key_a(n.name)].append(n.name)
        for n in after.nodes:
            if n.name not in match:
                by_b[key_b(n.name)].append(n.name)
        for h, bs in by_b.items():
            for a_name, b_name in _pair(by_a.get(h, []), bs):
                match[b_name] = a_name
                used.add(a_name)

    a_nodes = before.by_name()
    for n in after.nodes:  # round 2: kept names
        if n.name not in match and n.name in a_nodes and n.name not in used:
            match[n.name] = n.name
            used.add(n.name)

    def mapped(refs: tuple[Ref, ...]) -> tuple[Ref, ...] | None:
        out = []
        for p, i in refs:
            if p not in match:
                return None
            out.append((match[p], i))
        return tuple(out)

    free: dict[tuple[object, ...], list[str]] = defaultdict(list)  # round 3
    for n in before.nodes:
        if n.name not in used:
            free[(_local(n), n.inputs)].append(n.name)
    for n in after.nodes:
        if n.name in match:
            continue
        ins = mapped(n.inputs)
        cands = free.get((_local(n), ins)) if ins is not None else None
        if cands:
            a_name = cands.pop(0)
            match[n.name] = a_name
            used.add(a_name)

    status: dict[str, str] = {}
    for n in after.nodes:
        if n.name not in match:
            status[n.name] = ADDED
            continue
        a = a_nodes[match[n.name]]
        same = _local(a) == _local(n) and mapped(n.inputs) == a.inputs
        status[n.name] = SAME if same else REWRITTEN
    removed = [n.name for n in before.nodes if n.name not in used]
    old_out = dict(before.outputs)
    outputs_changed = []
    for name, (p, i) in after.outputs:
        was = old_out.get(name)
        if was is None or match.get(p) != was[0] or was[1] != i:
            outputs_changed.append(name)
    outputs_changed += [name for name in old_out if name not in dict(after.outputs)]
    return GraphDiff(before, after, match, status, removed, outputs_changed)
