"""Drop the values a functional loop carries for nobody: gradient accumulators.

TensorFlow 2's ``while_loop`` (control flow v2) makes every loop differentiable by carrying, for
each value the body computes that a gradient might need, a TensorList accumulator: an
``EmptyTensorList`` goes in, the body ``TensorListPushBack`` s one item per iteration, and the list
comes out of the ``While`` node, where nothing reads it in an inference graph. A frozen model keeps
them all (deepctr's DIEN carries 82 through its two GRU loops, for 7 real values). They cost a copy
per iteration, and their lists grow with the trip count, which a compiled loop cannot do.

`prune_loop_carries` removes, before anything else sees the graph, each carried value of a
functional ``While`` / ``StatelessWhile`` that is dead: its output is read by no node and is no
graph output, the condition does not read it, and no live carried value's body computation reads
it (a fixpoint: a value is live if it is read outside, by the condition, or by the body's update of
a live value). What is removed goes from the node's operands, its ``T`` and ``output_shapes``
attributes, and from new copies of the ``cond`` and ``body`` functions (renamed ``<name>_live<k>``:
the originals may serve other loops); the body keeps only the nodes its live results read. Readers
of the loop's later outputs are renumbered.

Function bodies are written ``arg``, ``node:out_arg:i`` or ``^node`` (control); the names the walk
needs are the part before the first colon.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fourier.importer.protos import GraphDef

__all__ = ["prune_loop_carries"]

_WHILE_OPS = ("While", "StatelessWhile")


def _node_of(ref: str) -> str:
    return ref.lstrip("^").split(":")[0]


def _graph_ref(ref: str) -> tuple[str, int]:
    """``node:i`` of a GraphDef input (``node`` is output 0)."""
    name, _, index = ref.partition(":")
    return name, int(index) if index.isdigit() else 0


def _reached(fdef: Any, roots: Iterable[str]) -> tuple[set[str], set[str]]:
    """The body nodes and the arguments that ``roots`` (function references) read, transitively,
    through data inputs."""
    nodes = {n.name: n for n in fdef.node_def}
    args = {a.name for a in fdef.signature.input_arg}
    seen_nodes: set[str] = set()
    seen_args: set[str] = set()
    stack = [r for r in roots if not r.startswith("^")]
    while stack:
        name = _node_of(stack.pop())
        if name in args:
            seen_args.add(name)
        elif name in nodes and name not in seen_nodes:
            seen_nodes.add(name)
            stack.extend(i for i in nodes[name].input if not i.startswith("^"))
    return seen_nodes, seen_args


def _live(node: Any, cond: Any, body: Any, read: set[int]) -> set[int]:
    """Which carried values of loop ``node`` are live, given the outputs ``read`` outside."""
    count = len(body.signature.input_arg)
    arg_index = {a.name: i for i, a in enumerate(body.signature.input_arg)}
    cond_args = {a.name: i for i, a in enumerate(cond.signature.input_arg)}
    _, by_cond = _reached(cond, cond.ret.values())
    live = {i for i in read if i < count} | {cond_args[a] for a in by_cond}
    outs = [a.name for a in body.signature.output_arg]
    todo = list(live)
    while todo:
        i = todo.pop()
        _, args = _reached(body, [body.ret[outs[i]]])
        for a in args:
            j = arg_index[a]
            if j not in live:
                live.add(j)
                todo.append(j)
    return live


def _pruned_function(fdef: Any, keep: Sequence[int], name: str, keep_outputs: bool) -> Any:
    """A copy of ``fdef`` named ``name`` taking only the arguments ``keep`` (and, when
    ``keep_outputs``, giving only those results), with only the nodes its results read."""
    out = type(fdef)()
    out.CopyFrom(fdef)
    out.signature.name = name
    kept_args = [fdef.signature.input_arg[i] for i in keep]
    del out.signature.input_arg[:]
    out.signature.input_arg.extend(kept_args)
    out.arg_attr.clear()
    for new, old in enumerate(keep):
        if old in fdef.arg_attr:
            out.arg_attr[new].CopyFrom(fdef.arg_attr[old])
    out.resource_arg_unique_id.clear()
    if keep_outputs:
        kept_outs = [fdef.signature.output_arg[i] for i in keep]
        del out.signature.output_arg[:]
        out.signature.output_arg.extend(kept_outs)
        out.ret.clear()
        for arg in kept_outs:
            out.ret[arg.name] = fdef.ret[arg.name]
    used, _ = _reached(out, out.ret.values())
    del out.node_def[:]
    out.node_def.extend(n for n in fdef.node_def if n.name in used)
    out.control_ret.clear()
    del out.signature.control_output[:]
    return out


def prune_loop_carries(graph_def: Any, outputs: Sequence[str]) -> tuple[Any, list[str]]:
    """``graph_def`` without the dead carried values of its functional loops (the module doc),
    and ``outputs`` (the graph's output tensors, ``node`` or ``node:i``, which count as read)
    renumbered to match. Returns ``graph_def`` itself when no loop carries a dead value."""
    loops = [n for n in graph_def.node if n.op in _WHILE_OPS]
    if not loops:
        return graph_def, list(outputs)
    functions = {f.signature.name: f for f in graph_def.library.function}
    read: dict[str, set[int]] = {n.name: set() for n in loops}
    for ref in outputs:
        name, i = _graph_ref(ref)
        if name in read:
            read[name].add(i)
    for n in graph_def.node:
        for ref in n.input:
            if not ref.startswith("^"):
                name, i = _graph_ref(ref)
                if name in read:
                    read[name].add(i)
    plans: dict[str, list[int]] = {}
    for n in loops:
        cond = functions.get(n.attr["cond"].func.name)
        body = functions.get(n.attr["body"].func.name)
        if cond is None or body is None or len(body.signature.input_arg) != len(n.input):
            continue  # the region importer reports what is wrong with such a loop
        if len(body.signature.output_arg) != len(body.signature.input_arg):
            continue
        live = _live(n, cond, body, read[n.name])
        if len(live) < len(body.signature.input_arg):
            plans[n.name] = sorted(live)
    if not plans:
        return graph_def, list(outputs)

    out = GraphDef()
    out.CopyFrom(graph_def)
    taken = set(functions)
    renumber: dict[str, dict[int, int]] = {}
    for n in out.node:
        if n.name not in plans:
            continue
        keep = plans[n.name]
        renumber[n.name] = {old: new for new, old in enumerate(keep)}
        data = list(n.input)
        controls = [i for i in data if i.startswith("^")]
        operands = [i for i in data if not i.startswith("^")]
        del n.input[:]
        n.input.extend([operands[i] for i in keep] + controls)
        for attr in ("T", "output_shapes"):
            if attr in n.attr:
                values = n.attr[attr].list
                field = "type" if attr == "T" else "shape"
                kept = [getattr(values, field)[i] for i in keep]
                del getattr(values, field)[:]
                getattr(values, field).extend(kept)
        n.attr.pop("_read_only_resource_inputs", None)
        for attr, keep_outputs in (("cond", False), ("body", True)):
            old = n.attr[attr].func.name
            k = 0
            while f"{old}_live{k}" in taken:
                k += 1
            name = f"{old}_live{k}"
            taken.add(name)
            out.library.function.append(_pruned_function(functions[old], keep, name, keep_outputs))
            n.attr[attr].func.name = name

    def moved(ref: str) -> str:
        name, i = _graph_ref(ref)
        return f"{name}:{renumber[name][i]}" if name in renumber else ref

    for n in out.node:
        for k, ref in enumerate(n.input):
            if not ref.startswith("^"):
                n.input[k] = moved(ref)
    return out, [moved(o) for o in outputs]
