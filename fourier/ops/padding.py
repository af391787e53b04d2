"""Padding rules: how an op treats a symbolic dimension, the registry facet the independence
analysis (`fourier.passes.independence`) reads.

Padding a request to a compiled shape is only correct when every output element depends on the
inputs at its own index of the padded dimension and on nothing else: not on other rows, not on the
padded size. The analysis proves that one symbol at a time (``N``, the batch, or a sequence symbol
such as ``S``) by giving each value an abstract state:

- ``free``   its contents depend neither on indexed input contents nor on the symbol's size
  (constants, ``ZerosLike``, a ``Range`` over a sequence symbol: index ``i`` holds ``i`` at any
  size; a ``Range`` over the batch is ``size``: chunking a large batch moves rows);
- ``size``   its contents depend on the symbol's size but on no indexed contents (``Shape(x)``,
  a reduction of a free tensor over a symbol-sized axis); fine as a shape operand, not as data;
- ``rows``   element ``j`` along ``axis`` depends only on the inputs at index
  ``(j // inner) % X`` of the symbol; ``outer``/``inner`` describe a folded axis (``N*S``);
- ``mixed``  it depends on several indices or on the size; ``culprits`` names where that began.

A padding rule maps a node's input states to its output states:
``rule(node, ins, symbol) -> list[State]``. An op registers its rule beside itself in its family
module (``register(..., padding_rule=rule)``), as JAX registers a batching rule beside a primitive; an
op that registers none gets the one its traits imply (`rule_of`): ``identity`` passes its
input's state through, ``elementwise`` aligns operands as numpy broadcasting does, ``reduction``
reduces over the axes its second operand names, ``constant`` is free. This module holds the
lattice and the building blocks rules are made of: elementwise combination, reduction,
contraction by einsum labels, sliding windows over a batch-major axis, and data movement, which is
followed by running the op's own reference implementation on *probes*: the indexed input becomes
a tensor holding each element's index + 1 at two different sizes of the symbol, and the output
must again be an index tensor of one recognisable layout.

The analysis applies two things before any rule, for every op: a node with a mixed input is mixed
(with the input's culprits), and a node whose outputs are all known at compile time is free unless
they hold the symbol's size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fourier.ir.core import Node, Value
from fourier.ir.types import Dim, Sym, TensorType, dim_to_sym
from fourier.ops.registry import OpDef, get_op

__all__ = [
    "Culprit",
    "State",
    "FREE",
    "SIZE",
    "PaddingRule",
    "rule_of",
    "mixed",
    "join_culprits",
    "has_symbol",
    "maybe_symbol",
    "known_value",
    "axis_list",
    "first_rank",
    "elementwise",
    "combined",
    "reduce_axes",
    "contraction",
    "identity",
    "always_free",
    "elementwise_rule",
    "reduction",
    "along_last_axis",
    "batch_major",
    "moves",
    "PROBE_SIZES",
    "OTHER_SIZE",
    "PROBE_MAX_ELEMENTS",
    "MAX_CULPRITS",
    "node_states",
]

PROBE_SIZES = (6, 10)  # sizes the analysed symbol takes in the two probes
OTHER_SIZE = 3  # size of every other symbol in the probes
PROBE_MAX_ELEMENTS = 1 << 24
MAX_CULPRITS = 8


# -- the lattice ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Culprit:
    """A node where independence was lost, and why."""

    node: str
    op: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node} ({self.op}): {self.reason}"


@dataclass(frozen=True)
class State:
    """What a value's contents depend on, for one symbol (see the module docstring)."""

    kind: str  # free | size | rows | mixed
    axis: int = -1
    outer: int | Sym = 1
    inner: int | Sym = 1
    culprits: tuple[Culprit, ...] = ()

    def moved(self, axis: int) -> State:
        return State("rows", axis, self.outer, self.inner)

    @property
    def plain(self) -> bool:
        """Rows along an axis that is exactly the symbol (not folded with others)."""
        return self.kind == "rows" and self.outer == 1 and self.inner == 1


FREE = State("free")
SIZE = State("size")

