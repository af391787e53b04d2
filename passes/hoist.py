"""Request-level hoisting: compute what depends only on a request's shared inputs once, not per row.

A ranking request is one user and N candidates, and exported ranking graphs take every feature per
row, so the user's features arrive replicated N times and the user side is computed N times. When
the caller declares some inputs *shared* (the same in every row of a request), this pass rewrites
the graph so that

- each shared input takes one row (shape ``[1, ...]``, no longer batched);
- every node whose value is, row for row, a function of shared inputs alone is computed once, at
  batch 1 (*hoisted*);
- where a hoisted value meets a per-row value (or is an output), a ``BatchBroadcast`` repeats its
  one row for each row of the batch.

Which nodes may be hoisted is the padding proof's question turned around (`fourier.ops.padding`):
a node is hoisted when it depends on a shared input, on no per-row input, and every output is
``rows`` along one axis (row ``j`` of the output depends only on row ``j`` of the inputs) -- so
computing it on one row gives that row, which every row shares. A node that mixes rows (a
reduction over the batch, a value that holds the batch's size) is not hoisted: it keeps being
computed at full batch on the shared rows repeated, and the plan says why. Size arithmetic that a
hoisted node reads (``Shape`` of a shared input feeding a ``Reshape``) is computed in both forms:
at batch 1 for the hoisted side, at full batch for the rest.

`plan_hoist` only analyses; `hoist_shared` rewrites the graph in place and returns the plan.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from fourier.errors import CompileError
from fourier.ir.core import Graph, Node, Value
from fourier.ir.rewriter import Builder, Rewriter
from fourier.ir.types import BATCH, TensorType, dims_product
from fourier.ops.padding import State
from fourier.ops.registry import get_op
from fourier.passes.base import Pass, PassResult
from fourier.passes.independence import analyze

__all__ = ["HoistPlan", "HoistShared", "plan_hoist", "hoist_shared", "shared_inputs", "HoistError"]

BROADCAST_RULE = "hoist-shared"


class HoistError(CompileError):
    """The shared inputs cannot be hoisted as declared (unknown name, no per-row input left, ...)."""


@dataclass
class HoistPlan:
    """What hoisting does to a graph: the nodes computed once per request, the nodes that depend
    only on shared inputs but keep their rows (and why), and the broadcasts inserted."""

    shared: tuple[str, ...]
    like: str = ""  # the per-row input whose first dimension is the batch
    hoisted: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # node -> why it is not hoisted
    broadcasts: list[str] = field(default_factory=list)  # node names, after the rewrite
    notes: list[str] = field(default_factory=list)  # for the compile report

    def to_json(self) -> dict[str, Any]:
        return {
            "shared": list(self.shared),
            "like": self.like,
            "hoisted": list(self.hoisted),
            "kept": dict(self.kept),
            "broadcasts": list(self.broadcasts),
            **({"notes": list(self.notes)} if self.notes else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HoistPlan:
        return cls(
            tuple(d.get("shared", ())),
            str(d.get("like", "")),
            list(d.get("hoisted", [])),
            dict(d.get("kept", {})),
            list(d.get("broadcasts", [])),
            list(d.get("notes", [])),
        )

    def summary(self) -> str:
        return (
            f"shared inputs {', '.join(self.shared)}: {len(self.hoisted)} nodes computed once per request, "
            f"{len(self.broadcasts)} broadcasts, {len(self.kept)} kept per row"
        )


@dataclass
class _Analysis:
    plan: HoistPlan
    hoisted: set[Node]
    axis: dict[Value, tuple[int, int]]  # hoisted value -> (axis, inner) of its rows
    needed1: set[Node]  # nodes computed at batch 1 (hoisted, and size arithmetic they read)


def _row_layout(v: Value, s: State) -> tuple[int, int] | None:
    """(axis, inner) when ``v``'s rows lie along one axis of size N*inner, else None."""
    if s.kind != "rows" or s.outer != 1 or not isinstance(s.inner, int):
        return None
    shape = v.type.shape
    if shape is None or not 0 <= s.axis < len(shape):
        return None
    if shape[s.axis] != dims_product((BATCH, s.inner)):
        return None
    return s.axis, s.inner


def shared_inputs(graph: Graph, shared: Sequence[str]) -> list[str]:
    """The declared shared inputs ``graph`` reads, or a `HoistError` for a declaration that
    cannot be hoisted (an unknown name, an input without the batch, every batched input)."""
    return _declaration(graph, shared)[0]


