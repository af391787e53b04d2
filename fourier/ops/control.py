"""Control flow: loops (``While``), conditionals (``If``) and the TensorLists loop bodies use.

A loop or a conditional holds its regions as sub-graphs in string attributes: each is an IR graph
in text form (`fourier.ir.printer`), stored as a JSON list of its lines so that the attribute
prints on one line and round-trips through the parser. A region's parameters are Placeholders
named ``arg0``, ``arg1``, ... binding the op's operands by position (a parameter the region does
not read may be absent); its results are its outputs, in order. A region holds only constants
small enough to print inline: the importer passes larger ones in as operands.

- ``While(*carried) {cond, body}``: ``cond(*carried)`` gives a scalar bool; while it holds,
  ``carried = body(*carried)``. Lowered to ``jax.lax.while_loop``, or to a loop of a fixed trip
  count (``jax.lax.fori_loop``: a scan) when the IR proves the count (`static_trip_count`).
- ``If(pred, *args) {then_branch, else_branch}``: one branch applied to ``args``. Lowered to
  ``jax.lax.cond`` (the branch itself when ``pred`` is known at compile time).

A TensorList is a dense array ``[length, *element_shape]`` of the element dtype: its length and
element shape must be known when a bucket is compiled (``TensorListReserve``'s ``num_elements``,
or the tensor given to ``TensorListFromTensor``). An element dimension the graph leaves unknown
(``-1``, as Keras' batch) is held as size 0 until the first ``TensorListSetItem`` fixes it, which
is what a reserved list whose elements are not set yet holds: nothing. Inference learns the same
dimension from the items the loop body sets (`fourier.importer.control` iterates a loop's types to
a fixpoint).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from fourier.errors import CompileError, FourierError
from fourier.ir.core import Graph, Node
from fourier.ir.parser import parse_graph
from fourier.ir.printer import INLINE_CONST_ELEMENTS, print_graph
from fourier.ir.types import UNKNOWN, Dim, TensorType, dim_to_sym
from fourier.ops.padding import (
    FREE,
    SIZE,
    State,
    has_symbol,
    join_culprits,
    mixed,
    node_states,
)
from fourier.ops.registry import Attr, InferContext, get_op, register, shape_value

__all__ = [
    "encode_region",
    "decode_region",
    "region_params",
    "run_region",
    "analyse_region",
    "join_types",
    "MAX_REFERENCE_ITERATIONS",
    "MAX_STATIC_TRIPS",
    "static_trip_count",
    "WHILE_OPS",
    "IF_OPS",
]

WHILE_OPS = ("While", "StatelessWhile")
IF_OPS = ("If", "StatelessIf")
# The reference interpreter refuses a loop that runs longer than this (nothing hangs).
MAX_REFERENCE_ITERATIONS = 1 << 20


# -- regions: sub-graphs held in string attributes ------------------------------------------------


def encode_region(graph: Graph) -> str:
    """A region's attribute value: its IR text as a JSON list of lines (one printed line)."""
    for node in graph.nodes:
        if node.op == "Const" and node.attrs["value"].size > INLINE_CONST_ELEMENTS:
            raise ValueError(
                f"region {graph.name!r}: constant {node.name!r} has {node.attrs['value'].size} elements; "
                f"a region holds only constants of at most {INLINE_CONST_ELEMENTS} (pass larger ones in)"
            )
    return json.dumps(print_graph(graph).splitlines())


@lru_cache(maxsize=512)
def decode_region(text: str) -> Graph:
    """The region a `encode_region` attribute holds (parsed once per text; do not modify it)."""
    lines = json.loads(text)
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise ValueError("a region attribute must be a JSON list of IR text lines")
    return parse_graph("\n".join(lines) + "\n")


