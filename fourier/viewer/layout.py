"""Where to draw a pass's changed neighbourhood: a layered (Sugiyama-style) layout per cluster.

The drawing joins both graphs: nodes the pass kept or rewrote appear once, removed nodes are
added back with the edges they had. Only changed nodes and their direct neighbours are drawn
(graph inputs and unchanged constants are left out as clutter); each connected cluster of change
is laid out on its own (layers by longest path, order by a few barycentre sweeps) and the
clusters are packed in rows. A layer wider than ``ROW_WIDTH`` (52 lookups that one fusion removes)
wraps onto several lines, so the drawing keeps a shape that fits a window when zoomed to fit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fourier.viewer.diff import ADDED, REMOVED, SAME, GraphDiff

__all__ = ["Drawing", "draw_change", "MAX_DRAWN"]

MAX_DRAWN = 400  # vertices drawn per pass; the rest are listed, not drawn

CHAR_W, BOX_H, GAP_X, GAP_Y, PAD = 6.6, 34, 16, 30, 24
GAP_WRAP = 10  # between the lines of a wrapped layer
MAX_LABEL = 30
ROW_WIDTH = 1800


@dataclass
class Drawing:
    nodes: list[dict[str, Any]] = field(default_factory=list)  # id, x, y, w, op, label, status
    edges: list[list[Any]] = field(default_factory=list)  # [from id, to id, status]
    width: float = 0
    height: float = 0
    clusters: int = 0
    omitted: int = 0  # changed nodes not drawn (their clusters went over MAX_DRAWN)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "edges": self.edges,
            "width": round(self.width),
            "height": round(self.height),
            "clusters": self.clusters,
            "omitted": self.omitted,
            "box": BOX_H,
        }


def _short(name: str) -> str:
    """The end of a node name (its most specific part), cut to MAX_LABEL characters."""
    return name if len(name) <= MAX_LABEL else "…" + name[-(MAX_LABEL - 1) :]


def draw_change(d: GraphDiff) -> Drawing:
    """The drawing of ``d``'s changed nodes and their neighbours. Vertex ids are after-graph node
    names; removed nodes get ``-`` + their before-graph name."""
    a_nodes, b_nodes = d.before.by_name(), d.after.by_name()
    vid = {old: new for new, old in d.match.items()}  # before name -> vertex id
    for r in d.removed:
        vid[r] = "-" + r
    status = {**d.status, **{"-" + r: REMOVED for r in d.removed}}
    info: dict[str, tuple[str, str]] = {n: (v.op, v.name) for n, v in b_nodes.items()}
    info.update({"-" + r: (a_nodes[r].op, r) for r in d.removed})

    old_edges = {(vid[p], vid[n.name]) for n in d.before.nodes for p, _ in n.inputs}
    edges: dict[tuple[str, str], str] = {}
    for n in d.after.nodes:
        for p, _ in n.inputs:
            edges[(p, n.name)] = SAME if (p, n.name) in old_edges else ADDED
    for key in old_edges:
        edges.setdefault(key, REMOVED)
    changed = {v for v, s in status.items() if s != SAME}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for s, t in edges:
        neighbours[s].add(t)
        neighbours[t].add(s)
    context = {w for v in changed for w in neighbours[v] if w not in changed}
    context = {w for w in context if info[w][0] not in ("Const", "Placeholder")}
    order = _topological(changed | context, edges)
    index = {v: i for i, v in enumerate(order)}
    inner = [(s, t) for s, t in edges if s in changed and t in changed]
    clusters: list[list[str]] = []
    budget = MAX_DRAWN
    omitted = 0
    for group in _clusters(changed, inner, index):  # one cluster per connected group of change
        ctx = sorted({w for v in group for w in neighbours[v] if w in context}, key=index.__getitem__)
        if len(group) + len(ctx) > budget and clusters:
            omitted += len(group)
            continue
        budget -= len(group) + len(ctx)
        clusters.append(sorted(group + ctx, key=index.__getitem__))
    drawing = Drawing(omitted=omitted)
    x0 = y0 = row_h = 0.0
    for k, cluster in enumerate(clusters):
        members = set(cluster)
        local = [(s, t) for s, t in edges if s in members and t in members and (s in changed or t in changed)]
        boxes, w, h = _layer(cluster, local, index, info)
        if x0 > 0 and x0 + w > ROW_WIDTH:
            x0, y0, row_h = 0.0, y0 + row_h + PAD, 0.0

        def gid(v: str, k: int = k) -> str:  # context nodes are drawn once per cluster
            return v if v in changed else f"{v}@{k}"

        for v, (x, y, bw) in boxes.items():
            op, name = info[v]
            drawing.nodes.append(
                {
                    "id": gid(v),
                    "node": v,
                    "x": round(x0 + x, 1),
                    "y": round(y0 + y, 1),
                    "w": round(bw, 1),
                    "op": op,
                    "label": _short(name),
                    "status": status[v],
                }
            )
        drawing.edges += [[gid(s), gid(t), edges[(s, t)]] for s, t in local]
        drawing.width = max(drawing.width, x0 + w)
        row_h = max(row_h, h)
        x0 += w + PAD
        drawing.clusters += 1
    drawing.height = y0 + row_h
    return drawing


def _topological(keep: set[str], edges: dict[tuple[str, str], str]) -> list[str]:
    succ: dict[str, list[str]] = defaultdict(list)
    indeg = dict.fromkeys(keep, 0)
    for s, t in edges:
        if s in keep and t in keep:
            succ[s].append(t)
            indeg[t] += 1
    ready = sorted(v for v, k in indeg.items() if k == 0)
    out: list[str] = []
    while ready:
        v = ready.pop(0)
        out.append(v)
        for t in succ[v]:
            indeg[t] -= 1
            if indeg[t] == 0:
                ready.append(t)
    placed = set(out)
    return out + sorted(v for v in keep if v not in placed)  # a cycle cannot happen; be total anyway


def _clusters(vs: set[str], edges: list[tuple[str, str]], index: dict[str, int]) -> list[list[str]]:
    parent = {v: v for v in vs}

    def find(v: str) -> str:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for s, t in edges:
        parent[find(s)] = find(t)
    groups: dict[str, list[str]] = defaultdict(list)
    for v in sorted(vs, key=index.__getitem__):
        groups[find(v)].append(v)
    return sorted(groups.values(), key=lambda g: index[g[0]])


def _layer(
    vs: list[str], edges: list[tuple[str, str]], index: dict[str, int], info: dict[str, tuple[str, str]]
) -> tuple[dict[str, tuple[float, float, float]], float, float]:
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for s, t in edges:
        preds[t].append(s)
        succs[s].append(t)
    level: dict[str, int] = {}
    for v in vs:  # vs is in topological order
        level[v] = max((level[p] + 1 for p in preds[v] if p in level), default=0)
    for v in vs:  # a source sits just above its first consumer, not all sources in layer 0
        if not preds[v] and succs[v]:
            level[v] = max(0, min(level[t] for t in succs[v]) - 1)
    layers: list[list[str]] = [[] for _ in range(max(level.values(), default=0) + 1)]
    for v in vs:
        layers[level[v]].append(v)
    pos = {v: float(i) for layer in layers for i, v in enumerate(layer)}
    for sweep in range(4):  # barycentre ordering, down then up
        seq = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        for layer in seq:
            nbr = preds if sweep % 2 == 0 else succs
            bary = {v: sum(pos[u] for u in nbr[v]) / len(nbr[v]) if nbr[v] else pos[v] for v in layer}
            layer.sort(key=lambda v: (bary[v], index[v]))
            for i, v in enumerate(layer):
                pos[v] = float(i)
    widths = {v: max(len(info[v][0]), len(_short(info[v][1]))) * CHAR_W + 16 for v in vs}
    lines: list[list[str]] = []  # each layer in lines of at most ROW_WIDTH
    gaps: list[float] = []  # the gap above each line
    for layer in layers:
        x, first = 0.0, len(lines)
        for v in layer:
            if len(lines) == first or (x > 0 and x + widths[v] > ROW_WIDTH):
                lines.append([])
                gaps.append(GAP_Y if len(lines) - 1 == first else GAP_WRAP)
                x = 0.0
            lines[-1].append(v)
            x += widths[v] + GAP_X
    boxes: dict[str, tuple[float, float, float]] = {}
    total_w = max((sum(widths[v] for v in line) + GAP_X * (len(line) - 1) for line in lines), default=0.0)
    y = -float(GAP_Y)
    for line, gap in zip(lines, gaps):  # each line centred under the widest
        y += gap
        x = (total_w - sum(widths[v] for v in line) - GAP_X * (len(line) - 1)) / 2
        for v in line:
            boxes[v] = (x, y, widths[v])
            x += widths[v] + GAP_X
        y += BOX_H
    return boxes, total_w, max(y, 0.0)
