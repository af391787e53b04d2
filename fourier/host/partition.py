"""Place every node of a graph on the host or the device, with the fewest values crossing.

What must run on the host: ops with the ``host`` trait (hash tables, string hashing,
`fourier.ops.host`; not a node its op's ``device_if`` gives a device form, `node_traits`) and every op that reads or produces a string or a table handle
(`fourier.ir.types.HOST_DTYPES`), and, since the host part runs before the device part, everything
such a node reads from. Everything else has a device lowering and goes to the device, except that
a cheap op holding no weights (a cast, a reshape, a concatenation, an elementwise op on what the
host made) may stay on the host when that leaves fewer values to cross. With ``host_tables`` (the
compiler's ``--host-tables SIZE``), a gather from a constant embedding table larger than that
stays on the host too, with the ids it reads: the table lives in host memory and only the rows it
gathers cross, for tables too large for the device.

The choice is a minimum s-t cut (networkx) over a flow network built from the IR:

- source -> node (unbounded) for what must run on the host; node -> sink for what may run on
  the device: ``MOVE_COST`` for a cheap op (less than one crossing, all of them together), else
  unbounded (it never moves);
- per value a node computes, node -> value (capacity 1) and value -> each reader (unbounded): a
  value crosses once however many device nodes read it;
- reader -> producer (unbounded) for every edge: nothing the device computes flows back to the
  host.

Ops whose output size depends on the values (the ``value_sized`` trait: ``Where``, ``Unique``,
``SparseFillEmptyRows``, ``SparseSegment*``, `fourier.ops.sparse`) run on the host, and so does
every node reading a value they made, directly or through such readers, until a value is per-row
again: its first dimension the batch, the others fixed (the ``[batch, D]`` embedding a feature
column's combined rows are reshaped into). Inference writes such a value's rows as ``?`` (a segment
count is the largest id + 1); the partitioner finds them by running the nodes around the
value-sized ones on small probe requests (several batch sizes; strings all distinct, all empty,
mixed; integers from 0, all -1, mixed) with the tables bound: a first dimension that is the same
multiple of the batch in every probe is that multiple of ``N``, a later one of the same size in
every probe is that size, and any other stays value-sized. A per-row value crosses with that type,
and the device part is inferred again from it. In such a graph, no other value the host made
crosses (a sparse tensor's dense shape, a row count: the device would lose what inference knows of
it): its readers stay on the host. A probe is evidence, not proof; a value that broke the pattern
at run time would meet the device part's input check (its rows, or its fixed size, disagreeing),
not be served wrong.

Graph inputs and constants are not placed: each part gets its own copy of those it reads. The
`Plan` holds the placement, the crossing values and the two parts as ordinary IR graphs: the
host part maps the inputs it reads to the crossing values (and the outputs computed on the host);
the device part reads the crossing values as inputs beside the graph's own, and `fourier.compile`
compiles it like any graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

import fourier.ops  # noqa: F401  (fills the registry the parts are built with)
from fourier.host.tables import HostTable
from fourier.importer.graphdef import sequence_dim
from fourier.ir.core import Graph, Node, Value
from fourier.ir.printer import INLINE_CONST_ELEMENTS
from fourier.ir.types import BATCH, HOST_DTYPES, UNKNOWN, Dim, TensorType, dim_to_sym
from fourier.ir.verifier import verify
from fourier.ops.registry import get_op, node_traits

__all__ = ["HOST", "DEVICE", "Crossing", "Plan", "partition", "MOVE_COST_TOTAL"]

HOST, DEVICE = "host", "device"
_FREE = ("Placeholder", "Const")  # copied into each part that reads them, never placed
# Cheap ops that may stay on the host when that saves crossings (besides elementwise/identity ops).
_MOVABLE = frozenset(
    {"Cast", "Reshape", "ExpandDims", "Squeeze", "ConcatV2", "Pack", "SelectV2", "Select",
     "ZerosLike", "OnesLike", "Transpose", "StridedSlice", "Slice"}
)  # fmt: skip
# All movable nodes on the host together cost less than this one crossing: a crossing saved always
# wins, and with nothing saved every movable node stays on the device.
MOVE_COST_TOTAL = 0.5


@dataclass(frozen=True)
class Crossing:
    """A value the host part computes and the device part reads: the device part's input ``name``."""

    value: Value
    name: str
    readers: tuple[str, ...]  # the device nodes reading it
    per_row: TensorType | None = None  # its type found by probing, where inference wrote ``?``

    @property
    def type(self) -> TensorType:
        return self.per_row or self.value.type

    def __str__(self) -> str:
        readers = ", ".join(self.readers[:3]) + (", ..." if len(self.readers) > 3 else "")
        return f"{self.value.name} : {self.type} -> input {self.name!r} (read by {readers})"