def region_params(graph: Graph) -> dict[int, Node]:
    """A region's parameters by operand position (``arg3`` binds operand 3)."""
    out: dict[int, Node] = {}
    for node in graph.inputs:
        if not (node.name.startswith("arg") and node.name[3:].isdigit()):
            raise ValueError(f"region {graph.name!r}: parameter {node.name!r} is not named argK")
        out[int(node.name[3:])] = node
    return out


def run_region(graph: Graph, args: Sequence[Any], lower: bool) -> list[Any]:
    """Evaluate a region on ``args``: numpy references, or (``lower``) JAX lowerings, where operands
    known at trace time stay numpy (as `fourier.backends.jax_lowering` does)."""
    env: dict[int, Any] = {}
    for node in graph.nodes:
        if node.op == "Placeholder":
            env[id(node.output)] = args[int(node.name[3:])]
            continue
        opdef = get_op(node.op)
        vals = [env[id(v)] for v in node.inputs]
        concrete = all(isinstance(a, (np.ndarray, np.generic)) for a in vals)
        if not lower or (concrete and "pure" in opdef.traits):
            out = opdef.reference(node.attrs, *vals)
        else:
            out = opdef.lower(node.attrs, *vals)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for v, o in zip(node.outputs, outs):
            env[id(v)] = np.asarray(o) if isinstance(o, (np.ndarray, np.generic)) else o
    return [env[id(v)] for _, v in graph.outputs]


def join_types(a: TensorType, b: TensorType) -> TensorType | None:
    """The type both ``a`` and ``b`` have: equal dims kept, an unknown one taking the other's,
    others unknown; None when the dtypes or ranks differ."""
    if a.dtype != b.dtype:
        return None
    if a.shape is None or b.shape is None:
        return TensorType(a.dtype, a.shape if b.shape is None else b.shape)
    if len(a.shape) != len(b.shape):
        return None
    dims: list[Dim] = []
    for x, y in zip(a.shape, b.shape):
        dims.append(y if x == UNKNOWN else x if y == UNKNOWN or x == y else UNKNOWN)
    return TensorType(a.dtype, tuple(dims))


def _fits(given: TensorType, want: TensorType) -> bool:
    """Whether an operand of type ``given`` may bind a parameter of type ``want``."""
    if given.dtype != want.dtype:
        return False
    if given.shape is None or want.shape is None:
        return True
    if len(given.shape) != len(want.shape):
        return False
    return all(x == y or UNKNOWN in (x, y) for x, y in zip(given.shape, want.shape))


def _region(ctx: InferContext, attr: str) -> Graph:
    try:
        return decode_region(ctx.attrs[attr])
    except (FourierError, ValueError) as e:
        raise ctx.fail(f"region {attr!r} is not a valid sub-graph: {e}") from e


def _check_params(
    ctx: InferContext, attr: str, graph: Graph, types: Sequence[TensorType], first: int
) -> None:
    try:
        params = region_params(graph)
    except ValueError as e:
        raise ctx.fail(str(e)) from e
    for i, p in params.items():
        if i >= len(types):
            raise ctx.fail(f"region {attr!r} reads parameter arg{i}, but the op has {len(types)} operands")
        if not _fits(types[i], p.output.type):
            raise ctx.fail(
                f"operand {first + i} is {types[i]}, region {attr!r} takes {p.output.type} as arg{i}"
            )


# -- While ---------------------------------------------------------------------------------------


def _while_infer(ctx: InferContext) -> list[TensorType]:
    body, cond = _region(ctx, "body"), _region(ctx, "cond")
    _check_params(ctx, "body", body, ctx.types, 0)
    _check_params(ctx, "cond", cond, ctx.types, 0)
    if len(cond.outputs) != 1 or cond.outputs[0][1].type.dtype != "bool":
        got = ", ".join(str(v.type) for _, v in cond.outputs)
        raise ctx.fail(f"region 'cond' must give one bool, it gives ({got})")
    if len(body.outputs) != len(ctx.types):
        raise ctx.fail(f"region 'body' gives {len(body.outputs)} values, the loop carries {len(ctx.types)}")
    params = region_params(body)
    out = []
    for i, (t, (_, v)) in enumerate(zip(ctx.types, body.outputs)):
        carried = params[i].output.type if i in params else t
        joined = join_types(carried, v.type)
        if joined is None:
            raise ctx.fail(f"the body turns carried value {i} of type {carried} into {v.type}")
        out.append(joined)
    return out


