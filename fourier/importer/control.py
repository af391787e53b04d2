"""Import functional control flow: ``While`` / ``StatelessWhile`` and ``If`` / ``StatelessIf``.

Their regions (``cond`` and ``body``, ``then_branch`` and ``else_branch``) are functions of the
GraphDef's library. Unlike a call, a region is not inlined into the graph: each is imported on its
own, as a graph whose parameters ``arg0``, ``arg1``, ... are typed like the op's operands, and
stored in the op's attributes (`fourier.ops.control`). A region's body nodes keep the names the
function gives them under the function's name (``while_body_563/while/MatMul``), the same
expansion as inlining (`fourier.importer.functions.Inliner`); calls and loops inside a region are
imported the same way, recursively.

A loop's carried types are iterated to a fixpoint: the body is imported with the operands' types,
a carried value the body gives a more precise type (a TensorList reserved with an unknown element
dimension, which the body fills with ``[N, 32]`` items) takes it, and the body is imported again,
until the types settle.

Frozen graphs whose control flow was lowered (``convert_variables_to_constants_v2`` with
``lower_control_flow=True``, the default) hold loops in TensorFlow's v1 frame form instead: per
loop frame, ``Enter`` nodes bring values in, ``Merge(Enter, NextIteration)`` is a carried value,
``Switch(Merge, LoopCond)`` sends it to the body (output 1) or out through ``Exit`` (output 0), and
``LoopCond`` holds the predicate. `functionalize` rebuilds each outermost frame as the same loop
before anything else sees the graph: the condition is what ``LoopCond`` reads, computed from the
``Merge`` values; the body is what the ``NextIteration`` nodes read, computed from the ``Switch``
values; an ``Enter`` with ``is_constant`` is an invariant the body passes through; each ``Exit``
reads the loop's output. Frames nested in a body are rebuilt when that body is imported.
``Switch``/``Merge`` outside any frame (a lowered ``tf.cond``) are not rebuilt yet.

A region holds only constants that print inline; a larger one (a weight a function captured as a
constant) is moved out of the region into the graph and passed in as an extra operand (for a loop,
an extra carried value the body passes through unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from tensorboard.compat.proto.node_def_pb2 import NodeDef

from fourier.errors import FourierError, GraphImportError
from fourier.importer.functions import Inliner
from fourier.importer.protos import DTYPE_NAMES, GraphDef
from fourier.ir.core import Graph, Node, Value
from fourier.ir.printer import INLINE_CONST_ELEMENTS
from fourier.ir.types import UNKNOWN, TensorType
from fourier.ops.control import IF_OPS, WHILE_OPS, encode_region, join_types

__all__ = [
    "FUNCTIONAL_OPS",
    "FRAME_OPS",
    "Frame",
    "Cond",
    "Rebuilt",
    "functionalize",
    "RegionImporter",
    "MAX_REGION_DEPTH",
    "MAX_TYPE_ROUNDS",
]

FUNCTIONAL_OPS = (*WHILE_OPS, *IF_OPS)
_FRAME_BASE = ("Enter", "Exit", "Merge", "Switch", "NextIteration")
FRAME_OPS = (*_FRAME_BASE, *("Ref" + op for op in _FRAME_BASE), "LoopCond")
_FRAME_OPS_ALL = frozenset(FRAME_OPS)
# Regions nest (a loop inside a loop's body) at most this deep.
MAX_REGION_DEPTH = 16
# A loop's carried types settle within this many imports of its body.
MAX_TYPE_ROUNDS = 8

ImportGraph = Callable[..., Graph]
"""`fourier.importer.graphdef.import_graphdef` (passed in: it is what calls this module)."""

_DTYPE_ENUMS = {name: enum for enum, name in DTYPE_NAMES.items()}


class RegionImporter:
    """Imports the control-flow nodes of one GraphDef (see the module docstring): functional
    ``While`` / ``If`` nodes, and the loops `functionalize` rebuilt from frames (``frames``)."""

    def __init__(
        self,
        graph_def: Any,
        source: str,
        import_graph: ImportGraph,
        depth: int = 0,
        frames: Mapping[str, Rebuilt] | None = None,
    ) -> None:
        self.graph_def = graph_def
        self.source = source
        self.import_graph = import_graph
        self.depth = depth
        self.frames = dict(frames or {})
        self.functions = {f.signature.name: f for f in graph_def.library.function}

    def import_node(self, graph: Graph, node: Any, inputs: list[Value]) -> list[Value]:
        """Add the IR node for a functional ``While`` / ``If`` or a rebuilt frame; returns its
        output values."""
        where = f"{self.source}: node {node.name!r} ({node.op})"
        if self.depth >= MAX_REGION_DEPTH:
            raise GraphImportError(f"{where}: control flow nests more than {MAX_REGION_DEPTH} deep")
        frame = self.frames.get(node.name)
        if isinstance(frame, Cond):
            return self._rebuilt_if(graph, node, inputs, frame)
        if frame is not None:
            where = f"{self.source}: loop frame {frame.name!r}"
            return self._while(
                graph,
                node,
                inputs,
                where,
                lambda types: self._nodes_region(
                    frame.body, frame.body_outputs, types, f"{node.name}/body", where
                ),
                lambda types: self._nodes_region(
                    frame.cond, [frame.cond_output], types, f"{node.name}/cond", where
                ),
            )
        if node.op in WHILE_OPS:
            cond_fn, body_fn = self._function(node, "cond", where), self._function(node, "body", where)
            return self._while(
                graph,
                node,
                inputs,
                where,
                lambda types: self._function_region(body_fn, types, f"{where}, body {body_fn!r}"),
                lambda types: self._function_region(cond_fn, types, f"{where}, cond {cond_fn!r}"),
            )
        return self._if(graph, node, inputs, where)

    # -- the ops ---------------------------------------------------------------------------------

    def _while(
        self,
        graph: Graph,
        node: Any,
        inputs: list[Value],
        where: str,
        make_body: Callable[[list[TensorType]], Graph],
        make_cond: Callable[[list[TensorType]], Graph],
    ) -> list[Value]:
        types = [v.type for v in inputs]
        for _ in range(MAX_TYPE_ROUNDS):
            body = make_body(types)
            if len(body.outputs) != len(types):
                raise GraphImportError(
                    f"{where}: the body gives {len(body.outputs)} values, the loop carries {len(types)}"
                )
            settled = []
            for i, (t, (_, v)) in enumerate(zip(types, body.outputs)):
                joined = join_types(t, v.type)
                if joined is None:
                    raise GraphImportError(
                        f"{where}: the body turns carried value {i} of type {t} into {v.type}"
                    )
                settled.append(_reserved_length(inputs[i], joined))
            if settled == types:
                break
            types = settled
        else:
            raise GraphImportError(
                f"{where}: the loop's carried types did not settle: {', '.join(map(str, types))}"
            )
        cond = make_cond(types)
        extra = _hoist(graph, node.name, [body, cond], len(inputs), loop=body)
        attrs = {"cond": encode_region(cond), "body": encode_region(body)}
        op = node.op if node.op in WHILE_OPS else "While"
        ir = self._add(graph, node, op, [*inputs, *extra], attrs, where)
        return ir.outputs[: len(inputs)]

    def _if(self, graph: Graph, node: Any, inputs: list[Value], where: str) -> list[Value]:
        if not inputs:
            raise GraphImportError(f"{where}: expected a predicate input, got none")
        then_fn = self._function(node, "then_branch", where)
        else_fn = self._function(node, "else_branch", where)
        types = [v.type for v in inputs[1:]]
        then = self._function_region(then_fn, types, f"{where}, then_branch {then_fn!r}")
        other = self._function_region(else_fn, types, f"{where}, else_branch {else_fn!r}")
        extra = _hoist(graph, node.name, [then, other], len(inputs) - 1, loop=None)
        attrs = {"then_branch": encode_region(then), "else_branch": encode_region(other)}
        return self._add(graph, node, node.op, [*inputs, *extra], attrs, where).outputs

    def _add(
        self, graph: Graph, node: Any, op: str, inputs: list[Value], attrs: dict[str, Any], where: str
    ) -> Node:
        origin = tuple(self.frames[node.name].origin) if node.name in self.frames else (node.name,)
        try:
            return graph.add_node(op, inputs, attrs, name=node.name, origin=origin)
        except FourierError as e:
            raise GraphImportError(f"{self.source}: {e}") from e
        except ValueError as e:
            raise GraphImportError(f"{where}: {e}") from e

    def _rebuilt_if(self, graph: Graph, node: Any, inputs: list[Value], cond: Cond) -> list[Value]:
        where = f"{self.source}: conditional {cond.name!r}"
        if not inputs:
            raise GraphImportError(f"{where}: expected a predicate input, got none")
        types = [v.type for v in inputs[1:]]
        then = self._nodes_region(cond.then, [cond.then_output], types, f"{node.name}/then", where)
        other = self._nodes_region(cond.other, [cond.other_output], types, f"{node.name}/else", where)
        extra = _hoist(graph, node.name, [then, other], len(inputs) - 1, loop=None)
        attrs = {"then_branch": encode_region(then), "else_branch": encode_region(other)}
        return self._add(graph, node, "StatelessIf", [*inputs, *extra], attrs, where).outputs

    # -- regions ---------------------------------------------------------------------------------

    def _function(self, node: Any, attr: str, where: str) -> str:
        """The library function a node's function-valued attribute ``attr`` names."""
        if attr not in node.attr or node.attr[attr].WhichOneof("value") != "func":
            raise GraphImportError(f"{where}: attribute {attr!r} naming a function is missing")
        name = str(node.attr[attr].func.name)
        if name not in self.functions:
            raise GraphImportError(
                f"{where}: attribute {attr!r} names function {name!r}, which is not in the library"
            )
        return name

    def _function_region(self, fname: str, types: Sequence[TensorType], where: str) -> Graph:
        """Function ``fname`` as a graph whose parameters ``argI`` have ``types``."""
        fdef = self.functions[fname]
        if len(fdef.signature.input_arg) != len(types):
            raise GraphImportError(
                f"{where}: the function takes {len(fdef.signature.input_arg)} inputs, the op gives {len(types)}"
            )
        call = NodeDef()
        call.name, call.op = fname, fname
        call.input.extend(f"arg{i}" for i in range(len(types)))
        forward, body = Inliner(self.graph_def, self.source).expand(call, fname)
        return self._nodes_region(body, list(forward.input), types, fname, where)

    def _nodes_region(
        self, nodes: Sequence[Any], outputs: Sequence[str], types: Sequence[TensorType], name: str, where: str
    ) -> Graph:
        """The graph of ``nodes`` (reading parameters ``argI`` of ``types``) giving ``outputs``."""
        for n in nodes:
            if _is_param(n.name):
                raise GraphImportError(f"{where}: node name {n.name!r} is reserved for region parameters")
        gd = GraphDef()
        gd.library.CopyFrom(self.graph_def.library)
        for i, t in enumerate(types):
            ph = gd.node.add()
            ph.name, ph.op = f"arg{i}", "Placeholder"
            ph.attr["dtype"].type = _DTYPE_ENUMS.get(t.dtype, 0)
        gd.node.extend(nodes)
        return self.import_graph(
            gd,
            where,
            list(outputs),
            [str(i) for i in range(len(outputs))],
            name=name,
            input_types={f"arg{i}": t for i, t in enumerate(types)},
            region_depth=self.depth + 1,
        )