def _declaration(graph: Graph, shared: Sequence[str]) -> tuple[list[str], str]:
    """The declared shared inputs the graph reads, and the per-row input the batch is taken
    from; a `HoistError` for a declaration that cannot be hoisted."""
    inputs = {n.name: n for n in graph.inputs}
    unused = {u[0] for u in graph.unused_inputs}  # declared but never read: nothing to hoist
    unknown = [s for s in shared if s not in inputs and s not in unused]
    if unknown:
        raise HoistError(
            f"shared input {unknown[0]!r} is not an input of the graph; its inputs are: " + ", ".join(inputs)
        )
    read = [s for s in shared if s in inputs]
    for name in read:
        shape = inputs[name].output.type.shape
        if not shape or shape[0] != BATCH:
            raise HoistError(
                f"shared input {name!r} has type {inputs[name].output.type}: only an input whose "
                f"first dimension is the batch {BATCH} can be shared"
            )
    per_row = [
        n
        for n in graph.inputs
        if n.name not in read and n.output.type.shape and n.output.type.shape[0] == BATCH
    ]
    if not per_row:
        raise HoistError(
            "every batched input is declared shared: a hoisted model needs at least one per-row "
            "(candidate) input to take the batch from"
        )
    return read, per_row[0].name


def _analyse(graph: Graph, declared: Sequence[str]) -> _Analysis:
    shared, like = _declaration(graph, declared)
    plan = HoistPlan(tuple(declared), like)
    states = analyze(graph, BATCH).states
    on_shared: set[Node] = set()
    on_row: set[Node] = set()
    for node in graph.nodes:
        if node.op == "Placeholder":
            (on_shared if node.name in shared else on_row).add(node)
            continue
        producers = [v.producer for v in node.inputs]
        if any(p in on_row for p in producers):
            on_row.add(node)
        elif any(p in on_shared for p in producers):
            on_shared.add(node)
    hoisted: set[Node] = set()
    axis: dict[Value, tuple[int, int]] = {}
    for node in graph.nodes:
        if node not in on_shared or node.op == "Placeholder" or node in on_row:
            continue
        layouts: list[tuple[int, int] | None] = []
        why = ""
        for v in node.outputs:
            s = states.get(v)
            if s is None:
                why = "not analysed"
                break
            if s.kind == "free" and not any(isinstance(d, str) and BATCH in d for d in v.type.shape or ()):
                layouts.append(None)
                continue
            lay = _row_layout(v, s)
            if lay is None:
                why = (
                    "; ".join(str(c) for c in s.culprits)
                    if s.kind == "mixed"
                    else f"its value is {s.kind}"
                    + (" (depends on the batch's size)" if s.kind == "size" else " along a folded axis")
                )
                break
            layouts.append(lay)
        if why:
            plan.kept[node.name] = why
            continue
        hoisted.add(node)
        for v, lay in zip(node.outputs, layouts):
            if lay is not None:
                axis[v] = lay
    # Worth it only above some compute: moving data (a lookup, a reshape, an elementwise op) costs
    # about what broadcasting its result costs, and hoisting it splits fusions (one table lookup
    # for all fields becomes two). Such nodes stay per row, fed the broadcast shared input; a node
    # stays hoisted when it or a hoisted node it reads contracts or reduces.
    worth: set[Node] = set()
    for node in graph.nodes:
        if node in hoisted and (
            _computes(node) or any(v.producer in worth for v in node.inputs if v.producer in hoisted)
        ):
            worth.add(node)
    for node in graph.nodes:
        if node in hoisted and node not in worth:
            plan.kept[node.name] = "moves data only: broadcasting its result would cost as much"
    hoisted = worth
    axis = {v: lay for v, lay in axis.items() if v.producer in worth}
    # Nodes computed at batch 1: the hoisted ones and every shared-only node they read.
    needed1: set[Node] = set()
    stack = list(hoisted)
    while stack:
        n = stack.pop()
        if n in needed1:
            continue
        needed1.add(n)
        stack += [v.producer for v in n.inputs if v.producer in on_shared]
    plan.hoisted = [n.name for n in graph.nodes if n in hoisted]
    for name in list(plan.kept):  # only what someone still computes per row is worth reporting
        if graph.node(name) in needed1:
            del plan.kept[name]
    a = _Analysis(plan, hoisted, axis, needed1)
    # The values a broadcast will repeat: hoisted rows (or shared inputs) read at full batch.
    at_full = _used_at_full_batch(graph, a) | {
        n for n in graph.nodes if n not in needed1 and n not in hoisted
    }
    repeated: dict[str, None] = {}
    reads = [v for n in graph.nodes if n in at_full and n.op != "Placeholder" for v in n.inputs]
    for v in reads + [v for _, v in graph.outputs]:
        p = v.producer
        if (p in hoisted and v in axis) or (p.op == "Placeholder" and p.name in shared):
            repeated.setdefault(_broadcast_name(v), None)
    plan.broadcasts = list(repeated)
    return a


