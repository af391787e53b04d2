"""Import a frozen TensorFlow GraphDef (``.pb``, ``.pbtxt``) or a SavedModel into the IR.

Only what the outputs depend on is imported (frozen graphs often carry training leftovers).
Control edges and NoOps are dropped: in a frozen inference graph they only order side effects,
and the ops Fourier accepts have none. TF ops map 1:1 onto registry entries; every unsupported op
in the graph is reported in one error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
from google.protobuf import message, text_format

from fourier.errors import FourierError, GraphImportError, UnsupportedOpsError
from fourier.importer.protos import GraphDef, decode_attr
from fourier.ir.core import Graph, Value
from fourier.ir.types import UNKNOWN
from fourier.ops.registry import REQUIRED, get_op, has_op

__all__ = ["load_graph", "import_graphdef", "parse_graphdef"]

# Ops that carry no data and are dropped on import.
_DROPPED = {"NoOp"}
# Ops that forward their first input and are resolved on import.
_FORWARDING = {"PlaceholderWithDefault"}
# A PlaceholderWithDefault whose default is a constant of at most this many elements becomes an
# input the caller may feed (the default is stored in the signature); a larger or computed default
# is folded in as the graph's value and feeding it is refused.
MAX_DEFAULT_ELEMENTS = 4096
_INPUT_OPS = ("Placeholder", "PlaceholderWithDefault")
# A GraphDef with more nodes than this is refused right after parsing.
MAX_NODES = 1_000_000


@dataclass(frozen=True)
class _TensorRef:
    node: str
    index: int


def _parse_ref(text: str) -> _TensorRef:
    name, _, idx = text.partition(":")
    return _TensorRef(name, int(idx) if idx.isdigit() else 0)


def parse_graphdef(data: bytes, source: str, text: bool = False) -> Any:
    """Parse GraphDef bytes (binary or text format) into a proto."""
    graph_def = GraphDef()
    try:
        if text:
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, ValueError) as e:
        raise GraphImportError(f"{source}: not a valid GraphDef ({type(e).__name__}: {e})") from e
    if not graph_def.node:
        raise GraphImportError(f"{source}: the GraphDef has no nodes")
    if len(graph_def.node) > MAX_NODES:
        raise GraphImportError(
            f"{source}: the GraphDef has {len(graph_def.node)} nodes, more than {MAX_NODES}"
        )
    return graph_def


def _called_functions(node: Any, functions: set[str]) -> list[str]:
    """Library functions a NodeDef calls: as its op, or through a function-valued attribute."""
    out = [node.op] if node.op in functions else []
    for av in node.attr.values():
        if av.WhichOneof("value") == "func" and av.func.name:
            out.append(av.func.name)
    return out


def _check_function_calls(graph_def: Any, nodes: Sequence[Any], source: str) -> None:
    """Refuse calls into the graph's function library, naming the node and any recursion."""
    functions = {f.signature.name for f in graph_def.library.function}
    for node in nodes:
        called = _called_functions(node, functions)
        if not called and node.op not in ("PartitionedCall", "StatefulPartitionedCall"):
            continue
        calls = nx.DiGraph()
        for f in graph_def.library.function:
            calls.add_node(f.signature.name)
            for inner in f.node_def:
                for g in _called_functions(inner, functions):
                    calls.add_edge(f.signature.name, g)
        detail = ""
        for f in called:
            if f not in calls:
                detail = f"; function {f!r} is not in the library"
                break
            try:
                cycle = [u for u, _ in nx.find_cycle(calls, f)]
                detail = f"; the functions recurse: {' -> '.join([*cycle, cycle[0]])}"
                break
            except nx.NetworkXNoCycle:
                pass
        raise GraphImportError(
            f"{source}: node {node.name!r} ({node.op}) calls "
            + (f"function {called[0]!r}" if called else "a function")
            + f" from the graph's function library{detail}. Fourier imports flat graphs: freeze "
            "the model with its functions inlined (convert_variables_to_constants_v2 does)"
        )


def sequence_dim(axis: int) -> str:
    """The symbol an input's unknown non-batch dimension gets: ``S`` for axis 1, ``S2`` for axis 2, ...

    Inputs share a symbol per axis, so two histories of one unknown length line up; a request whose
    inputs disagree on it is refused by the runtime."""
    return "S" if axis == 1 else f"S{axis}"