@dataclass
class Plan:
    """Where each node runs (`placement`, with `reasons` for the host side), the values that
    cross, and the two parts as IR graphs (``device`` is None when nothing runs there)."""

    graph: Graph
    placement: dict[str, str]
    reasons: dict[str, str]
    crossings: list[Crossing]
    host: Graph
    device: Graph | None
    host_outputs: list[str] = field(default_factory=list)  # graph outputs the host part computes
    cut_value: float = 0.0

    @property
    def host_nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if self.placement.get(n.name) == HOST]

    @property
    def device_nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if self.placement.get(n.name) == DEVICE]

    def __str__(self) -> str:
        host, device = self.host_nodes, self.device_nodes
        lines = [
            f"partition of @{self.graph.name}: {len(host)} nodes on the host, {len(device)} on the "
            f"device, {len(self.crossings)} values cross"
        ]
        inputs = sorted({i.name for i in self.host.inputs})
        lines.append(f"host (reads {', '.join(inputs) or 'no inputs'}):")
        for n in host:
            if n.op != "Identity":
                lines.append(f"  {n.op:<26} {n.name}  ({self.reasons.get(n.name, '')})")
        identities = sum(1 for n in host if n.op == "Identity")
        if identities:
            lines.append(f"  (and {identities} Identity)")
        lines.append("crossing (host -> device):")
        lines += [f"  {c}" for c in self.crossings] or ["  (none)"]
        if self.host_outputs:
            lines.append(f"outputs computed on the host: {', '.join(self.host_outputs)}")
        counts: dict[str, int] = {}
        for n in device:
            counts[n.op] = counts.get(n.op, 0) + 1
        ops = ", ".join(
            f"{op} x{c}" if c > 1 else op for op, c in sorted(counts.items(), key=lambda kv: -kv[1])
        )
        lines.append(f"device: {ops or '(nothing)'}")
        return "\n".join(lines)


def needs_host(graph: Graph, host_tables: int | None = None) -> bool:
    """Whether some node of ``graph`` can only run on the host (strings, tables, host ops, and
    with ``host_tables`` gathers from embedding tables larger than that many bytes)."""
    return any(_must_host(n) is not None or _big_table(n, host_tables) for n in graph.nodes)


_GATHERS = ("GatherV2", "ResourceGather")


def _big_table(node: Node, limit: int | None) -> str | None:
    """Why a gather stays on the host with ``limit`` (``--host-tables``): its table, a constant,
    takes more than ``limit`` bytes; None otherwise."""
    if limit is None or node.op not in _GATHERS:
        return None
    table = node.inputs[0].producer
    while table.op == "Identity":
        table = table.inputs[0].producer
    if table.op != "Const":
        return None
    size = int(table.attrs["value"].nbytes)
    if size <= limit:
        return None
    return f"gathers rows of a {size / 2**20:.2f} MiB table (host tables above {limit / 2**20:.2f} MiB)"


def _must_host(node: Node) -> str | None:
    """Why ``node`` can only run on the host, or None."""
    if "host" in node_traits(node.op, node.attrs):
        return "host op"
    for what, values in (("reads", node.inputs), ("makes", node.outputs)):
        for v in values:
            if v.type.dtype in HOST_DTYPES:
                return f"{what} a {v.type.dtype} value"
    return None


def _movable(node: Node) -> bool:
    """A cheap op holding no weights, which may stay on the host to save crossings."""
    traits = get_op(node.op).traits
    if node.op not in _MOVABLE and not ({"elementwise", "identity"} & traits):
        return False
    return not any(
        v.producer.op == "Const" and v.producer.attrs["value"].size > INLINE_CONST_ELEMENTS
        for v in node.inputs
    )


def _readers(graph: Graph) -> dict[int, list[Node]]:
    out: dict[int, list[Node]] = {}
    for n in graph.nodes:
        for v in n.inputs:
            out.setdefault(id(v), []).append(n)
    return out