# -- dense layers split where the request-level side meets the candidates ------------------------


def split_dense_layers(graph: Graph, shared: Sequence[str]) -> int:
    """Rewrite dense layers so that their request-level part can be hoisted; returns the number
    of rewrites. Three exact identities on ``FusedDense`` (``y = x W + b``, activation on ``y``):

    - *concat*: ``[x1, ..., xk] W + b = x1 W1 + ... + xk Wk + b`` (``Wi`` the rows of ``W`` for
      ``xi``), when the concatenation along the features mixes request-level and per-row parts
      (DIN's attention unit: ``[q, k, q - k, q * k] W``; the first layer of a DNN over the user's
      and the candidate's embeddings), the activation applied to the sum;
    - *difference*: ``(a - b) W = a W - b W`` and ``(a + b) W = a W + b W``, when one side is
      request-level and the other per row (no bias, no activation);
    - *repeat*: a dense layer of ``x`` repeated along a non-feature axis (``ConcatV2([x] * k)``,
      how deepctr tiles the query over the history) is the repetition of the dense layer of
      ``x``: k times fewer products (any bias and activation).

    After them ``k W2`` and ``k W3`` read only the history and are hoisted; the per-candidate
    work that remains is ``(q * k) W4``. Float sums are reassociated (a few ulp)."""
    side = _sides(graph, shared)
    rw = Rewriter(graph)
    count = 0

    def known(v: Value) -> Any:
        return (
            v.known
            if v.known is not None
            else v.producer.attrs.get("value")
            if v.producer.op == "Const"
            else None
        )

    def side_of(v: Value) -> str:
        if v in side:
            return side[v]
        ins = {side_of(u) for u in v.producer.inputs}
        s = "row" if "row" in ins else "shared" if "shared" in ins else "const"
        side[v] = s
        return s

    changed = True
    rounds = 0
    while changed and rounds < 8:
        changed, rounds = False, rounds + 1
        for node in rw.nodes():
            if node.op != "FusedDense" or not rw.alive(node):
                continue
            x, w = node.inputs[0], node.inputs[1]
            bias = node.inputs[2] if len(node.inputs) == 3 else None
            wv = known(w)
            xp = x.producer
            if wv is None or x.type.shape is None:
                continue
            b = Builder(rw, before=node, base=node.name, origin=node.origin, rule=BROADCAST_RULE)
            act = node.attrs["activation"]
            new: Value | None = None
            pieces = _feature_pieces(x, known)
            if pieces is not None and {side_of(v) for v, _ in pieces} >= {"shared", "row"}:
                # One sum per side, so the request-level part is broadcast once.
                sums: dict[str, Value] = {}
                row = 0
                for i, (v, k) in enumerate(pieces):
                    if v.type.shape is not None and len(v.type.shape) != len(x.type.shape):
                        flat = b.const(np.asarray([-1, k], dtype=np.int32), suffix=f"/split{i}/shape")
                        v = b.op("Reshape", [v, flat], suffix=f"/split{i}/flat")
                    wi = b.const(np.asarray(wv)[row : row + k], suffix=f"/split{i}/w")
                    row += k
                    yi = b.op("FusedDense", [v, wi], {"activation": ""}, suffix=f"/split{i}")
                    key = "shared" if side_of(v) == "shared" else "row"
                    sums[key] = b.op("AddV2", [sums[key], yi], suffix=f"/split{i}/sum") if key in sums else yi
                new = b.op("AddV2", [sums["row"], sums["shared"]], suffix="/split/sum")
                if bias is not None:
                    new = b.op("AddV2", [new, bias], suffix="/split/bias")
                if act:  # every activation a dense layer fuses is also an op of its own
                    new = b.op(act, [new], suffix="/split/activation")
            elif xp.op == "ConcatV2":
                parts, axis_v = xp.inputs[:-1], known(xp.inputs[-1])
                rank = len(x.type.shape)
                axis = None if axis_v is None else int(np.asarray(axis_v)) % rank
                if axis is not None and axis != rank - 1 and len(set(map(id, parts))) == 1:
                    one = b.op("FusedDense", [parts[0], *node.inputs[1:]], dict(node.attrs), suffix="/repeat")
                    new = b.op("ConcatV2", [one] * len(parts) + [xp.inputs[-1]], suffix="/repeated")
            elif xp.op in ("Sub", "AddV2") and bias is None and not act:
                a, c = xp.inputs
                if a.type == c.type == x.type and {side_of(a), side_of(c)} == {"shared", "row"}:
                    ya = b.op("FusedDense", [a, w], {"activation": ""}, suffix="/lhs")
                    yc = b.op("FusedDense", [c, w], {"activation": ""}, suffix="/rhs")
                    new = b.op(xp.op, [ya, yc], suffix="/distributed")
            if new is not None:
                rw.replace_node(node, [new])
                count += 1
                changed = True
        rw.finish()
        rw = Rewriter(graph)
    return count


