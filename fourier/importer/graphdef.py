"""Import a frozen TensorFlow GraphDef (``.pb``, ``.pbtxt``) or a SavedModel into the IR.

Only what the outputs depend on is imported (frozen graphs often carry training leftovers). Calls
into the GraphDef's function library are inlined as they are reached (`fourier.importer.functions`);
the regions of functional loops and conditionals are imported as sub-graphs
(`fourier.importer.control`).
Control edges and NoOps are dropped: in a frozen inference graph they only order side effects,
and the ops Fourier accepts have none. TF ops map 1:1 onto registry entries; every unsupported op
in the graph is reported in one error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from google.protobuf import message, text_format

from fourier.errors import FourierError, GraphImportError, UnsupportedOpsError
from fourier.importer.control import FRAME_OPS, FUNCTIONAL_OPS, Rebuilt, RegionImporter, functionalize
from fourier.importer.functions import Inliner
from fourier.importer.loops import prune_loop_carries
from fourier.importer.protos import GraphDef, decode_attr
from fourier.ir.core import Graph, Value
from fourier.ir.types import UNKNOWN, TensorType, numpy_dtype
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


def sequence_dim(axis: int) -> str:
    """The symbol an input's unknown non-batch dimension gets: ``S`` for axis 1, ``S2`` for axis 2, ...

    Inputs share a symbol per axis, so two histories of one unknown length line up; a request whose
    inputs disagree on it is refused by the runtime."""
    return "S" if axis == 1 else f"S{axis}"


def load_graph(
    path: str | Path, outputs: Sequence[str] | None = None, consts: Mapping[str, Any] | None = None
) -> Graph:
    """Import a ``.pb`` / ``.pbtxt`` file or a SavedModel directory into a `Graph`; ``consts``
    binds inputs to values known at compile time (a reshape target fed at run time), which
    become constants (`Graph.bound_inputs`)."""
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
            consts=consts,
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise GraphImportError(f"{p}: cannot read ({e.strerror or e})") from e
    graph_def = parse_graphdef(data, str(p), text=p.suffix in (".pbtxt", ".txt"))
    return import_graphdef(
        graph_def,
        str(p),
        outputs,
        source_sha256=hashlib.sha256(data).hexdigest(),
        name=p.stem,
        consts=consts,
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
    input_types: Mapping[str, TensorType] | None = None,
    region_depth: int = 0,
    consts: Mapping[str, Any] | None = None,
) -> Graph:
    """Build a `Graph` from a GraphDef proto; ``outputs`` are tensor names (``node`` or ``node:i``).

    ``input_types`` gives Placeholders their types by name (a control-flow region's parameters,
    `fourier.importer.control`); ``region_depth`` is how deep such regions nest here; ``consts``
    binds inputs by name to constant values."""
    if not isinstance(graph_def, GraphDef):  # TensorFlow's own proto class: the same schema
        graph_def = GraphDef.FromString(graph_def.SerializeToString())
    frames: dict[str, Rebuilt] = {}
    if any(n.op in FRAME_OPS for n in graph_def.node):  # loops and conditionals in the v1 form
        outputs = outputs or _default_outputs(graph_def)  # what rebuilding them leaves is unused
        graph_def, frames = functionalize(graph_def, source)
    given = list(outputs or _default_outputs(graph_def))
    # loops' gradient accumulators go before the walk sees them (fourier.importer.loops); the
    # outputs keep the names they were asked for
    graph_def, outputs = prune_loop_carries(graph_def, given)
    if output_names is None and outputs != given:
        output_names = [_parse_ref(o).node if _parse_ref(o).index == 0 else o for o in given]
    nodes: dict[str, Any] = {}
    order: dict[str, tuple[int, ...]] = {}  # body nodes of an inlined call sort right after it
    for i, node in enumerate(graph_def.node):
        if node.name in nodes:
            raise GraphImportError(f"{source}: node name {node.name!r} is used twice")
        nodes[node.name] = node
        order[node.name] = (i,)

    out_refs = [_parse_ref(o) for o in outputs]
    if not out_refs:
        raise GraphImportError(f"{source}: the graph has no outputs")
    for ref in out_refs:
        if ref.node not in nodes:
            raise GraphImportError(f"{source}: output {ref.node!r} is not a node of the graph")

    # What the outputs depend on, through data edges only; calls into the function library are
    # inlined as the walk reaches them (fourier.importer.functions).
    inliner = Inliner(graph_def, source)
    dep = nx.DiGraph()
    seen: set[str] = set()
    stack = [r.node for r in out_refs]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        dep.add_node(n)
        fname = inliner.callee(nodes[n])
        if fname is not None:
            nodes[n], body = inliner.expand(nodes[n], fname)
            for j, inner in enumerate(body):
                if inner.name in nodes:
                    raise GraphImportError(
                        f"{source}: inlining {n!r} makes node {inner.name!r}, a name the graph already uses"
                    )
                nodes[inner.name] = inner
                order[inner.name] = (*order[n], j)
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

    unsupported: dict[str, list[str]] = {}
    for n in sorted(dep.nodes, key=order.__getitem__):
        op = nodes[n].op
        if n in inliner.forwarded:
            continue
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
    bound = _check_consts(consts or {}, nodes, source)
    values: dict[str, list[Value]] = {}
    regions = RegionImporter(graph_def, source, import_graphdef, region_depth, frames)
    for n in topo:
        if input_types is not None and n in input_types and nodes[n].op == "Placeholder":
            t = input_types[n]
            values[n] = graph.add_node(
                "Placeholder", [], {"dtype": t.dtype, "shape": t.shape}, name=n, origin=(n,)
            ).outputs
        elif n in bound:
            values[n] = graph.add_node("Const", [], {"value": bound[n]}, name=n, origin=(n,)).outputs
            graph.bound_inputs[n] = bound[n]
        elif nodes[n].op in FUNCTIONAL_OPS:
            where = f"{source}: node {n!r} ({nodes[n].op})"
            values[n] = regions.import_node(graph, nodes[n], _input_values(nodes[n], values, where))
        elif n in inliner.forwarded:
            values[n] = _input_values(nodes[n], values, f"{source}: node {n!r} (a function call)")
        elif nodes[n].op == "PlaceholderWithDefault":
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


def _check_consts(consts: Mapping[str, Any], nodes: Mapping[str, Any], source: str) -> dict[str, np.ndarray]:
    """The values inputs are bound to, as arrays of each input's declared dtype and shape."""
    out: dict[str, np.ndarray] = {}
    inputs = sorted(n for n, node in nodes.items() if node.op in _INPUT_OPS)
    for name, raw in consts.items():
        node = nodes.get(name)
        if node is None or node.op not in _INPUT_OPS:
            raise GraphImportError(
                f"{source}: cannot bind {name!r}: it is not an input of the graph (inputs: {', '.join(inputs)})"
            )
        dtype, shape = _declared_type(node, source)
        ranked = "shape" in node.attr and not node.attr["shape"].shape.unknown_rank
        try:
            value = np.asarray(raw).astype(numpy_dtype(dtype), casting="same_kind")
        except (TypeError, ValueError) as e:
            raise GraphImportError(f"{source}: cannot bind input {name!r} ({dtype}) to {raw!r}: {e}") from e
        if (ranked and len(shape) != value.ndim) or any(
            isinstance(d, int) and d != v for d, v in zip(shape, value.shape)
        ):
            raise GraphImportError(
                f"{source}: cannot bind input {name!r}: it is declared {dtype}{list(shape)}, "
                f"the value has shape {list(value.shape)}"
            )
        out[name] = value
    return out


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


