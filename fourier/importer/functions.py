"""Inlining calls into a GraphDef's function library.

Keras models frozen with ``convert_variables_to_constants_v2`` can keep calls into the GraphDef's
function library: ``PartitionedCall`` / ``StatefulPartitionedCall`` nodes naming a function in
their ``f`` attribute (a grouped convolution Keras compiles with ``jit_compile=True``), or nodes
whose op *is* a library function. The importer inlines each call the outputs depend on before
anything else sees the graph:

- the function's body nodes join the graph under the call's name as a prefix (``call/node``);
- its input arguments become the call's data inputs, in order; an argument that is a list
  (``number_attr`` / ``type_list_attr``) takes as many inputs as the call's attributes say;
- body inputs are written ``arg``, ``node:out_arg:i`` or ``node:out_arg`` (the whole list): the
  i-th tensor of the node's output argument ``out_arg``, which `output_ranges` turns into a flat
  output index;
- attribute values ``placeholder: "T"`` are taken from the call's attributes (a
  ``PartitionedCall``'s function attributes, or the attributes of a node calling a function
  directly), nested function-valued attributes included;
- the call node itself becomes a forwarding node whose inputs are the function's ``ret`` tensors,
  in the order of the signature's output arguments, so ``call:k`` keeps its meaning;
- control inputs are dropped, as everywhere in the importer; calls inside bodies are inlined the
  same way, and a function that calls itself, directly or not, is refused naming the cycle.
"""

from __future__ import annotations

from typing import Any

from tensorboard.compat.proto.node_def_pb2 import NodeDef

from fourier.errors import GraphImportError

__all__ = ["CALL_OPS", "Inliner", "output_ranges", "MAX_INLINED_NODES"]

CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
# Inlining stops with an error past this many body nodes (a hostile library can nest calls so
# that the inlined graph grows exponentially).
MAX_INLINED_NODES = 1_000_000

# Output argument names of the ops with more than one output argument (each a single tensor);
# every other op has one output argument, possibly a list, and ``node:any_name:i`` is output i.
_BN = ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2")
_OUTPUT_ARGS: dict[str, tuple[str, ...]] = {
    "FusedBatchNorm": _BN,
    "FusedBatchNormV2": _BN,
    "FusedBatchNormV3": (*_BN, "reserve_space_3"),
    "TopKV2": ("values", "indices"),
    "Unique": ("y", "idx"),
}


def _list_length(node: Any) -> int:
    """How many tensors the single output argument of a list-producing op holds."""
    a = node.attr
    if node.op in ("Split", "SplitV") and "num_split" in a:
        return int(a["num_split"].i)
    if node.op == "Unpack" and "num" in a:
        return int(a["num"].i)
    if node.op == "IdentityN" and "T" in a:
        return len(a["T"].list.type)
    return 1


def _arg_count(arg: Any, attrs: Any, where: str) -> int:
    """How many tensors an argument of a function signature stands for."""
    if arg.number_attr:
        if arg.number_attr not in attrs:
            raise GraphImportError(f"{where}: argument {arg.name!r} needs attribute {arg.number_attr!r}")
        return int(attrs[arg.number_attr].i)
    if arg.type_list_attr:
        if arg.type_list_attr not in attrs:
            raise GraphImportError(f"{where}: argument {arg.name!r} needs attribute {arg.type_list_attr!r}")
        return len(attrs[arg.type_list_attr].list.type)
    return 1


def output_ranges(node: Any, functions: dict[str, Any], where: str) -> dict[str, tuple[int, int]] | None:
    """``{output arg name: (first flat output index, count)}`` of a node, or None when the op has
    one output argument (any name, ``count`` from `_list_length`)."""
    if node.op in functions:
        ranges, start = {}, 0
        for arg in functions[node.op].signature.output_arg:
            n = _arg_count(arg, node.attr, where)
            ranges[arg.name] = (start, n)
            start += n
        return ranges
    if node.op in CALL_OPS:
        return {"output": (0, len(node.attr["Tout"].list.type) if "Tout" in node.attr else 1)}
    if node.op in _OUTPUT_ARGS:
        return {name: (i, 1) for i, name in enumerate(_OUTPUT_ARGS[node.op])}
    return None