def _while_reference(attrs: dict[str, Any], *args: np.ndarray) -> tuple[np.ndarray, ...]:
    body, cond = decode_region(attrs["body"]), decode_region(attrs["cond"])
    carried = [np.asarray(a) for a in args]
    for _ in range(MAX_REFERENCE_ITERATIONS):
        if not _truth(run_region(cond, carried, lower=False)[0]):
            return tuple(carried)
        carried = [np.asarray(x) for x in run_region(body, carried, lower=False)]
    raise RuntimeError(f"the loop ran {MAX_REFERENCE_ITERATIONS} iterations without its condition failing")


def _truth(pred: Any) -> bool:
    """TensorFlow's truth of a predicate: a scalar's value, else whether it has elements."""
    p = np.asarray(pred)
    return bool(p) if p.ndim == 0 else p.size > 0


def _while_lower(attrs: dict[str, Any], *args: Any) -> tuple[Any, ...]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    body, cond = decode_region(attrs["body"]), decode_region(attrs["cond"])

    def body_fn(carried: Any) -> tuple[Any, ...]:
        outs = run_region(body, carried, lower=True)
        return tuple(jnp.asarray(o, dtype=c.dtype) for o, c in zip(outs, carried))

    def cond_fn(carried: Any) -> Any:
        return jnp.reshape(jnp.asarray(run_region(cond, carried, lower=True)[0]), ())

    carried = tuple(jnp.asarray(a) for a in args)
    # A list whose element shape the graph leaves open is held empty until its first item is set
    # (module docstring): give it the shape the body gives it, which while_loop keeps fixed.
    for _ in range(len(carried) + 1):
        shapes = jax.eval_shape(body_fn, carried)
        if all(c.shape == s.shape for c, s in zip(carried, shapes)):
            break
        fixed = []
        for i, (c, s) in enumerate(zip(carried, shapes)):
            if c.shape != s.shape and c.size:
                raise CompileError(
                    f"the loop body turns carried value {i} of shape {list(c.shape)} into shape "
                    f"{list(s.shape)}; jax.lax.while_loop needs it fixed"
                )
            fixed.append(c if c.shape == s.shape else jnp.zeros(s.shape, c.dtype))
        carried = tuple(fixed)
    trips = static_trip_count(cond, body, args)
    if trips is not None:  # a fixed trip count: a scan, whose length XLA knows
        return tuple(lax.fori_loop(0, trips, lambda _, c: body_fn(c), carried))
    return tuple(lax.while_loop(cond_fn, body_fn, carried))


# A loop whose counters would run longer than this at compile time is lowered as a while loop.
MAX_STATIC_TRIPS = 100_000


def _reads(graph: Graph, outputs: Sequence[Any]) -> tuple[list[Node], set[int]]:
    """The nodes of ``graph`` the values ``outputs`` need (in graph order) and the parameters
    (by operand position) they read."""
    need: set[int] = set()
    stack = [v.producer for v in outputs]
    while stack:
        node = stack.pop()
        if id(node) in need:
            continue
        need.add(id(node))
        stack.extend(v.producer for v in node.inputs)
    nodes = [n for n in graph.nodes if id(n) in need]
    return nodes, {int(n.name[3:]) for n in nodes if n.op == "Placeholder"}