def _input_values(node: Any, values: dict[str, list[Value]], where: str) -> list[Value]:
    """The values a node's data inputs name."""
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
    return inputs


def _import_node(graph: Graph, node: Any, values: dict[str, list[Value]], source: str) -> list[Value]:
    where = f"{source}: node {node.name!r} ({node.op})"
    inputs = _input_values(node, values, where)
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
        held = "string" if attrs["value"].dtype == object else attrs["value"].dtype.name
        if declared != held:
            raise GraphImportError(f"{where}: dtype attribute says {declared}, the tensor holds {held}")
    if node.op == "Placeholder" and attrs.get("shape") is None:
        raise GraphImportError(f"{where}: input has unknown rank; export it with a shape")
    if node.op == "Placeholder":
        attrs["shape"] = tuple(
            sequence_dim(axis) if d == UNKNOWN else d for axis, d in enumerate(attrs["shape"])
        )
    try:
        grouped = _grouped_conv(graph, node, inputs, attrs, where) if node.op == "Conv2D" else None
        if grouped is not None:
            return grouped
        stepped = _stepped_slice(graph, node, inputs, attrs) if node.op == "StridedSlice" else None
        if stepped is not None:
            return stepped
        ir = graph.add_node(node.op, inputs, attrs, name=node.name, origin=(node.name,))
    except FourierError as e:
        raise GraphImportError(f"{source}: {e}") from e
    except (ValueError, TypeError, IndexError, ArithmeticError) as e:
        raise GraphImportError(f"{where}: {e}") from e
    return ir.outputs


def _known(v: Value) -> np.ndarray | None:
    """``v``'s value when known at import (constants and what folds from them), else None."""
    return None if v.known is None or v.known.dtype == object else v.known