PaddingRule = Callable[["Node", list[State], str], list[State]]
"""``rule(node, ins, symbol)``: the states of ``node``'s outputs, given its inputs' states."""


def mixed(node: Node, reason: str) -> State:
    """Independence lost at ``node``, for ``reason``."""
    return State("mixed", culprits=(Culprit(node.name, node.op, reason),))


def join_culprits(states: Iterable[State]) -> State:
    """One mixed state carrying the culprits of all of ``states`` (at most `MAX_CULPRITS`)."""
    seen: dict[Culprit, None] = {}
    for s in states:
        for c in s.culprits:
            seen.setdefault(c, None)
    return State("mixed", culprits=tuple(list(seen)[:MAX_CULPRITS]))


# -- symbolic sizes ------------------------------------------------------------------------------


def has_symbol(d: Dim, symbol: str) -> bool:
    """Whether a dimension has the symbol in it (``N``, ``N*S``, ``2*N``)."""
    s = dim_to_sym(d)
    return isinstance(s, Sym) and symbol in s.names


def maybe_symbol(d: Dim, symbol: str) -> bool:
    """Whether a dimension has, or might have (unknown), the symbol in it."""
    return d == "?" or has_symbol(d, symbol)


def _concrete(s: int | Sym | None, env: dict[str, int]) -> int | None:
    if s is None:
        return None
    return s if isinstance(s, int) else s.value(env, OTHER_SIZE)


def _shape(t: TensorType, env: dict[str, int]) -> tuple[int, ...] | None:
    if t.shape is None:
        return None
    dims = [_concrete(dim_to_sym(d), env) for d in t.shape]
    if any(d is None for d in dims):
        return None
    return tuple(d for d in dims if d is not None)


def known_value(v: Value, env: dict[str, int]) -> np.ndarray | None:
    """A value known at compile time, with its symbolic entries given sizes from ``env``."""
    k = v.known
    if k is None:
        return None
    if k.dtype != object:
        return k
    flat = [_concrete(x, env) if isinstance(x, (Sym, int)) else None for x in k.reshape(-1).tolist()]
    if any(x is None for x in flat):
        return None
    dtype = np.dtype(v.type.dtype) if v.type.dtype.startswith("int") else np.int64
    return np.array(flat, dtype=dtype).reshape(k.shape)


def axis_list(node: Node, i: int, rank: int, env: dict[str, int]) -> list[int] | None:
    """Input ``i`` (axes) as sorted distinct non-negative axes, or None if not known."""
    k = known_value(node.inputs[i], env)
    if k is None:
        return None
    return sorted({int(a) % rank for a in np.asarray(k).reshape(-1).tolist()}) if rank else []


def first_rank(node: Node) -> int | None:
    """The rank of the node's first input, if known."""
    t0 = node.inputs[0].type if node.inputs else None
    return len(t0.shape) if t0 is not None and t0.shape is not None else None