def static_trip_count(cond: Graph, body: Graph, args: Sequence[Any]) -> int | None:
    """How many times a loop runs, when the IR proves it at compile time: the condition reads
    only carried values (counters) whose updates read only counters, and every counter starts
    from a value known at compile time. The counters alone are then run (numpy references) until
    the condition fails. None otherwise, or past `MAX_STATIC_TRIPS`."""
    _, counters = _reads(cond, [v for _, v in cond.outputs])
    updates: dict[int, Any] = {}
    todo = sorted(counters)
    while todo:
        i = todo.pop()
        if i >= len(args) or i >= len(body.outputs):
            return None
        updates[i] = body.outputs[i][1]
        for j in _reads(body, [updates[i]])[1] - counters:
            counters.add(j)
            todo.append(j)
    if not all(isinstance(args[i], (np.ndarray, np.generic)) for i in counters):
        return None
    step_nodes, _ = _reads(body, list(updates.values()))
    test_nodes, _ = _reads(cond, [cond.outputs[0][1]])
    values = {i: np.asarray(args[i]) for i in counters}

    def run(nodes: list[Node], out: Any, state: dict[int, np.ndarray]) -> Any:
        env: dict[int, Any] = {}
        for node in nodes:
            if node.op == "Placeholder":
                env[id(node.output)] = state[int(node.name[3:])]
                continue
            got = get_op(node.op).reference(node.attrs, *[env[id(v)] for v in node.inputs])
            for v, o in zip(node.outputs, got if isinstance(got, (tuple, list)) else (got,)):
                env[id(v)] = np.asarray(o)
        return env[id(out)]

    try:
        for trips in range(MAX_STATIC_TRIPS + 1):
            if not _truth(run(test_nodes, cond.outputs[0][1], values)):
                return trips
            values = {i: run(step_nodes, updates[i], values) for i in counters}
    except Exception:  # a counter the references cannot run at compile time: not static
        return None
    return None


def _join_state(node: Node, a: State, b: State, symbol: str) -> State:
    """The state of a value that is ``a`` or ``b`` (a loop's carried value, a branch's result)."""
    if a == b:
        return a
    kinds = {a.kind, b.kind}
    if "mixed" in kinds:
        return join_culprits(s for s in (a, b) if s.kind == "mixed")
    if kinds == {"free", "size"}:
        return SIZE
    if kinds == {"free", "rows"}:  # free contents hold at every index
        return a if a.kind == "rows" else b
    if kinds == {"rows"}:
        return mixed(node, f"a value moves between {symbol} axes ({a.axis} and {b.axis}) across iterations")
    return mixed(node, f"a value holds indexed data or data that depends on the size of {symbol}")


def analyse_region(graph: Graph, params: Sequence[State], symbol: str) -> list[State]:
    """The states of a region's results given its parameters' (the independence analysis applied
    inside: a mixed input mixes, a value known at compile time is free or size, else the op's rule)."""
    states: dict[int, State] = {}
    for node in graph.nodes:
        if node.op == "Placeholder":
            states[id(node.output)] = params[int(node.name[3:])]
            continue
        outs = node_states(node, [states[id(v)] for v in node.inputs], symbol)
        for v, s in zip(node.outputs, outs):
            states[id(v)] = s
    return [states[id(v)] for _, v in graph.outputs]


def _passes_through(graph: Graph, i: int) -> bool:
    """Whether a region's result ``i`` is its parameter ``i`` unchanged (a loop invariant)."""
    v = graph.outputs[i][1]
    return v.producer.op == "Placeholder" and v.producer.name == f"arg{i}"