def _feature_pieces(x: Value, known: Any) -> list[tuple[Value, int]] | None:
    """``x``'s features as the concatenation of smaller values: (value, its number of features);
    a value of higher rank is flattened to ``[-1, features]`` first. Sees through nested
    concatenations along the features, and through a flatten (``[N, a, b, ...] -> [N, a*b*...]``)
    of a concatenation along an axis with only unit axes before it (deepctr's embeddings:
    ``[N, fields, dim]`` concatenated over fields, then flattened). None: not a concatenation."""
    shape = x.type.shape
    if shape is None or len(shape) < 2:
        return None
    p = x.producer

    def axis_of(c: Node, rank: int) -> int | None:
        a = known(c.inputs[-1])
        return None if a is None else int(np.asarray(a)) % rank

    def along(v: Value, axis: int) -> list[Value]:
        """``v`` as the concatenation of values along ``axis`` (itself if it is not one)."""
        c = v.producer
        if c.op == "ConcatV2" and v.type.shape is not None and axis_of(c, len(v.type.shape)) == axis:
            return [u for part in c.inputs[:-1] for u in along(part, axis)]
        return [v]

    if p.op == "ConcatV2" and axis_of(p, len(shape)) == len(shape) - 1:
        parts = along(x, len(shape) - 1)
        widths = [v.type.shape[-1] if v.type.shape else None for v in parts]
        if all(isinstance(k, int) for k in widths):
            return [(v, int(k)) for v, k in zip(parts, widths)]  # type: ignore[arg-type]
        return None
    if p.op == "Reshape" and len(shape) == 2:
        inner = p.inputs[0]
        ishape = inner.type.shape
        c = inner.producer
        if c.op != "ConcatV2" or ishape is None or len(ishape) < 2 or ishape[0] != shape[0]:
            return None
        axis = axis_of(c, len(ishape))
        if axis is None or axis == 0 or any(d != 1 for d in ishape[1:axis]):
            return None
        pieces = []
        for v in along(inner, axis):
            rest = v.type.shape[1:] if v.type.shape else None
            if rest is None or not all(isinstance(d, int) for d in rest):
                return None
            pieces.append((v, math.prod(int(d) for d in rest)))
        return pieces
    return None


def _sides(graph: Graph, shared: Sequence[str]) -> dict[Value, str]:
    """Each value's side: ``shared`` (request-level inputs only), ``row`` (a per-row input), or
    ``const`` (neither)."""
    side: dict[Value, str] = {}
    for node in graph.nodes:
        if node.op == "Placeholder":
            s = "shared" if node.name in shared else "row"
        else:
            ins = {side[v] for v in node.inputs}
            s = "row" if "row" in ins else "shared" if "shared" in ins else "const"
        for v in node.outputs:
            side[v] = s
    return side


def _computes(node: Node) -> bool:
    """Whether ``node``'s work per row exceeds the size of its result (the registry's traits)."""
    traits = get_op(node.op).traits
    return "compute" in traits or "reduction" in traits


def _broadcast_name(v: Value) -> str:
    return f"{v.producer.name}/broadcast" + (f"_{v.index}" if v.index else "")


def plan_hoist(graph: Graph, shared: Sequence[str]) -> HoistPlan:
    """What `hoist_shared` would do to ``graph``, without changing it."""
    return _analyse(graph, shared).plan


