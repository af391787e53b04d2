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

A region holds only constants that print inline; a larger one (a weight a function captured as a
constant) is moved out of the region into the graph and passed in as an extra operand (for a loop,
an extra carried value the body passes through unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tensorboard.compat.proto.node_def_pb2 import NodeDef

from fourier.errors import FourierError, GraphImportError
from fourier.importer.functions import Inliner
from fourier.importer.protos import DTYPE_NAMES, GraphDef
from fourier.ir.core import Graph, Node, Value
from fourier.ir.printer import INLINE_CONST_ELEMENTS
from fourier.ir.types import TensorType
from fourier.ops.control import IF_OPS, WHILE_OPS, encode_region, join_types

__all__ = ["FUNCTIONAL_OPS", "RegionImporter", "MAX_REGION_DEPTH", "MAX_TYPE_ROUNDS"]

FUNCTIONAL_OPS = (*WHILE_OPS, *IF_OPS)
# Regions nest (a loop inside a loop's body) at most this deep.
MAX_REGION_DEPTH = 16
# A loop's carried types settle within this many imports of its body.
MAX_TYPE_ROUNDS = 8

ImportGraph = Callable[..., Graph]
"""`fourier.importer.graphdef.import_graphdef` (passed in: it is what calls this module)."""

_DTYPE_ENUMS = {name: enum for enum, name in DTYPE_NAMES.items()}


class RegionImporter:
    """Imports the functional control-flow nodes of one GraphDef (see the module docstring)."""

    def __init__(self, graph_def: Any, source: str, import_graph: ImportGraph, depth: int = 0) -> None:
        self.graph_def = graph_def
        self.source = source
        self.import_graph = import_graph
        self.depth = depth
        self.functions = {f.signature.name: f for f in graph_def.library.function}

    def import_node(self, graph: Graph, node: Any, inputs: list[Value]) -> list[Value]:
        """Add the IR node for a functional ``While`` / ``If``; returns its output values."""
        where = f"{self.source}: node {node.name!r} ({node.op})"
        if self.depth >= MAX_REGION_DEPTH:
            raise GraphImportError(f"{where}: control flow nests more than {MAX_REGION_DEPTH} deep")
        if node.op in WHILE_OPS:
            return self._while(graph, node, inputs, where)
        return self._if(graph, node, inputs, where)

    # -- the ops ---------------------------------------------------------------------------------

    def _while(self, graph: Graph, node: Any, inputs: list[Value], where: str) -> list[Value]:
        cond_fn, body_fn = self._function(node, "cond", where), self._function(node, "body", where)
        types = [v.type for v in inputs]
        for _ in range(MAX_TYPE_ROUNDS):
            body = self._region(body_fn, types, f"{where}, body {body_fn!r}")
            if len(body.outputs) != len(types):
                raise GraphImportError(
                    f"{where}: body {body_fn!r} gives {len(body.outputs)} values, the loop carries {len(types)}"
                )
            settled = []
            for i, (t, (_, v)) in enumerate(zip(types, body.outputs)):
                joined = join_types(t, v.type)
                if joined is None:
                    raise GraphImportError(
                        f"{where}: body {body_fn!r} turns carried value {i} of type {t} into {v.type}"
                    )
                settled.append(joined)
            if settled == types:
                break
            types = settled
        else:
            raise GraphImportError(
                f"{where}: the loop's carried types did not settle: {', '.join(map(str, types))}"
            )
        cond = self._region(cond_fn, types, f"{where}, cond {cond_fn!r}")
        extra = _hoist(graph, node.name, [body, cond], len(inputs), loop=body)
        attrs = {"cond": encode_region(cond), "body": encode_region(body)}
        ir = self._add(graph, node, [*inputs, *extra], attrs, where)
        return ir.outputs[: len(inputs)]

    def _if(self, graph: Graph, node: Any, inputs: list[Value], where: str) -> list[Value]:
        if not inputs:
            raise GraphImportError(f"{where}: expected a predicate input, got none")
        then_fn = self._function(node, "then_branch", where)
        else_fn = self._function(node, "else_branch", where)
        types = [v.type for v in inputs[1:]]
        then = self._region(then_fn, types, f"{where}, then_branch {then_fn!r}")
        other = self._region(else_fn, types, f"{where}, else_branch {else_fn!r}")
        extra = _hoist(graph, node.name, [then, other], len(inputs) - 1, loop=None)
        attrs = {"then_branch": encode_region(then), "else_branch": encode_region(other)}
        return self._add(graph, node, [*inputs, *extra], attrs, where).outputs

    def _add(self, graph: Graph, node: Any, inputs: list[Value], attrs: dict[str, Any], where: str) -> Node:
        try:
            return graph.add_node(node.op, inputs, attrs, name=node.name, origin=(node.name,))
        except FourierError as e:
            raise GraphImportError(f"{self.source}: {e}") from e
        except ValueError as e:
            raise GraphImportError(f"{where}: {e}") from e

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

    def _region(self, fname: str, types: Sequence[TensorType], where: str) -> Graph:
        """Function ``fname`` as a graph whose parameters ``argI`` have ``types``."""
        fdef = self.functions[fname]
        if len(fdef.signature.input_arg) != len(types):
            raise GraphImportError(
                f"{where}: the function takes {len(fdef.signature.input_arg)} inputs, the op gives {len(types)}"
            )
        call = NodeDef()
        call.name, call.op = fname, fname
        call.input.extend(f"arg{i}" for i in range(len(types)))
        inliner = Inliner(self.graph_def, self.source)
        forward, body = inliner.expand(call, fname)
        gd = GraphDef()
        gd.library.CopyFrom(self.graph_def.library)
        for i, t in enumerate(types):
            ph = gd.node.add()
            ph.name, ph.op = f"arg{i}", "Placeholder"
            ph.attr["dtype"].type = _DTYPE_ENUMS.get(t.dtype, 0)
        gd.node.extend(body)
        outputs = list(forward.input)
        return self.import_graph(
            gd,
            where,
            outputs,
            [str(i) for i in range(len(outputs))],
            name=fname,
            input_types={f"arg{i}": t for i, t in enumerate(types)},
            region_depth=self.depth + 1,
        )


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