def _split_factor(rest: int | Sym) -> list[tuple[int | Sym, int | Sym]]:
    """Every way to write ``rest`` as ``outer * inner``."""
    coef, names = (rest, ()) if isinstance(rest, int) else (rest.coef, rest.names)
    out = []
    for d in range(1, coef + 1):
        if coef % d:
            continue
        for k in range(len(names) + 1):
            for pick in itertools.combinations(range(len(names)), k):
                o_names = tuple(names[i] for i in pick)
                i_names = tuple(n for i, n in enumerate(names) if i not in pick)
                outer: int | Sym = Sym(d, o_names) if o_names else d
                inner: int | Sym = Sym(coef // d, i_names) if i_names else coef // d
                out.append((outer, inner))
    return out


# -- combining operands ---------------------------------------------------------------------------


def elementwise(
    node: Node,
    ins: list[State],
    symbol: str,
    operands: Sequence[int] | None = None,
    vector_condition: bool = False,
) -> State:
    """Operands aligned as numpy broadcasting aligns them (right to left); with
    ``vector_condition``, a vector operand 0 lines up with the first axis instead (TF1 Select)."""
    out_t = node.outputs[0].type
    if out_t.shape is None:
        return mixed(node, "output rank unknown")
    rank = len(out_t.shape)
    found: State | None = None
    sized = False
    for i in operands if operands is not None else range(len(node.inputs)):
        s, t = ins[i], node.inputs[i].type
        if s.kind == "size":
            sized = True
        if s.kind != "rows":
            continue
        assert t.shape is not None
        if vector_condition and i == 0 and len(t.shape) == 1 and rank > 1:
            aligned = s.axis
        else:
            aligned = s.axis + rank - len(t.shape)
        here = s.moved(aligned)
        if found is None:
            found = here
        elif found != here:
            return mixed(node, f"combines elements at different {symbol} indices (broadcast)")
    return combined(node, found, sized, symbol, "combines")


def combined(node: Node, found: State | None, sized: bool, symbol: str, verb: str) -> State:
    """The result of combining operands: indexed if one was, unless a size-dependent one joins."""
    if found is None:
        return SIZE if sized else FREE
    if sized:
        return mixed(node, f"{verb} indexed data with a value that depends on the size of {symbol}")
    return found


def reduce_axes(node: Node, ins: list[State], symbol: str, axes: list[int] | None, keep: bool) -> State:
    """Input 0 reduced over ``axes`` (None: not known), keeping them as size 1 or dropping them."""
    x, t = ins[0], node.inputs[0].type
    if axes is None:
        return mixed(node, "reduction axes are not known at compile time")
    assert t.shape is not None
    over_symbol = any(maybe_symbol(t.shape[a], symbol) for a in axes)
    if x.kind == "rows":
        if x.axis in axes:
            return mixed(node, f"reduces over the {symbol} axis")
        if over_symbol:
            return mixed(node, f"reduces over an axis whose size depends on {symbol}")
        return x.moved(x.axis if keep else x.axis - sum(a < x.axis for a in axes))
    if over_symbol or x.kind == "size":
        return SIZE
    return FREE


def contraction(node: Node, ins: list[State], symbol: str, labels: Sequence[str], out: str) -> State:
    """Einsum-style rule: ``labels[i]`` names input i's axes, ``out`` the output's."""
    found: tuple[str, State] | None = None
    sized = False
    for s, lab, v in zip(ins, labels, node.inputs):
        if s.kind == "size":
            sized = True
        if v.type.shape is not None:  # summing over a symbol-sized axis depends on the size
            sized |= any(maybe_symbol(d, symbol) and lab[a] not in out for a, d in enumerate(v.type.shape))
        if s.kind != "rows":
            continue
        label = lab[s.axis]
        if label not in out:
            return mixed(node, f"contracts over the {symbol} axis")
        here = (label, State("rows", out.index(label), s.outer, s.inner))
        if found is None:
            found = here
        elif found != here:
            return mixed(node, f"multiplies elements at different {symbol} indices together")
    return combined(node, None if found is None else found[1], sized, symbol, "contracts")


# -- rules an op can name, and the ones its traits imply ------------------------------------------


def identity(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Returns its input"""
    return [ins[0]]


def always_free(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Free: the contents depend on no indexed data and not on the size"""
    return [FREE]


def elementwise_rule(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Elementwise: broadcast-aligned row axes must agree"""
    return [elementwise(node, ins, symbol)] * len(node.outputs)


def reduction(node: Node, ins: list[State], symbol: str, keep: bool | None = None) -> list[State]:
    """Reduces over the axes operand 1 names (`keep_dims`): reducing over the rows' axis mixes"""
    rank = first_rank(node)
    axes = None if rank is None else axis_list(node, 1, rank, {symbol: PROBE_SIZES[0]})
    keep = bool(node.attrs.get("keep_dims")) if keep is None else keep
    return [reduce_axes(node, ins, symbol, axes, keep)]


def along_last_axis(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Reduces over the last axis: mixes if rows are on it"""
    rank = first_rank(node)
    if rank is None:
        return [mixed(node, "input rank unknown")]
    return [reduce_axes(node, ins[:1], symbol, [rank - 1], True)] * len(node.outputs)


def batch_major(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Slides a window over the axes after the first: rows only on axis 0"""
    n_out = len(node.outputs)
    x = ins[0]
    if any(s.kind != "free" for s in ins[1:]):
        return [mixed(node, "filter or statistics depend on the data")] * n_out
    if x.kind != "rows":
        return [x] * n_out
    if x.axis != 0:
        return [mixed(node, f"slides its window over the {symbol} axis")] * n_out
    return [x] + [FREE] * (n_out - 1)


_DERIVED: tuple[tuple[str, PaddingRule], ...] = (
    ("identity", identity),
    ("elementwise", elementwise_rule),
    ("reduction", reduction),
    ("constant", always_free),
)


def rule_of(op: OpDef) -> PaddingRule | None:
    """The op's padding rule: the one it registered, else the one its traits imply, else None
    (the analysis then refuses its outputs as mixed)."""
    if op.padding_rule is not None:
        return op.padding_rule
    for trait, rule in _DERIVED:
        if trait in op.traits:
            return rule
    return None


# -- data movement, followed by probing the op's reference ----------------------------------------


def _probe(state: State, shape: tuple[int, ...], size: int, env: dict[str, int]) -> np.ndarray:
    """The index tensor of a ``rows`` state (index + 1), zeros for free contents."""
    if state.kind != "rows":
        return np.zeros(shape, dtype=np.int32)
    inner = _concrete(state.inner, env) or 1
    idx = (np.arange(shape[state.axis], dtype=np.int32) // inner) % size + 1
    view = [1] * len(shape)
    view[state.axis] = shape[state.axis]
    return np.broadcast_to(idx.reshape(view), shape).copy()


def _recognise(
    t: TensorType, symbol: str, probes: Sequence[tuple[int, dict[str, int], np.ndarray]]
) -> State | None:
    """The ``rows`` layout the probe outputs show, ``FREE`` if they hold no index, else None."""
    if all(not p.any() for _, _, p in probes):
        return FREE
    assert t.shape is not None
    for axis, d in enumerate(t.shape):
        if not has_symbol(d, symbol):
            continue
        total = dim_to_sym(d)
        assert isinstance(total, Sym)
        names = list(total.names)
        names.remove(symbol)
        rest: int | Sym = Sym(total.coef, tuple(names)) if names else total.coef
        for outer, inner in _split_factor(rest):
            cand = State("rows", axis, outer, inner)
            if all(np.all((p == 0) | (p == _probe(cand, p.shape, size, env))) for size, env, p in probes):
                return cand
    return None


Shortcut = Callable[["Node", list[State], str, bool], "list[State] | None"]
"""``shortcut(node, ins, symbol, really_rows)``: the outputs' states without probing, or None."""


def moves(
    data: tuple[int, ...] | Literal["all", "all_but_last"], shortcut: Shortcut | None = None
) -> PaddingRule:
    """The rule of an op that moves data: ``data`` names the operands that carry data (the others
    are shapes, axes, sizes, which must be known at compile time). The op is followed by running
    its own reference on probes; ``shortcut`` may answer first (it sees the data operands' states,
    free operands with the symbol in their shape already turned into rows)."""

    def operands(node: Node) -> list[int]:
        if data == "all":
            return list(range(len(node.inputs)))
        if data == "all_but_last":
            return list(range(len(node.inputs) - 1))
        return [i for i in data if i < len(node.inputs)]

    def rule(node: Node, ins: list[State], symbol: str) -> list[State]:
        return _movement(node, ins, symbol, operands(node), shortcut)

    which = data if isinstance(data, str) else ", ".join(map(str, data))
    rule.__doc__ = f"Moves data (operands: {which.replace('_', ' ')}): followed by probing its reference"
    return rule


def _movement(
    node: Node, ins: list[State], symbol: str, data: list[int], shortcut: Shortcut | None
) -> list[State]:
    really_rows = any(ins[i].kind == "rows" for i in data)
    ins = list(ins)
    positional = False  # free operands whose contents depend on their position along the symbol
    for i in data:
        t = node.inputs[i].type
        if ins[i].kind == "free" and (t.shape is None or "?" in t.shape):
            # Contents may depend on positions along a dimension of unknown size: not followed.
            if really_rows:
                return [mixed(node, f"moves data of unknown shape {t} with indexed data")] * len(node.outputs)
            return [SIZE] * len(node.outputs)
        axes = [a for a, d in enumerate(t.shape or ()) if has_symbol(d, symbol)]
        if ins[i].kind == "free" and axes:
            if len(axes) > 1 or t.shape is None or t.shape[axes[0]] != symbol:
                return [mixed(node, f"moves a tensor with {symbol} in several or folded dimensions")] * len(
                    node.outputs
                )
            ins[i], positional = State("rows", axes[0]), True  # probe it like indexed data
    data_states = [ins[i] for i in data]
    rows = [s for s in data_states if s.kind == "rows"]
    sized = any(s.kind == "size" for s in data_states)
    if rows and sized:
        reason = f"moves data that depends on the size of {symbol} together with indexed data"
        return [mixed(node, reason)] * len(node.outputs)
    if not rows:
        return [SIZE if sized else FREE] * len(node.outputs)
    if shortcut is not None:
        quick = shortcut(node, ins, symbol, really_rows)
        if quick is not None:
            return quick
    opdef = get_op(node.op)
    results: list[list[tuple[int, dict[str, int], np.ndarray]]] = [[] for _ in node.outputs]
    for size in PROBE_SIZES:
        env = {symbol: size}
        args = []
        for i, v in enumerate(node.inputs):
            if i in data:
                shape = _shape(v.type, env)
                if shape is None or int(np.prod(shape)) > PROBE_MAX_ELEMENTS:
                    return [mixed(node, f"cannot follow input {i} of type {v.type}")] * len(node.outputs)
                args.append(_probe(ins[i], shape, size, env))
            else:
                k = known_value(v, env)
                if k is None:
                    return [mixed(node, f"input {i} (a shape or axis) is not known at compile time")] * len(
                        node.outputs
                    )
                args.append(k)
        try:
            got = opdef.reference(node.attrs, *args)
        except Exception as e:  # the op itself fails at this size: do not guess
            reason = f"fails when {symbol} is {size} ({type(e).__name__}: {e})"
            return [mixed(node, reason)] * len(node.outputs)
        outs = list(got) if isinstance(got, (tuple, list)) else [got]
        for j, o in enumerate(outs[: len(node.outputs)]):
            results[j].append((size, env, np.asarray(o)))
    states = []
    for j, v in enumerate(node.outputs):
        st = _recognise(v.type, symbol, results[j]) if v.type.shape is not None else None
        if st is None:
            if positional and not really_rows:  # free contents moved across positions
                states.append(SIZE)
                continue
            st = mixed(node, f"moves {symbol} elements across indices")
        elif positional and not really_rows:
            st = FREE  # positions kept: the contents at each position do not depend on the size
        states.append(st)
    return states


# -- one node -------------------------------------------------------------------------------------


def node_states(node: Node, ins: Sequence[State], symbol: str) -> list[State]:
    """The states of ``node``'s outputs given its inputs': what holds for every op first (a mixed
    input mixes; outputs known at compile time are free, or size if they hold the symbol's
    size), then the op's rule; an op without one, or a rule failing on a malformed node, mixes
    (the analysis never guesses). The step of the independence analysis, shared by regions."""
    n_out = len(node.outputs)
    if any(s.kind == "mixed" for s in ins):
        return [join_culprits(s for s in ins if s.kind == "mixed")] * n_out
    if node.outputs and all(v.known is not None for v in node.outputs):
        sized = any(
            isinstance(x, Sym) and symbol in x.names
            for v in node.outputs
            for x in v.known.reshape(-1).tolist()  # type: ignore[union-attr]
        )
        return [SIZE if sized else FREE] * n_out
    rule = rule_of(get_op(node.op))
    if rule is None:
        return [mixed(node, "no independence rule for this op")] * n_out
    try:
        return rule(node, list(ins), symbol)
    except Exception as e:  # a malformed node: refuse, do not guess
        return [mixed(node, f"analysis failed ({type(e).__name__}: {e})")] * n_out