def hoist_shared(graph: Graph, shared: Sequence[str]) -> HoistPlan:
    """Rewrite ``graph`` in place so that the subgraph depending only on ``shared`` inputs runs
    once per request (see the module docstring); returns the plan."""
    _declaration(graph, shared)  # refuses a bad declaration before anything changes
    split_dense_layers(graph, shared)
    a = _analyse(graph, shared)
    plan, hoisted = a.plan, a.hoisted
    plan.broadcasts = []
    new = Graph(graph.name)
    new.source, new.source_sha256 = graph.source, graph.source_sha256
    new.unused_inputs = list(graph.unused_inputs)
    new.input_defaults = dict(graph.input_defaults)
    new.bound_inputs = dict(graph.bound_inputs)
    one: dict[Value, Value] = {}  # old value -> its batch-1 form (hoisted side)
    full: dict[Value, Value] = {}  # old value -> its full-batch form
    old_like = graph.node(plan.like).output
    broadcast: dict[Value, Value] = {}
    used_full = _used_at_full_batch(graph, a)

    def at_full(v: Value) -> Value:
        if v in full:
            return full[v]
        if v in broadcast:
            return broadcast[v]
        lay = a.axis.get(v) if v.producer in hoisted else (0, 1)
        assert lay is not None and v in one, v
        ax, inner = lay
        node = new.add_node(
            "BatchBroadcast",
            [one[v], full[old_like]],
            {"axis": ax, "inner": inner},
            name=_broadcast_name(v),
            origin=v.producer.origin,
            rule=BROADCAST_RULE,
        )
        _expect(node.output, v.type)
        plan.broadcasts.append(node.name)
        broadcast[v] = node.output
        return node.output

    placeholders = [n for n in graph.nodes if n.op == "Placeholder"]  # first: broadcasts read one
    for node in placeholders + [n for n in graph.nodes if n.op != "Placeholder"]:
        if node.op == "Placeholder" and node.name in shared:
            t = node.output.type
            assert t.shape is not None
            attrs = dict(node.attrs, shape=(1, *t.shape[1:]))
            p = new.add_node("Placeholder", [], attrs, name=node.name, origin=node.origin)
            one[node.output] = p.output
            continue
        if node in a.needed1:
            name = node.name if node in hoisted else f"{node.name}/row"
            c = new.add_node(
                node.op,
                [one.get(v) or full[v] for v in node.inputs],
                dict(node.attrs),
                name=name,
                origin=node.origin,
                rule=node.rule,
            )
            for v, cv in zip(node.outputs, c.outputs):
                one[v] = cv
                if node in hoisted and v not in a.axis:  # free of the batch: the same in both forms
                    full[v] = cv
        if node not in hoisted and (node not in a.needed1 or node in used_full):
            c = new.add_node(
                node.op,
                [at_full(v) for v in node.inputs],
                dict(node.attrs),
                name=node.name,
                origin=node.origin,
                rule=node.rule,
            )
            for v, cv in zip(node.outputs, c.outputs):
                full[v] = cv
    new.set_outputs([(name, at_full(v)) for name, v in graph.outputs])
    graph.__dict__.update(new.__dict__)
    return plan


def _used_at_full_batch(graph: Graph, a: _Analysis) -> set[Node]:
    """Nodes of the batch-1 side that are not hoisted (size arithmetic) but that the full-batch
    side (or an output) also reads, directly or through other such nodes."""
    full = {n for n in graph.nodes if n not in a.needed1 and n not in a.hoisted}
    used: set[Node] = set()
    for _, v in graph.outputs:
        if v.producer in a.needed1 and v.producer not in a.hoisted:
            used.add(v.producer)
    for node in reversed(graph.nodes):
        if node in full or node in used:
            for v in node.inputs:
                if v.producer in a.needed1 and v.producer not in a.hoisted:
                    used.add(v.producer)
    return used


def _expect(v: Value, t: TensorType) -> None:
    if v.type != t:
        raise HoistError(f"hoisting changed the type of {v.name}: {t} -> {v.type} (a hoisting bug)")


@dataclass(frozen=True)
class HoistShared(Pass):
    """`hoist_shared` as a pass: ``hoist-shared{inputs=user_id;hist_item_id}``. It changes the
    graph's signature (the shared inputs take one row), so the compiler runs it first, before the
    optimization passes, which then fuse each side on its own."""

    name: ClassVar[str] = "hoist-shared"
    summary: ClassVar[str] = "compute what depends only on request-level inputs once per request"
    inputs: str = ""  # shared input names, separated by ';'

    def names(self) -> tuple[str, ...]:
        return tuple(n for n in self.inputs.split(";") if n)

    def run(self, graph: Graph) -> PassResult:
        if not self.names():
            return PassResult(False)
        plan = hoist_shared(graph, self.names())
        stats: Counter[str] = Counter(hoisted=len(plan.hoisted), broadcasts=len(plan.broadcasts))
        return PassResult(True, stats, plan.to_json())