# -- the v1 frame form ----------------------------------------------------------------------------


@dataclass
class Frame:
    """A loop frame rebuilt as a loop: its regions' nodes (reading parameters ``argK``) and the
    tensors they give; the loop node that replaces the frame carries ``inputs``."""

    name: str
    inputs: list[str] = field(default_factory=list)
    body: list[Any] = field(default_factory=list)
    body_outputs: list[str] = field(default_factory=list)
    cond: list[Any] = field(default_factory=list)
    cond_output: str = ""
    origin: list[str] = field(default_factory=list)


def _reserved_length(operand: Value, carried: TensorType) -> TensorType:
    """A carried list reserved with elements of unknown rank takes its rank from the items the
    body sets, and its length, lost on the way, back from the reserve's ``num_elements``."""
    node = operand.producer
    if node.op != "TensorListReserve" or operand.type.shape is not None:
        return carried
    length = node.inputs[1].known
    if carried.shape is None or not carried.shape or carried.shape[0] != UNKNOWN or length is None:
        return carried
    if length.dtype == object or length.size != 1:
        return carried
    return TensorType(carried.dtype, (int(length.reshape(-1)[0]), *carried.shape[1:]))


def _ref(text: str) -> tuple[str, int]:
    name, _, idx = text.partition(":")
    return name, int(idx) if idx.isdigit() else 0