def _while_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Carried values must keep their layout through the body (followed to a fixpoint), and the
    condition must depend on no indexed data and not on the size"""
    body, cond = decode_region(node.attrs["body"]), decode_region(node.attrs["cond"])
    carried = list(ins)
    for _ in range(3 * len(carried) + 2):  # each round lifts a state; the lattice is 3 high
        outs = analyse_region(body, carried, symbol)
        joined = [_join_state(node, c, o, symbol) for c, o in zip(carried, outs)]
        if joined == carried:
            break
        carried = joined
    else:
        return [mixed(node, "the loop's analysis did not settle")] * len(node.outputs)
    (pred,) = analyse_region(cond, carried, symbol)
    reason = {
        "rows": "the number of iterations depends on indexed data",
        "size": f"the number of iterations depends on the size of {symbol}",
        "mixed": "",
    }.get(pred.kind)
    if reason is None:
        return carried
    lost = join_culprits([pred]) if pred.kind == "mixed" else mixed(node, reason)
    return [c if _passes_through(body, i) else lost for i, c in enumerate(carried)]


for _name in WHILE_OPS:
    register(
        _name,
        inputs=(1, None),
        attrs=[Attr("cond", "str"), Attr("body", "str")],
        infer=_while_infer,
        reference=_while_reference,
        lower=_while_lower,
        traits=("pure", "no_fold"),
        doc=(
            "while cond(*carried): carried = body(*carried); regions are sub-graphs "
            "(lowered to jax.lax.while_loop)"
        ),
        padding_rule=_while_padding,
    )

# -- If ------------------------------------------------------------------------------------------


def _if_infer(ctx: InferContext) -> list[TensorType]:
    then, other = _region(ctx, "then_branch"), _region(ctx, "else_branch")
    args = ctx.types[1:]
    _check_params(ctx, "then_branch", then, args, 1)
    _check_params(ctx, "else_branch", other, args, 1)
    if len(then.outputs) != len(other.outputs):
        raise ctx.fail(f"the branches give {len(then.outputs)} and {len(other.outputs)} values")
    out = []
    for i, ((_, a), (_, b)) in enumerate(zip(then.outputs, other.outputs)):
        joined = join_types(a.type, b.type)
        if joined is None:
            raise ctx.fail(f"result {i} is {a.type} in then_branch, {b.type} in else_branch")
        out.append(joined)
    return out


def _if_reference(attrs: dict[str, Any], pred: np.ndarray, *args: np.ndarray) -> tuple[np.ndarray, ...]:
    branch = decode_region(attrs["then_branch" if _truth(pred) else "else_branch"])
    return tuple(np.asarray(o) for o in run_region(branch, args, lower=False))


def _if_lower(attrs: dict[str, Any], pred: Any, *args: Any) -> tuple[Any, ...]:
    import jax.numpy as jnp
    from jax import lax

    then, other = decode_region(attrs["then_branch"]), decode_region(attrs["else_branch"])
    if isinstance(pred, (np.ndarray, np.generic)):  # known at trace time: only that branch
        return tuple(run_region(then if _truth(pred) else other, args, lower=True))

    def branch(graph: Graph) -> Any:
        return lambda *a: tuple(jnp.asarray(o) for o in run_region(graph, a, lower=True))

    p = jnp.asarray(pred)
    p = p.reshape(()).astype(bool) if p.ndim == 0 else jnp.asarray(p.size > 0)
    return tuple(lax.cond(p, branch(then), branch(other), *args))


def _if_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The predicate must depend on no indexed data and not on the size; the branches' results
    must agree"""
    pred = ins[0]
    if pred.kind in ("rows", "size"):
        what = "indexed data" if pred.kind == "rows" else f"the size of {symbol}"
        return [mixed(node, f"which branch runs depends on {what}")] * len(node.outputs)
    then = analyse_region(decode_region(node.attrs["then_branch"]), ins[1:], symbol)
    other = analyse_region(decode_region(node.attrs["else_branch"]), ins[1:], symbol)
    return [_join_state(node, a, b, symbol) for a, b in zip(then, other)]


for _name in IF_OPS:
    register(
        _name,
        inputs=(1, None),
        attrs=[Attr("then_branch", "str"), Attr("else_branch", "str")],
        infer=_if_infer,
        reference=_if_reference,
        lower=_if_lower,
        traits=("pure", "no_fold"),
        doc="then_branch(*args) if pred else else_branch(*args); regions are sub-graphs (jax.lax.cond)",
        padding_rule=_if_padding,
    )