def partition(
    graph: Graph, tables: Mapping[str, HostTable] | None = None, host_tables: int | None = None
) -> Plan:
    """Place every node of ``graph`` on the host or the device and build the two parts; ``tables``
    (by name) let the probes run the lookups around value-sized ops (see the module doc);
    ``host_tables`` keeps gathers from constant tables larger than that many bytes on the host
    (only the rows they gather cross)."""
    nodes = [n for n in graph.nodes if n.op not in _FREE]
    reasons: dict[str, str] = {}
    for n in nodes:
        why = _must_host(n) or _big_table(n, host_tables)
        if why is not None:
            reasons[n.name] = why
    sized = any("value_sized" in node_traits(n.op, n.attrs) for n in nodes)
    per_row = _probe_types(graph, tables or {}) if sized else {}
    readers = _readers(graph)
    while True:
        _pull_to_host(graph, nodes, per_row if sized else None, reasons)
        host_side, cut_value = _cut(nodes, reasons, readers)
        if not sized:
            break
        # A value the cut sends across must be per-row; else its device readers join the host.
        late = {
            r.name: f"reads {v.name}, made on the host and not per-row"
            for n in nodes
            if n.name in host_side
            for v in n.outputs
            if not _per_row(per_row.get(id(v), v.type))
            for r in readers.get(id(v), [])
            if r.op not in _FREE and r.name not in host_side
        }
        if not late:
            break
        reasons.update(late)
    for name in host_side - set(reasons):
        reasons[name] = "on the host: fewer values cross"
    placement = {n.name: HOST if n.name in host_side else DEVICE for n in nodes}
    return _build(graph, placement, reasons, readers, cut_value, per_row)


def _pull_to_host(
    graph: Graph, nodes: list[Node], per_row: dict[int, TensorType] | None, reasons: dict[str, str]
) -> None:
    """Add to ``reasons`` what feeds a host node (the host part runs first) and, with ``per_row``
    (a graph with value-sized ops), what reads a host value that is not per-row, to a fixpoint."""
    while True:
        before = len(reasons)
        if per_row is not None:
            _value_sized_readers(graph, per_row, reasons)
        stack = [n for n in nodes if n.name in reasons]
        while stack:
            n = stack.pop()
            for v in n.inputs:
                p = v.producer
                if p.op not in _FREE and p.name not in reasons:
                    reasons[p.name] = f"feeds {n.name}"
                    stack.append(p)
        if len(reasons) == before:
            return


def _cut(
    nodes: list[Node], reasons: dict[str, str], readers: dict[int, list[Node]]
) -> tuple[set[str], float]:
    """The host side of a minimum cut with ``reasons``' nodes on the host, and the cut's value."""
    movable = [n for n in nodes if n.name not in reasons and _movable(n)]
    move_cost = MOVE_COST_TOTAL / (len(movable) + 1)
    net = nx.DiGraph()
    src, sink = ("s",), ("t",)
    net.add_nodes_from([src, sink])
    for n in nodes:
        if n.name in reasons:
            net.add_edge(src, n.name)  # no capacity: unbounded
        elif n in movable:
            net.add_edge(n.name, sink, capacity=move_cost)
        else:
            net.add_edge(n.name, sink)
        for v in n.outputs:
            users = [r for r in readers.get(id(v), []) if r.op not in _FREE]
            if not users:
                continue
            aux = ("value", n.name, v.index)
            net.add_edge(n.name, aux, capacity=1.0)
            for r in users:
                net.add_edge(aux, r.name)
                net.add_edge(r.name, n.name)  # a device node never feeds a host node
    if not reasons:
        return set(), 0.0
    cut_value, (reach, _) = nx.minimum_cut(net, src, sink)
    return {x for x in reach if isinstance(x, str)}, float(cut_value)


# -- value-sized ops: probing which of their results are per-row again ---------------------------

PROBES = ((3, "distinct"), (5, "empty"), (4, "mixed"), (7, "distinct"))  # (batch, kind of data)


def _per_row(t: TensorType) -> bool:
    """A value the device can take: its first dimension the batch (a multiple), the others fixed."""
    if t.shape is None or not t.shape or t.dtype in HOST_DTYPES:
        return False
    first = dim_to_sym(t.shape[0])
    return (
        first is not None
        and not isinstance(first, int)
        and first.names == (BATCH,)
        and all(isinstance(dim_to_sym(d), int) for d in t.shape[1:])
    )


def _value_sized_readers(graph: Graph, per_row: dict[int, TensorType], reasons: dict[str, str]) -> None:
    """Put on the host every reader of a value the host made (a value-sized op, a string op, and
    their readers, transitively) that is not per-row: a dense shape or a row count must not cross,
    the device would lose what inference knows of it. A per-row value stops the spread."""
    spread: set[int] = set()
    for n in graph.nodes:
        if n.op in _FREE:
            continue
        start = n.name in reasons or "value_sized" in node_traits(n.op, n.attrs)
        held = [v for v in n.inputs if id(v) in spread and not _per_row(per_row.get(id(v), v.type))]
        if start or held:
            if not start:
                t = held[0].type
                why = (
                    "whose size depends on the values"
                    if t.shape is None or UNKNOWN in t.shape
                    else "made on the host and not per-row"
                )
                reasons.setdefault(n.name, f"reads {held[0].name}, {why}")
            spread.update(id(v) for v in n.outputs)