def _data(node: Any) -> list[str]:
    return [i for i in node.input if not i.startswith("^")]


def _is(node: Any, *ops: str) -> bool:
    return node.op in ops or node.op in tuple("Ref" + o for o in ops)


def functionalize(graph_def: Any, source: str) -> tuple[Any, dict[str, Rebuilt]]:
    """``graph_def`` with each outermost loop frame replaced by one ``StatelessWhile`` node named
    after the frame (its ``Exit`` nodes become ``Identity`` nodes reading the loop's outputs), each
    outermost ``Merge`` outside a frame by a ``StatelessIf`` of the same name, and what replaced
    them by node name; the ``unused_control_flow_input`` placeholders lowering leaves behind are
    dropped. Refuses, naming the frame or node, what it cannot rebuild."""
    nodes = {n.name: n for n in graph_def.node}
    consumers: dict[str, list[tuple[Any, int]]] = {}  # node -> (consumer, output index read)
    for n in graph_def.node:
        for inp in _data(n):
            src, idx = _ref(inp)
            consumers.setdefault(src, []).append((n, idx))
    enters: dict[str, list[Any]] = {}
    for n in graph_def.node:
        if _is(n, "Enter"):
            enters.setdefault(n.attr["frame_name"].s.decode("utf-8", "replace"), []).append(n)

    # A frame holds what its Enters reach before its Exits, and every frame entered from there
    # (all of that frame's Enters: a nested loop's counter enters from a constant).
    members: dict[str, set[str]] = {}
    for frame, es in enters.items():
        seen: set[str] = set()
        entered = {frame}
        stack = [e.name for e in es]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            node = nodes[n]
            if _is(node, "Enter"):
                inner = node.attr["frame_name"].s.decode("utf-8", "replace")
                if inner not in entered:
                    entered.add(inner)
                    stack.extend(e.name for e in enters[inner])
            if _is(node, "Exit") and _frame_of_exit(nodes, node) == frame:
                continue
            stack.extend(c.name for c, _ in consumers.get(n, ()))
        members[frame] = seen
    outermost = [
        f for f in enters if not any(e.name in members[g] for g in enters if g != f for e in enters[f])
    ]

    frames: dict[str, Frame] = {}
    replaced: dict[str, str] = {}  # node -> the loop node replacing its frame
    exits: dict[str, tuple[str, int]] = {}  # Exit node -> (loop node, output)
    for frame in outermost:
        loop = frame if frame not in nodes else f"{frame}/loop"
        built, frame_exits = _rebuild(frame, loop, enters[frame], members[frame], nodes, consumers, source)
        frames[loop] = built
        for n in members[frame] | {e.name for e in enters[frame]}:
            replaced[n] = loop
        for name, k in frame_exits.items():
            exits[name] = (loop, k)

    # Merges outside every frame: lowered conditionals; the outermost become conditionals.
    conds: dict[str, Cond] = {}
    inside: dict[str, set[str]] = {}
    for n in graph_def.node:
        if _is(n, "Merge") and n.name not in replaced:
            conds[n.name], inside[n.name] = _rebuild_cond(n, nodes, source)
    for name in [c for c in conds if any(c in inside[o] for o in conds if o != c)]:
        del conds[name]

    out = GraphDef()
    out.library.CopyFrom(graph_def.library)
    out.versions.CopyFrom(graph_def.versions)
    placed: set[str] = set()
    for n in graph_def.node:
        if n.name in conds:
            node = out.node.add()
            node.name, node.op = n.name, "StatelessIf"
            node.input.extend(conds[n.name].inputs)
            continue
        if (
            n.op == "Placeholder"
            and n.name.startswith("unused_control_flow_input")
            and n.name not in consumers
        ):
            continue
        if n.name not in replaced:
            out.node.append(n)
            continue
        loop = replaced[n.name]
        if loop not in placed:
            placed.add(loop)
            node = out.node.add()
            node.name, node.op = loop, "StatelessWhile"
            node.input.extend(frames[loop].inputs)
        if n.name in exits:
            ident = out.node.add()
            ident.name, ident.op = n.name, "Identity"
            ident.input.append(f"{exits[n.name][0]}:{exits[n.name][1]}")
    return out, {**frames, **conds}