def load_graph(path: str | Path, outputs: Sequence[str] | None = None) -> Graph:
    """Import a ``.pb`` / ``.pbtxt`` file or a SavedModel directory into a `Graph`."""
    p = Path(path)
    if p.is_dir():
        from fourier.importer.savedmodel import freeze_saved_model

        data, default_outputs, names = freeze_saved_model(p)
        graph_def = parse_graphdef(data, str(p))
        return import_graphdef(
            graph_def,
            str(p),
            outputs or default_outputs,
            None if outputs else names,
            source_sha256=hashlib.sha256(data).hexdigest(),
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise GraphImportError(f"{p}: cannot read ({e.strerror or e})") from e
    graph_def = parse_graphdef(data, str(p), text=p.suffix in (".pbtxt", ".txt"))
    return import_graphdef(
        graph_def, str(p), outputs, source_sha256=hashlib.sha256(data).hexdigest(), name=p.stem
    )


def _default_outputs(graph_def: Any) -> list[str]:
    consumed = set()
    for node in graph_def.node:
        for inp in node.input:
            consumed.add(_parse_ref(inp.lstrip("^")).node)
    skip = _DROPPED | {"Const", "Placeholder"}
    return [n.name for n in graph_def.node if n.name not in consumed and n.op not in skip]


def import_graphdef(
    graph_def: Any,
    source: str = "<graph>",
    outputs: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    *,
    source_sha256: str = "",
    name: str = "main",
) -> Graph:
    """Build a `Graph` from a GraphDef proto; ``outputs`` are tensor names (``node`` or ``node:i``)."""
    nodes: dict[str, Any] = {}
    order: dict[str, int] = {}
    for i, node in enumerate(graph_def.node):
        if node.name in nodes:
            raise GraphImportError(f"{source}: node name {node.name!r} is used twice")
        nodes[node.name] = node
        order[node.name] = i

    out_refs = [_parse_ref(o) for o in (outputs or _default_outputs(graph_def))]
    if not out_refs:
        raise GraphImportError(f"{source}: the graph has no outputs")
    for ref in out_refs:
        if ref.node not in nodes:
            raise GraphImportError(f"{source}: output {ref.node!r} is not a node of the graph")

    # What the outputs depend on, through data edges only.
    dep = nx.DiGraph()
    seen: set[str] = set()
    stack = [r.node for r in out_refs]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        dep.add_node(n)
        for inp in nodes[n].input:
            if inp.startswith("^"):
                continue
            src = _parse_ref(inp).node
            if src not in nodes:
                raise GraphImportError(
                    f"{source}: node {n!r} ({nodes[n].op}) reads {inp!r}, which is not in the graph"
                )
            if src == n:
                raise GraphImportError(f"{source}: node {n!r} ({nodes[n].op}) reads itself")
            dep.add_edge(src, n)
            stack.append(src)

    _check_function_calls(graph_def, [nodes[n] for n in sorted(dep.nodes, key=order.__getitem__)], source)
    unsupported: dict[str, list[str]] = {}
    for n in sorted(dep.nodes, key=order.__getitem__):
        op = nodes[n].op
        if op not in _DROPPED and op not in _FORWARDING and not has_op(op):
            unsupported.setdefault(op, []).append(n)
    if unsupported:
        raise UnsupportedOpsError(source, unsupported)

    try:
        topo = list(nx.lexicographical_topological_sort(dep, key=order.__getitem__))
    except nx.NetworkXUnfeasible:
        cycle = [u for u, _ in nx.find_cycle(dep)]
        raise GraphImportError(f"{source}: the graph has a cycle: {' -> '.join(cycle)}") from None

    graph = Graph(name)
    graph.source, graph.source_sha256 = source, source_sha256
    values: dict[str, list[Value]] = {}
    for n in topo:
        if nodes[n].op == "PlaceholderWithDefault":
            values[n] = _import_defaulted(graph, nodes[n], nodes, values, source)
        else:
            values[n] = _import_node(graph, nodes[n], values, source)
    for n in graph_def.node:
        if n.op in _INPUT_OPS and n.name not in seen:
            graph.unused_inputs.append((n.name, *_declared_type(n, source)))

    named: list[tuple[str, Value]] = []
    for i, ref in enumerate(out_refs):
        outs = values[ref.node]
        if ref.index >= len(outs):
            raise GraphImportError(
                f"{source}: output {ref.node}:{ref.index} does not exist "
                f"({nodes[ref.node].op} has {len(outs)} outputs)"
            )
        label = (
            output_names[i] if output_names else (ref.node if ref.index == 0 else f"{ref.node}:{ref.index}")
        )
        named.append((label, outs[ref.index]))
    graph.set_outputs(named)
    return graph


def _declared_type(node: Any, source: str) -> tuple[str, tuple[Any, ...]]:
    """(dtype, shape) a Placeholder declares; an unknown rank is recorded as shape ()."""
    where = f"{source}: node {node.name!r} ({node.op})"
    if "dtype" not in node.attr:
        raise GraphImportError(f"{where}: required attribute 'dtype' is missing")
    dtype = decode_attr(node.attr["dtype"], "type", f"{where} attribute 'dtype'")
    shape = None
    if "shape" in node.attr:
        shape = decode_attr(node.attr["shape"], "shape", f"{where} attribute 'shape'", batch_first=True)
    if shape is None:
        return dtype, ()
    return dtype, tuple(sequence_dim(axis) if d == UNKNOWN else d for axis, d in enumerate(shape))


def _import_defaulted(
    graph: Graph, node: Any, nodes: dict[str, Any], values: dict[str, list[Value]], source: str
) -> list[Value]:
    """A PlaceholderWithDefault: an input the caller may feed, with its constant default recorded
    (`Graph.input_defaults`), shaped like the default where its declared shape is unknown (the
    default fixes what TensorFlow would return unfed). A computed or large default is forwarded as
    the graph's own value, as TensorFlow does when the input is not fed."""
    data = [i for i in node.input if not i.startswith("^")]
    if not data:
        raise GraphImportError(f"{source}: node {node.name!r} ({node.op}): expected 1 input, got 0")
    ref = _parse_ref(data[0])
    src = nodes[ref.node]
    value = values[ref.node][ref.index] if ref.index < len(values[ref.node]) else None
    if src.op != "Const" or value is None or value.producer.op != "Const":
        return _import_node(graph, node, values, source)
    default = value.producer.attrs["value"]
    if default.size > MAX_DEFAULT_ELEMENTS:
        return _import_node(graph, node, values, source)
    dtype, declared = _declared_type(node, source)
    if dtype != default.dtype.name:
        raise GraphImportError(
            f"{source}: node {node.name!r} ({node.op}): dtype attribute says {dtype}, "
            f"its default is {default.dtype.name}"
        )
    shape = tuple(int(d) for d in default.shape)
    if declared and len(declared) == len(shape):
        for want, got in zip(declared, shape):
            if isinstance(want, int) and want != got:
                raise GraphImportError(
                    f"{source}: node {node.name!r} ({node.op}): its default has shape {list(shape)}, "
                    f"which does not fit the declared shape {list(declared)}"
                )
    ir = graph.add_node(
        "Placeholder", [], {"dtype": dtype, "shape": shape}, name=node.name, origin=(node.name,)
    )
    graph.input_defaults[node.name] = default
    return ir.outputs


def _import_node(graph: Graph, node: Any, values: dict[str, list[Value]], source: str) -> list[Value]:
    where = f"{source}: node {node.name!r} ({node.op})"
    inputs: list[Value] = []
    for inp in node.input:
        if inp.startswith("^"):
            continue
        ref = _parse_ref(inp)
        produced = values[ref.node]
        if ref.index >= len(produced):
            raise GraphImportError(
                f"{where}: input {inp!r} asks for output {ref.index}, but {ref.node!r} has {len(produced)}"
            )
        inputs.append(produced[ref.index])
    if node.op in _DROPPED:
        return []
    if node.op in _FORWARDING:
        if not inputs:
            raise GraphImportError(f"{where}: expected 1 input, got 0")
        return [inputs[0]]

    opdef = get_op(node.op)
    if len(inputs) < opdef.min_inputs or (opdef.max_inputs is not None and len(inputs) > opdef.max_inputs):
        want = (
            str(opdef.min_inputs)
            if opdef.min_inputs == opdef.max_inputs
            else f"{opdef.min_inputs}..{opdef.max_inputs if opdef.max_inputs is not None else ''}"
        )
        raise GraphImportError(f"{where}: expected {want} inputs, got {len(inputs)}")

    attrs: dict[str, Any] = {}
    for spec in opdef.attrs:
        if spec.name in node.attr:
            attrs[spec.name] = decode_attr(
                node.attr[spec.name],
                spec.kind,
                f"{where} attribute {spec.name!r}",
                batch_first=node.op == "Placeholder",
            )
        elif spec.default is REQUIRED:
            raise GraphImportError(f"{where}: required attribute {spec.name!r} is missing")
    if node.op == "Const" and "dtype" in node.attr:
        declared = decode_attr(node.attr["dtype"], "type", f"{where} attribute 'dtype'")
        if declared != attrs["value"].dtype.name:
            raise GraphImportError(
                f"{where}: dtype attribute says {declared}, the tensor holds {attrs['value'].dtype.name}"
            )
    if node.op == "Placeholder" and attrs.get("shape") is None:
        raise GraphImportError(f"{where}: input has unknown rank; export it with a shape")
    if node.op == "Placeholder":
        attrs["shape"] = tuple(
            sequence_dim(axis) if d == UNKNOWN else d for axis, d in enumerate(attrs["shape"])
        )
    try:
        ir = graph.add_node(node.op, inputs, attrs, name=node.name, origin=(node.name,))
    except FourierError as e:
        raise GraphImportError(f"{source}: {e}") from e
    except (ValueError, TypeError, IndexError, ArithmeticError) as e:
        raise GraphImportError(f"{where}: {e}") from e
    return ir.outputs