# -- TensorLists ---------------------------------------------------------------------------------


def _element_shape(ctx: InferContext, i: int) -> tuple[Dim, ...] | None:
    """An element-shape operand as dims (``-1``: unknown); None when its rank is unknown (a
    scalar ``-1``: the items the loop body sets give it)."""
    dims = ctx.dims(i)
    if dims is None:
        raise ctx.fail(
            f"the element shape (input {i}) must be known at compile time, but it is computed at run time"
        )
    if ctx.types[i].shape == ():
        return None
    return tuple(UNKNOWN if isinstance(d, int) and d < 0 else d for d in dims)


def _reserve_infer(ctx: InferContext) -> list[TensorType]:
    elem = _element_shape(ctx, 0)
    num = ctx.dims(1)
    if num is None or len(num) != 1:
        raise ctx.fail(
            "the list length (input 1, num_elements) must be known at compile time "
            f"(a constant, or computed from shapes), got {ctx.types[1]} computed at run time"
        )
    length = num[0]
    if isinstance(length, int) and length < 0:
        raise ctx.fail(f"the list length (input 1, num_elements) is {length}")
    if elem is None:  # the element rank too is learnt from the items set (a loop's fixpoint)
        return [TensorType(ctx.attrs["element_dtype"], None)]
    return [TensorType(ctx.attrs["element_dtype"], (length, *elem))]


def _reserve(attrs: dict[str, Any], shape: Any, num: Any) -> np.ndarray:
    if not isinstance(shape, (np.ndarray, np.generic)) or not isinstance(num, (np.ndarray, np.generic)):
        raise CompileError("TensorListReserve: the element shape and length must be known at compile time")
    # unknown dims (and an unknown rank, a scalar shape) are empty until an item is set
    dims = [max(int(d), 0) for d in np.asarray(shape).reshape(-1)] if np.ndim(shape) else [0]
    return np.zeros((int(num), *dims), dtype=attrs["element_dtype"])


def _reserve_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """A list of nothing: free (its length may depend on the size, its contents do not)"""
    return [FREE]


register(
    "TensorListReserve",
    inputs=2,
    attrs=[Attr("element_dtype", "type"), Attr("shape_type", "type", "int32")],
    infer=_reserve_infer,
    reference=_reserve,
    lower=_reserve,
    doc="a list of num_elements unset elements of element_shape (a zero array [num, *shape])",
    padding_rule=_reserve_padding,
)


def _from_tensor_infer(ctx: InferContext) -> list[TensorType]:
    t = ctx.types[0]
    if t.shape is None or len(t.shape) == 0:
        raise ctx.fail(f"the tensor must have rank >= 1 and a known rank, got {t}")
    elem = _element_shape(ctx, 1)
    if elem is not None and elem and len(elem) != len(t.shape) - 1:
        raise ctx.fail(f"element shape {list(elem)} does not fit tensor {t}")
    return [t]


register(
    "TensorListFromTensor",
    inputs=2,
    attrs=[Attr("element_dtype", "type", None), Attr("shape_type", "type", "int32")],
    infer=_from_tensor_infer,
    xp_fn=lambda xp, a, x, shape: x,
    doc="the list of x's slices along axis 0 (the tensor itself)",
    padding_rule=lambda node, ins, symbol: [ins[0]],
)


def _list_type(ctx: InferContext, i: int = 0) -> TensorType:
    t = ctx.types[i]
    # shape None: a list whose element rank is not known yet (reserved with a scalar shape)
    if t.shape is not None and len(t.shape) == 0:
        raise ctx.fail(f"input {i} must be a list (an array [length, ...]), got {t}")
    want = ctx.attrs.get("element_dtype")
    if want is not None and want != t.dtype:
        raise ctx.fail(f"element_dtype is {want}, the list holds {t.dtype}")
    return t