def _frame_of_exit(nodes: Mapping[str, Any], exit_node: Any) -> str | None:
    """The frame an ``Exit`` leaves: the frame of the ``Enter`` behind its ``Switch`` and ``Merge``."""
    data = _data(exit_node)
    sw = nodes.get(_ref(data[0])[0]) if data else None
    if sw is None or not _is(sw, "Switch") or not _data(sw):
        return None
    m = nodes.get(_ref(_data(sw)[0])[0])
    if m is None or not _is(m, "Merge"):
        return None
    for inp in _data(m):
        e = nodes.get(_ref(inp)[0])
        if e is not None and _is(e, "Enter"):
            return str(e.attr["frame_name"].s.decode("utf-8", "replace"))
    return None


def _rebuild(
    frame: str,
    loop: str,
    enters: list[Any],
    members: set[str],
    nodes: Mapping[str, Any],
    consumers: Mapping[str, list[tuple[Any, int]]],
    source: str,
) -> tuple[Frame, dict[str, int]]:
    """One frame as a loop (`Frame`), and its ``Exit`` nodes by carried index."""
    where = f"{source}: loop frame {frame!r}"
    built = Frame(loop)
    body_params: dict[tuple[str, int], int] = {}
    cond_params: dict[tuple[str, int], int] = {}
    exits: dict[str, int] = {}
    structure: set[str] = set()  # the frame's own Enter, Merge, Switch, NextIteration, LoopCond
    loop_cond: str | None = None
    for e in enters:
        k = len(built.inputs)
        data = _data(e)
        if len(data) != 1:
            raise GraphImportError(f"{where}: Enter {e.name!r} has {len(data)} data inputs, expected 1")
        built.inputs.append(data[0])
        built.origin.append(e.name)
        structure.add(e.name)
        if e.attr["is_constant"].b:
            body_params[(e.name, 0)] = cond_params[(e.name, 0)] = k
            built.body_outputs.append(e.name)  # passed through: renamed argK below
            continue
        merges = [c for c, _ in consumers.get(e.name, ()) if _is(c, "Merge")]
        if len(merges) != 1:
            raise GraphImportError(f"{where}: Enter {e.name!r} feeds {len(merges)} Merge nodes, expected 1")
        m = merges[0]
        others = [nodes[_ref(i)[0]] for i in _data(m) if _ref(i)[0] != e.name]
        if len(others) != 1 or not _is(others[0], "NextIteration"):
            raise GraphImportError(
                f"{where}: Merge {m.name!r} merges {len(_data(m))} values; expected its Enter and one NextIteration"
            )
        nxt = others[0]
        switches = [c for c, _ in consumers.get(m.name, ()) if _is(c, "Switch")]
        if len(switches) != 1 or len(_data(switches[0])) != 2:
            raise GraphImportError(
                f"{where}: Merge {m.name!r} feeds {len(switches)} Switch nodes, expected 1"
            )
        sw = switches[0]
        pred = _ref(_data(sw)[1])[0]
        if not _is(nodes[pred], "LoopCond") or loop_cond not in (None, pred):
            raise GraphImportError(
                f"{where}: Switch {sw.name!r} is steered by {pred!r} ({nodes[pred].op}), not the frame's LoopCond"
            )
        loop_cond = pred
        structure.update((m.name, nxt.name, sw.name))
        body_params[(sw.name, 1)] = body_params[(m.name, 0)] = cond_params[(m.name, 0)] = k
        if not _data(nxt):
            raise GraphImportError(f"{where}: NextIteration {nxt.name!r} has no data input")
        built.body_outputs.append(_data(nxt)[0])
        for c, idx in consumers.get(sw.name, ()):
            if _is(c, "Exit") and idx == 0:
                exits[c.name] = k
    if loop_cond is None:
        raise GraphImportError(f"{where}: the frame has no LoopCond (no carried value goes through a Merge)")
    structure.add(loop_cond)
    cond_data = _data(nodes[loop_cond])
    if len(cond_data) != 1:
        raise GraphImportError(
            f"{where}: LoopCond {loop_cond!r} has {len(cond_data)} data inputs, expected 1"
        )

    def extract(
        starts: list[str], params: dict[tuple[str, int], int], what: str
    ) -> tuple[list[Any], list[str]]:
        """The nodes a region needs to compute ``starts`` (copied, reading ``argK`` for the
        frame's values and for values from outside the frame), and ``starts`` renamed."""
        taken: set[str] = set()
        stack = list(starts)
        while stack:
            ref = stack.pop()
            name, idx = _ref(ref)
            if (name, idx) in params:
                continue
            if name not in nodes:
                raise GraphImportError(f"{where}: the {what} reads {ref!r}, which is not in the graph")
            if name in structure:
                raise GraphImportError(
                    f"{where}: the {what} reads {ref!r} ({nodes[name].op}), which a loop's {what} cannot read"
                )
            if name in taken:
                continue
            node = nodes[name]
            outside = name not in members and (_data(node) or node.op == "Placeholder")
            if outside and node.op not in _FRAME_OPS_ALL:
                k = len(built.inputs)  # a value from outside the frame: an invariant operand
                built.inputs.append(ref)
                body_params[(name, idx)] = cond_params[(name, idx)] = k
                continue
            taken.add(name)
            stack.extend(_data(node))

        def rename(ref: str) -> str:
            name, idx = _ref(ref)
            return f"arg{params[(name, idx)]}" if (name, idx) in params else ref

        return _copies(nodes, taken, rename), [rename(r) for r in starts]

    built.body, built.body_outputs = extract(list(built.body_outputs), body_params, "body")
    built.cond, (built.cond_output,) = extract(cond_data, cond_params, "condition")
    # Values from outside the frame are carried through the body unchanged.
    built.body_outputs += [f"arg{k}" for k in range(len(built.body_outputs), len(built.inputs))]
    return built, exits