def _stepped_slice(graph: Graph, node: Any, inputs: list[Value], attrs: dict[str, Any]) -> list[Value] | None:
    """A ``StridedSlice`` whose bounds move at run time but whose size does not, as a loop reads
    step ``t`` of a sequence (``x[:, t:t + 1, :]``, deepctr's AUGRU): begin and end are ``Pack`` s
    of scalars where, per axis, both masks are set (the whole axis), both bounds are constants,
    or the end is the begin plus a constant ``k``; strides are 1. Each sliced axis becomes a
    ``GatherV2`` of the ``k`` indices from the begin (shapes stay known), shrunk axes a
    ``Squeeze``. None for any other slice (imported as it is)."""
    x, begin, end, strides = inputs
    if _known(begin) is not None and _known(end) is not None:
        return None
    if attrs.get("ellipsis_mask") or attrs.get("new_axis_mask") or x.type.rank is None:
        return None
    step = _known(strides)
    bp, ep = begin.producer, end.producer
    if step is None or np.any(step != 1) or bp.op != "Pack" or ep.op != "Pack":
        return None
    if not (len(bp.inputs) == len(ep.inputs) == x.type.rank):
        return None
    picks: list[tuple[int, Value | int, int]] = []  # (axis, start, count)
    for axis, (b, e) in enumerate(zip(bp.inputs, ep.inputs)):
        masked = (attrs.get("begin_mask", 0) >> axis) & 1, (attrs.get("end_mask", 0) >> axis) & 1
        if masked == (1, 1):
            continue
        if masked != (0, 0):
            return None
        kb, ke = _known(b), _known(e)
        if kb is not None and ke is not None and int(kb) >= 0 and int(ke) > int(kb):
            picks.append((axis, int(kb), int(ke) - int(kb)))
            continue
        add = e.producer
        if add.op not in ("AddV2", "Add") or b not in add.inputs:
            return None
        other = add.inputs[1] if add.inputs[0] is b else add.inputs[0]
        k = _known(other)
        if k is None or np.ndim(k) != 0 or int(k) < 1:
            return None
        picks.append((axis, b, int(k)))
    shrink = [a for a in range(x.type.rank) if (attrs.get("shrink_axis_mask", 0) >> a) & 1]
    if any(not any(p[0] == a and p[2] == 1 for p in picks) for a in shrink):
        return None
    out = x
    dtype = numpy_dtype(begin.type.dtype)
    for j, (axis, start, count) in enumerate(picks):
        at = f"{node.name}/step{j}"
        offsets = np.arange(count, dtype=dtype)
        if isinstance(start, int):
            index = graph.add_node(
                "Const", [], {"value": offsets + start}, name=f"{at}/indices", origin=(node.name,)
            )
        else:
            span = graph.add_node("Const", [], {"value": offsets}, name=f"{at}/span", origin=(node.name,))
            index = graph.add_node(
                "AddV2", [start, span.outputs[0]], {}, name=f"{at}/indices", origin=(node.name,)
            )
        ax = graph.add_node(
            "Const", [], {"value": np.array(axis, np.int32)}, name=f"{at}/axis", origin=(node.name,)
        )
        out = graph.add_node(
            "GatherV2", [out, index.outputs[0], ax.outputs[0]], {}, name=f"{at}/gather", origin=(node.name,)
        ).outputs[0]
    if shrink:
        return graph.add_node(
            "Squeeze", [out], {"squeeze_dims": shrink}, name=node.name, origin=(node.name,)
        ).outputs
    return graph.add_node("Identity", [out], {}, name=node.name, origin=(node.name,)).outputs


def _grouped_conv(
    graph: Graph, node: Any, inputs: list[Value], attrs: dict[str, Any], where: str
) -> list[Value] | None:
    """A grouped ``Conv2D`` (input channels a multiple of the filter's, as Keras' ``groups=``
    emits) with one input channel per group is a depthwise convolution: its filter
    ``[kh, kw, 1, C * m]`` reshaped to ``[kh, kw, C, m]`` gives output channel ``c * m + j`` from
    input channel ``c`` in both. Other groupings are refused naming the node; None: not grouped."""
    x, w = inputs[0].type, inputs[1].type
    if x.shape is None or w.shape is None or len(x.shape) != 4 or len(w.shape) != 4:
        return None
    c, cin, cout = x.shape[3], w.shape[2], w.shape[3]
    if not (isinstance(c, int) and isinstance(cin, int) and isinstance(cout, int)) or c == cin:
        return None
    if cin == 0 or c % cin:
        return None  # inference names the mismatch
    groups = c // cin
    if cin != 1 or cout % groups or attrs.get("data_format", "NHWC") != "NHWC":
        raise GraphImportError(
            f"{where}: a grouped convolution ({groups} groups of {cin} input channels, "
            f"{attrs.get('data_format', 'NHWC')}) is not supported; only one input channel per group"
        )
    shape = np.array([w.shape[0], w.shape[1], c, cout // c], dtype=np.int64)
    const = graph.add_node(
        "Const", [], {"value": shape}, name=f"{node.name}/depthwise_filter_shape", origin=(node.name,)
    )
    filt = graph.add_node(
        "Reshape", [inputs[1], const.output], {}, name=f"{node.name}/depthwise_filter", origin=(node.name,)
    )
    ir = graph.add_node(
        "DepthwiseConv2dNative", [inputs[0], filt.output], attrs, name=node.name, origin=(node.name,)
    )
    return ir.outputs