def _check_index(ctx: InferContext, i: int) -> None:
    t = ctx.types[i]
    if not t.dtype.startswith("int") or (t.shape is not None and len(t.shape) != 0):
        raise ctx.fail(f"the index (input {i}) must be an integer scalar, got {t}")


def _get_item_infer(ctx: InferContext) -> list[TensorType]:
    t = _list_type(ctx)
    _check_index(ctx, 1)
    return [TensorType(t.dtype, None if t.shape is None else t.shape[1:])]


def _get_item(xp: Any, attrs: dict[str, Any], lst: Any, index: Any, shape: Any = None) -> Any:
    if xp is np:
        return lst[int(index)]
    from jax import lax

    return lax.dynamic_index_in_dim(lst, xp.asarray(index, dtype="int32"), 0, keepdims=False)


def _get_item_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Takes one element along axis 0 at an index that must be free: rows move down an axis"""
    lst, index = ins[0], ins[1]
    if index.kind == "rows":
        return [mixed(node, "the index depends on indexed data")]
    if lst.kind == "rows":
        if index.kind == "size":
            return [mixed(node, f"the index depends on the size of {symbol}")]
        if lst.axis == 0:
            return [mixed(node, f"takes one element along the {symbol} axis")]
        return [lst.moved(lst.axis - 1)]
    return [SIZE if "size" in (lst.kind, index.kind) else FREE]


register(
    "TensorListGetItem",
    inputs=(2, 3),
    attrs=[Attr("element_dtype", "type", None)],
    infer=_get_item_infer,
    xp_fn=_get_item,
    doc="element index of the list",
    padding_rule=_get_item_padding,
)


def _set_item_infer(ctx: InferContext) -> list[TensorType]:
    t = _list_type(ctx)
    if ctx.attrs["resize_if_index_out_of_bounds"]:
        raise ctx.fail(
            "resize_if_index_out_of_bounds = true (a list that grows) is not supported: lists have a fixed length"
        )
    _check_index(ctx, 1)
    item = ctx.types[2]
    if item.dtype != t.dtype:
        raise ctx.fail(f"the item is {item}, the list holds {t.dtype}")
    if t.shape is None:  # the first item set gives the elements their rank
        return [TensorType(t.dtype, None if item.shape is None else (UNKNOWN, *item.shape))]
    elem = TensorType(t.dtype, t.shape[1:])
    joined = join_types(elem, item)
    if joined is None or joined.shape is None or not _fits(item, elem):
        raise ctx.fail(f"the item is {item}, the list's elements are {elem}")
    return [TensorType(t.dtype, (t.shape[0], *joined.shape))]


def _set_item(xp: Any, attrs: dict[str, Any], lst: Any, index: Any, item: Any) -> Any:
    if tuple(lst.shape[1:]) != tuple(item.shape):
        if lst.size:  # only a list whose elements were never set takes its shape from an item
            raise ValueError(
                f"TensorListSetItem: item of shape {list(item.shape)} into a list of {list(lst.shape)}"
            )
        lst = xp.zeros((lst.shape[0], *item.shape), dtype=lst.dtype)
    if xp is np:
        out = np.array(lst, copy=True)
        out[int(index)] = item
        return out
    from jax import lax

    return lax.dynamic_update_index_in_dim(lst, item.astype(lst.dtype), xp.asarray(index, dtype="int32"), 0)


def _set_item_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Writes one element along axis 0 at a free index: the item's rows must sit one axis below
    the list's"""
    lst, index, item = ins
    if index.kind == "rows":
        return [mixed(node, "the index depends on indexed data")]
    if lst.kind != "rows" and item.kind != "rows":
        return [SIZE if "size" in (lst.kind, index.kind, item.kind) else FREE]
    if "size" in (lst.kind, index.kind, item.kind):
        return [mixed(node, f"writes indexed data together with data that depends on the size of {symbol}")]
    want = lst if lst.kind == "rows" else item.moved(item.axis + 1)
    if item.kind == "rows" and State("rows", item.axis + 1, item.outer, item.inner) != want:
        return [mixed(node, f"writes an item whose {symbol} axis is not the list's")]
    if want.axis == 0:
        return [mixed(node, f"writes one element along the {symbol} axis")]
    return [want]