@dataclass
class Cond:
    """A lowered conditional rebuilt: ``inputs`` are the predicate and the operands its branches
    read as ``argK`` (the data behind each ``Switch``, and graph inputs), and each branch's nodes."""

    name: str
    inputs: list[str] = field(default_factory=list)
    then: list[Any] = field(default_factory=list)
    then_output: str = ""
    other: list[Any] = field(default_factory=list)
    other_output: str = ""
    origin: list[str] = field(default_factory=list)


Rebuilt = Union[Frame, Cond]


def _switches_behind(ref: str, nodes: Mapping[str, Any]) -> dict[str, set[int]]:
    """Every ``Switch`` a tensor depends on (data and control edges): predicate -> outputs read."""
    found: dict[str, set[int]] = {}
    seen: set[str] = set()
    stack = [ref]
    while stack:
        r = stack.pop()
        name, idx = _ref(r.lstrip("^"))
        node = nodes.get(name)
        if node is not None and _is(node, "Switch") and len(_data(node)) == 2 and not r.startswith("^"):
            pred = _ref(_data(node)[1])
            found.setdefault(f"{pred[0]}:{pred[1]}", set()).add(idx)
        if name in seen or node is None:
            continue
        seen.add(name)
        stack.extend(node.input)
    return found


def _rebuild_cond(merge: Any, nodes: Mapping[str, Any], source: str) -> tuple[Cond, set[str]]:
    """A ``Merge`` outside any frame as a conditional, and the nodes its branches hold."""
    where = f"{source}: conditional {merge.name!r} (Merge)"
    data = _data(merge)
    if len(data) != 2:
        raise GraphImportError(f"{where}: merges {len(data)} values; a lowered conditional merges 2")
    sides = [_switches_behind(r, nodes) for r in data]
    preds = [p for p in sides[0] if p in sides[1] and len(sides[0][p]) == len(sides[1][p]) == 1]
    preds = [p for p in preds if sides[0][p] != sides[1][p]]
    if len(preds) != 1:
        raise GraphImportError(
            f"{where}: cannot tell its branches apart (predicates steering them: {sorted(preds) or 'none'})"
        )
    pred = preds[0]
    then_side = 0 if sides[0][pred] == {1} else 1
    built = Cond(merge.name, [pred], origin=[merge.name])
    params: dict[str, int] = {}  # Switch or Placeholder node -> operand k (argK)
    members: set[str] = set()

    def extract(start: str, side: int, what: str) -> tuple[list[Any], str]:
        taken: set[str] = set()
        stack = [start]
        while stack:
            ref = stack.pop()
            name, idx = _ref(ref)
            if name not in nodes:
                raise GraphImportError(f"{where}: the {what} reads {ref!r}, which is not in the graph")
            node = nodes[name]
            steered = _is(node, "Switch") and len(_data(node)) == 2 and _norm(_data(node)[1]) == pred
            if steered or node.op == "Placeholder":
                if steered and idx != side:
                    raise GraphImportError(f"{where}: the {what} reads {ref!r}, the other branch's output")
                if name not in params:
                    params[name] = len(built.inputs) - 1
                    built.inputs.append(_data(node)[0] if steered else ref)
                continue
            if name not in taken:
                taken.add(name)
                stack.extend(_data(node))
        members.update(taken)

        def rename(ref: str) -> str:
            name = _ref(ref)[0]
            return f"arg{params[name]}" if name in params else ref

        return _copies(nodes, taken, rename), rename(start)

    built.then, built.then_output = extract(data[then_side], 1, "then branch")
    built.other, built.other_output = extract(data[1 - then_side], 0, "else branch")
    return built, members