def _probe_input(node: Node, batch: int, kind: str, rng: np.random.Generator) -> np.ndarray | None:
    t = node.output.type
    if t.shape is None:
        return None
    shape = []
    for d in t.shape:
        s = dim_to_sym(d)
        if s is None or (not isinstance(s, int) and s.names != (BATCH,)):
            return None  # another unknown dimension: the probes could not tell it from the batch
        shape.append(s if isinstance(s, int) else s.value({BATCH: batch}))
    size = int(np.prod(shape))
    if t.dtype == "string":
        words = {
            "distinct": [f"probe{i}".encode() for i in range(size)],
            "empty": [b""] * size,
            "mixed": [b"" if i % 3 == 0 else f"w{i % 2}".encode() for i in range(size)],
        }[kind]
        arr = np.empty(size, dtype=object)
        arr[:] = words
        return arr.reshape(shape)
    if t.dtype in HOST_DTYPES:
        return None
    dtype = np.dtype(t.dtype)
    if kind == "empty":  # -1: the missing id of a feature column's integer input
        return np.full(shape, -1 if dtype.kind == "i" else 0, dtype)
    if dtype.kind in "iu":
        return rng.integers(-1 if kind == "mixed" and dtype.kind == "i" else 0, 3, shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    return rng.uniform(0.0, 2.0, shape).astype(dtype)


def _probe_types(graph: Graph, tables: Mapping[str, HostTable]) -> dict[int, TensorType]:
    """Types with the batch in place of ``?`` for the values around value-sized ops whose
    size is a fixed multiple of the batch in every probe (empty when a probe cannot run)."""
    readers = _readers(graph)
    region: set[str] = set()
    stack = [n for n in graph.nodes if "value_sized" in node_traits(n.op, n.attrs)]
    while stack:  # the value-sized ops and what reads their unknown-sized values, transitively
        n = stack.pop()
        if n.name in region:
            continue
        region.add(n.name)
        for v in n.outputs:
            if v.type.shape is None or UNKNOWN in v.type.shape:
                stack.extend(readers.get(id(v), []))
    needed = set(region)
    stack = [n for n in graph.nodes if n.name in region]
    while stack:  # and everything they read
        for v in stack.pop().inputs:
            if v.producer.name not in needed:
                needed.add(v.producer.name)
                stack.append(v.producer)
    shapes: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
    for batch, kind in PROBES:
        rng = np.random.default_rng(batch)
        env: dict[int, np.ndarray] = {}
        for n in graph.nodes:
            if n.name not in needed:
                continue
            if n.op == "Placeholder":
                value = _probe_input(n, batch, kind, rng)
                if value is None:
                    return {}
                outs: Sequence[np.ndarray] = [value]
            elif n.op == "HashTableV2":
                table = tables.get(n.attrs["shared_name"])
                if table is None:
                    return {}
                holder = np.empty((), dtype=object)
                holder[()] = table
                outs = [holder]
            else:
                try:
                    out = get_op(n.op).reference(n.attrs, *[env[id(v)] for v in n.inputs])
                except Exception:
                    return {}  # a probe the graph refuses proves nothing: no value is per-row
                outs = out if isinstance(out, (tuple, list)) else [out]
            for v, o in zip(n.outputs, outs):
                env[id(v)] = np.asarray(o)
                if n.name in region:
                    shapes.setdefault(id(v), []).append((batch, env[id(v)].shape))
    found: dict[int, TensorType] = {}
    for n in graph.nodes:
        for v in n.outputs if n.name in region else ():
            t = _probed(v.type, shapes.get(id(v), []))
            if t is not None and t != v.type:
                found[id(v)] = t
    return found


def _probed(t: TensorType, seen: list[tuple[int, tuple[int, ...]]]) -> TensorType | None:
    """``t`` with each unknown dimension the same multiple of the batch in every probe, or None."""
    if len(seen) != len(PROBES) or len({len(s) for _, s in seen}) != 1:
        return None
    rank = len(seen[0][1])
    declared = t.shape if t.shape is not None else (UNKNOWN,) * rank
    if len(declared) != rank:
        return None
    dims: list[Dim] = []
    for axis, d in enumerate(declared):
        if d != UNKNOWN:
            dims.append(d)
            continue
        sizes = {s[axis] for _, s in seen}
        ratios = {s[axis] / b for b, s in seen}
        if axis > 0 and len(sizes) == 1:  # the same size whatever the batch and the data
            dims.append(sizes.pop())
            continue
        if len(ratios) != 1 or (c := ratios.pop()) < 1 or c != int(c):
            return None
        dims.append(BATCH if c == 1 else f"{int(c)}*{BATCH}")
    return TensorType(t.dtype, tuple(dims))


def _build(
    graph: Graph,
    placement: dict[str, str],
    reasons: dict[str, str],
    readers: dict[int, list[Node]],
    cut_value: float,
    per_row: Mapping[int, TensorType] | None = None,
) -> Plan:
    on_host = [n for n in graph.nodes if placement.get(n.name) == HOST]
    on_device = [n for n in graph.nodes if placement.get(n.name) == DEVICE]
    crossings: list[Crossing] = []
    # A crossing is named after its producer, unlike any device node, input or output label.
    device_names = {n.name for n in graph.nodes if placement.get(n.name) != HOST}
    device_names |= {label for label, _ in graph.outputs}
    for n in on_host:
        for v in n.outputs:
            users = [r.name for r in readers.get(id(v), []) if placement.get(r.name) == DEVICE]
            if users:
                base = n.name if v.index == 0 else f"{n.name}_{v.index}"
                name, i = base, 1
                while name in device_names:
                    name, i = f"{base}_{i}", i + 1
                device_names.add(name)
                crossings.append(Crossing(v, name, tuple(users), (per_row or {}).get(id(v))))

    # Outputs the device computes come from the device part; when nothing runs there, the host
    # part returns every output (an input or a constant returned as it is included).
    from_host = [(name, v) for name, v in graph.outputs if placement.get(v.producer.name) == HOST]
    from_device = [(name, v) for name, v in graph.outputs if placement.get(v.producer.name) != HOST]
    device = None
    if on_device:
        probed = any(c.per_row is not None for c in crossings)  # the device part infers anew
        device = _part(graph.name, graph, on_device, {id(c.value): c for c in crossings}, from_device, probed)
        device.unused_inputs = list(graph.unused_inputs)
    else:
        from_host = list(graph.outputs)
    host = _part(f"{graph.name}_host", graph, on_host, {}, [(c.name, c.value) for c in crossings] + from_host)
    host_outputs = [name for name, _ in from_host]
    return Plan(graph, placement, reasons, crossings, host, device, host_outputs, cut_value)


def _part(
    name: str,
    graph: Graph,
    members: Iterable[Node],
    crossing: dict[int, Crossing],
    outputs: list[tuple[str, Value]],
    reinfer: bool = False,
) -> Graph:
    """A graph of ``members`` (in graph order), with copies of the inputs and constants they read
    and an input per crossing value they read; returns ``outputs``. With ``reinfer``, the members'
    types are inferred from the crossing types again instead of copied."""
    part = Graph(name)
    part.source, part.source_sha256 = graph.source, graph.source_sha256
    members = list(members)
    env: dict[int, Value] = {}
    wanted = {id(v) for n in members for v in n.inputs} | {id(v) for _, v in outputs}
    for c in crossing.values():  # crossing values first: inputs of the part
        if id(c.value) in wanted:
            shape = c.type.shape
            if shape is not None:
                shape = tuple(sequence_dim(a) if d == UNKNOWN else d for a, d in enumerate(shape))
            node = part.add_node(
                "Placeholder",
                [],
                {"dtype": c.type.dtype, "shape": shape},
                name=c.name,
                origin=c.value.producer.origin,
            )
            env[id(c.value)] = node.output
    for n in graph.nodes:
        free = n.op in _FREE and any(id(v) in wanted for v in n.outputs) and id(n.output) not in env
        if not free and n not in members:
            continue
        node = part.add_node(
            n.op,
            [env[id(v)] for v in n.inputs],
            dict(n.attrs),
            name=n.name,
            origin=n.origin,
            rule=n.rule,
            types=None if reinfer and n.op not in _FREE else [v.type for v in n.outputs],
        )
        node.lineage = n.lineage
        for old, new in zip(n.outputs, node.outputs):
            env[id(old)] = new
        if n.op == "Placeholder" and n.name in graph.input_defaults:
            part.input_defaults[n.name] = graph.input_defaults[n.name]
    part.set_outputs([(label, env[id(v)]) for label, v in outputs])
    verify(part)
    return part