register(
    "TensorListSetItem",
    inputs=3,
    attrs=[Attr("element_dtype", "type", None), Attr("resize_if_index_out_of_bounds", "bool", False)],
    infer=_set_item_infer,
    xp_fn=_set_item,
    doc="the list with element index replaced by item",
    padding_rule=_set_item_padding,
)


def _stack_infer(ctx: InferContext) -> list[TensorType]:
    t = _list_type(ctx)
    n = ctx.attrs["num_elements"]
    assert t.shape is not None
    if n >= 0 and isinstance(t.shape[0], int) and t.shape[0] != n:
        raise ctx.fail(f"num_elements is {n}, the list holds {t.shape[0]}")
    return [t]


register(
    "TensorListStack",
    inputs=(1, 2),
    attrs=[Attr("element_dtype", "type", None), Attr("num_elements", "int", -1)],
    infer=_stack_infer,
    xp_fn=lambda xp, a, lst, shape=None: lst,
    doc="the list's elements stacked along a new axis 0 (the array itself)",
    padding_rule=lambda node, ins, symbol: [ins[0]],
)


def _length_known(ctx: InferContext) -> list[np.ndarray] | None:
    t = ctx.types[0]
    if t.shape is None or not t.shape or t.shape[0] == UNKNOWN:
        return None
    d = t.shape[0]
    if isinstance(d, int):
        return [np.array(d, dtype=np.int32)]
    arr = np.empty((), dtype=object)
    arr[()] = dim_to_sym(d)
    return [arr]


def _length_infer(ctx: InferContext) -> list[TensorType]:
    _list_type(ctx)
    return [TensorType("int32", ())]


def _length_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The list's length: depends on the size when axis 0 has the symbol"""
    t = node.inputs[0].type
    return [
        SIZE
        if t.shape is None or not t.shape or has_symbol(t.shape[0], symbol) or t.shape[0] == UNKNOWN
        else FREE
    ]


register(
    "TensorListLength",
    inputs=1,
    infer=_length_infer,
    known=_length_known,
    xp_fn=lambda xp, a, lst: np.array(lst.shape[0], dtype=np.int32),
    doc="the number of elements of the list",
    padding_rule=_length_padding,
)


def _element_shape_infer(ctx: InferContext) -> list[TensorType]:
    t = _list_type(ctx)
    return [TensorType(ctx.attrs["shape_type"], (UNKNOWN if t.shape is None else len(t.shape) - 1,))]


def _element_shape_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The element shape: depends on the size when an element axis has the symbol"""
    t = node.inputs[0].type
    dims = (t.shape or ())[1:]
    return [SIZE if t.shape is None or any(has_symbol(d, symbol) or d == UNKNOWN for d in dims) else FREE]


def _element_shape_known(ctx: InferContext) -> list[np.ndarray] | None:
    t = ctx.types[0]
    if t.shape is None:
        return None
    v = shape_value(TensorType(t.dtype, t.shape[1:]))
    return None if v is None else [v if v.dtype == object else v.astype(ctx.attrs["shape_type"])]


register(
    "TensorListElementShape",
    inputs=1,
    attrs=[Attr("shape_type", "type", "int32")],
    infer=_element_shape_infer,
    known=_element_shape_known,
    xp_fn=lambda xp, a, lst: np.array(np.shape(lst)[1:], dtype=a["shape_type"]),
    doc="the shape of the list's elements",
    padding_rule=_element_shape_padding,
)