def _norm(ref: str) -> str:
    name, idx = _ref(ref)
    return f"{name}:{idx}"


def _is_param(name: str) -> bool:
    return name.startswith("arg") and name[3:].isdigit()


def _hoist(graph: Graph, owner: str, regions: list[Graph], first: int, loop: Graph | None) -> list[Value]:
    """Move the constants too large to print inline out of ``regions`` into ``graph``: each becomes
    operand ``first + k`` (``argK`` in every region; a loop's body also returns it unchanged).
    Returns the new operands."""
    extra: list[Value] = []
    for region in regions:
        for c in [
            n for n in region.nodes if n.op == "Const" and n.attrs["value"].size > INLINE_CONST_ELEMENTS
        ]:
            k = first + len(extra)
            const = graph.add_node(
                "Const", [], {"value": c.attrs["value"]}, name=f"{owner}/{c.name}", origin=c.origin
            )
            extra.append(const.output)
            for r in regions:
                param = _param(r, k, c.output.type)
                if r is region:
                    _replace(r, c, param)
                if r is loop:
                    r.outputs.append((str(k), param))
    return extra


def _param(region: Graph, k: int, t: TensorType) -> Value:
    name = f"arg{k}"
    for n in region.nodes:
        if n.op == "Placeholder" and n.name == name:
            return n.output
    node = region.make_node("Placeholder", [], {"dtype": t.dtype, "shape": t.shape}, name=name)
    region.nodes.insert(0, node)
    return node.output


def _replace(region: Graph, const: Node, param: Value) -> None:
    """Uses of ``const``'s value read ``param`` instead; ``const`` leaves the region."""
    for n in region.nodes:
        n.inputs = [param if v is const.output else v for v in n.inputs]
    region.outputs = [(name, param if v is const.output else v) for name, v in region.outputs]
    region.nodes.remove(const)


def _copies(nodes: Mapping[str, Any], taken: Container[str], rename: Callable[[str], str]) -> list[Any]:
    """Copies of the ``taken`` nodes, in graph order, their data inputs renamed by ``rename``
    (a region's nodes, reading its parameters ``argK`` where they read the frame's values)."""
    copies = []
    for n in nodes.values():
        if n.name in taken:
            copy = NodeDef()
            copy.CopyFrom(n)
            inputs = [rename(i) for i in _data(n)]
            del copy.input[:]
            copy.input.extend(inputs)
            copies.append(copy)
    return copies