class Inliner:
    """Expands the calls of one GraphDef (see the module docstring)."""

    def __init__(self, graph_def: Any, source: str) -> None:
        self.source = source
        self.functions: dict[str, Any] = {f.signature.name: f for f in graph_def.library.function}
        self.chains: dict[str, tuple[str, ...]] = {}  # body node -> the functions it sits inside
        self.forwarded: set[str] = set()  # call nodes turned into forwarding nodes
        self.inlined = 0

    def callee(self, node: Any) -> str | None:
        """The library function a node calls, None if it is no call; a call to a missing
        function is refused."""
        if node.op in self.functions:
            return str(node.op)
        if node.op not in CALL_OPS:
            return None
        name = ""
        if "f" in node.attr and node.attr["f"].WhichOneof("value") == "func":
            name = node.attr["f"].func.name
        if name not in self.functions:
            raise GraphImportError(
                f"{self.source}: node {node.name!r} ({node.op}) calls "
                + (
                    f"function {name!r}, but function {name!r} is not in the library"
                    if name
                    else "no function"
                )
            )
        return name

    def expand(self, node: Any, fname: str) -> tuple[Any, list[Any]]:
        """Inline one call: (the forwarding node that replaces it, the body nodes)."""
        chain = (*self.chains.get(node.name, ()), fname)
        if fname in chain[:-1]:
            cycle = list(chain[chain.index(fname) :])
            raise GraphImportError(
                f"{self.source}: node {node.name!r} ({node.op}) calls function {fname!r} from the "
                f"graph's function library, and the functions recurse: {' -> '.join(cycle)}"
            )
        fdef = self.functions[fname]
        where = f"{self.source}: node {node.name!r} ({node.op}) calling function {fname!r}"
        call_attrs = node.attr["f"].func.attr if node.op in CALL_OPS else node.attr
        prefix = node.name + "/"

        # Input arguments -> the call's data inputs.
        data = [i for i in node.input if not i.startswith("^")]
        args: dict[str, list[str]] = {}
        at = 0
        for arg in fdef.signature.input_arg:
            n = _arg_count(arg, call_attrs, where)
            args[arg.name] = data[at : at + n]
            at += n
        if at != len(data):
            raise GraphImportError(f"{where}: the function takes {at} inputs, the call gives {len(data)}")

        body: list[Any] = []
        ranges: dict[str, dict[str, tuple[int, int]] | None] = {}
        lengths: dict[str, int] = {}
        for inner in fdef.node_def:
            if inner.name in ranges:
                raise GraphImportError(f"{where}: the body uses node name {inner.name!r} twice")
            copy = NodeDef()
            copy.CopyFrom(inner)
            for key in list(copy.attr):
                _substitute(
                    copy.attr[key], call_attrs, f"{where}, body node {inner.name!r} attribute {key!r}"
                )
            body.append(copy)
            ranges[inner.name] = output_ranges(copy, self.functions, f"{where}, body node {inner.name!r}")
            lengths[inner.name] = _list_length(copy)
        self.inlined += len(body)
        if self.inlined > MAX_INLINED_NODES:
            raise GraphImportError(
                f"{self.source}: inlining function calls would add more than {MAX_INLINED_NODES} nodes"
            )

        def resolve(text: str, reader: str) -> list[str]:
            parts = text.split(":")
            if len(parts) == 1 and text in args:
                return list(args[text])
            if len(parts) == 2 and parts[0] in args and parts[1].isdigit():
                i = int(parts[1])
                if i >= len(args[parts[0]]):
                    raise GraphImportError(f"{where}: {reader} reads {text!r}, past the argument's end")
                return [args[parts[0]][i]]
            src = parts[0]
            if src not in ranges or len(parts) > 3:
                raise GraphImportError(f"{where}: {reader} reads {text!r}, which is not in the function")
            rng = ranges[src]
            if len(parts) == 1:
                return [f"{prefix}{src}:0"]
            if rng is None:
                start, count = 0, lengths[src]
                if len(parts) == 3:
                    count = max(count, int(parts[2]) + 1) if parts[2].isdigit() else count
            elif parts[1] in rng:
                start, count = rng[parts[1]]
            else:
                raise GraphImportError(
                    f"{where}: {reader} reads {text!r}, but {src!r} has no output argument {parts[1]!r}"
                )
            if len(parts) == 2:
                return [f"{prefix}{src}:{start + i}" for i in range(count)]
            if not parts[2].isdigit() or int(parts[2]) >= count:
                raise GraphImportError(f"{where}: {reader} reads {text!r}, past the output argument's end")
            return [f"{prefix}{src}:{start + int(parts[2])}"]

        for copy in body:
            inputs = [t for i in copy.input if not i.startswith("^") for t in resolve(i, repr(copy.name))]
            del copy.input[:]
            copy.input.extend(inputs)
            copy.name = prefix + copy.name
            self.chains[copy.name] = chain

        results: list[str] = []
        for arg in fdef.signature.output_arg:
            if arg.name not in fdef.ret:
                raise GraphImportError(f"{where}: output {arg.name!r} has no ret entry")
            got = resolve(fdef.ret[arg.name], f"output {arg.name!r}")
            want = _arg_count(arg, call_attrs, where)
            if len(got) != want:
                raise GraphImportError(
                    f"{where}: output {arg.name!r} holds {len(got)} tensors, {want} expected"
                )
            results.extend(got)
        forward = NodeDef()
        forward.name, forward.op = node.name, "IdentityN"
        forward.input.extend(results)
        self.forwarded.add(node.name)
        return forward, body


def _substitute(av: Any, attrs: Any, where: str) -> None:
    """Replace ``placeholder`` attribute values (also inside function-valued ones) from ``attrs``."""
    kind = av.WhichOneof("value")
    if kind == "placeholder":
        name = av.placeholder
        if name not in attrs:
            raise GraphImportError(f"{where}: placeholder {name!r} is not given by the call")
        av.CopyFrom(attrs[name])
    elif kind == "func":
        for key in list(av.func.attr):
            _substitute(av.func.attr[key], attrs, where)
