"""Independence analysis: does padding a symbolic dimension leave the real results unchanged?

Padding a request to a compiled shape is only correct when every output element depends on the
inputs at its own index of the padded dimension and on nothing else: not on other rows, not on the
padded size. This analysis proves that over the IR, for one symbol at a time (``N``, the batch, or
a sequence symbol such as ``S``), or names the nodes that break it.

Each value gets an abstract state:

- ``free``   its contents depend neither on indexed input contents nor on the symbol's size
  (constants, ``ZerosLike``, a ``Range`` over a sequence symbol: index ``i`` holds ``i`` at any
  size; a ``Range`` over the batch is ``size``: chunking a large batch moves rows);
- ``size``   its contents depend on the symbol's size but on no indexed contents (``Shape(x)``,
  a reduction of a free tensor over a symbol-sized axis); fine as a shape operand, not as data;
- ``rows``   element ``j`` along ``axis`` depends only on the inputs at index
  ``(j // inner) % X`` of the symbol; ``outer``/``inner`` describe a folded axis (``N*S``);
- ``mixed``  it depends on several indices or on the size; ``culprits`` names where that began.

Elementwise ops, contractions (MatMul, BatchMatMul, Einsum, FusedDense), reductions, softmax and
layer norm, convolutions and pooling have rules; pure data-movement ops (Reshape, Transpose,
StridedSlice, Concat, Tile, Pad, ...) are followed by running their own reference implementation
on *probes*: the indexed input becomes a tensor holding each element's index + 1 at two different
sizes of the symbol, and the output must again be an index tensor of one recognisable layout.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fourier.ir.core import Graph, Node, Value
from fourier.ir.types import BATCH, Dim, Sym, TensorType, dim_to_sym

__all__ = ["Culprit", "State", "OutputVerdict", "Independence", "analyze", "has_rule", "PROBE_SIZES"]

PROBE_SIZES = (6, 10)  # sizes the analysed symbol takes in the two probes
OTHER_SIZE = 3  # size of every other symbol in the probes
PROBE_MAX_ELEMENTS = 1 << 24
MAX_CULPRITS = 8


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


def _mixed(node: Node, reason: str) -> State:
    return State("mixed", culprits=(Culprit(node.name, node.op, reason),))


def _join_culprits(states: Iterable[State]) -> State:
    seen: dict[Culprit, None] = {}
    for s in states:
        for c in s.culprits:
            seen.setdefault(c, None)
    return State("mixed", culprits=tuple(list(seen)[:MAX_CULPRITS]))


@dataclass(frozen=True)
class OutputVerdict:
    """Whether padding the symbol is safe for one graph output."""

    name: str
    safe: bool
    axis: int | None  # the output's axis along the symbol (None: the output does not have it)
    culprits: tuple[Culprit, ...] = ()
    reason: str = ""


@dataclass
class Independence:
    """The analysis of one symbol over a graph."""

    symbol: str
    outputs: list[OutputVerdict] = field(default_factory=list)
    states: dict[Value, State] = field(default_factory=dict, repr=False)

    @property
    def safe(self) -> bool:
        return all(o.safe for o in self.outputs)

    @property
    def culprits(self) -> list[Culprit]:
        seen: dict[Culprit, None] = {}
        for o in self.outputs:
            for c in o.culprits:
                seen.setdefault(c, None)
        return list(seen)

    def explain(self) -> str:
        """One line per unsafe output, naming the nodes that break independence."""
        lines = []
        for o in self.outputs:
            if o.safe:
                continue
            where = "; ".join(str(c) for c in o.culprits) or o.reason
            lines.append(f"output {o.name!r}: {where}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "safe": self.safe,
            "outputs": {
                o.name: {"safe": o.safe, "axis": o.axis, "culprits": [str(c) for c in o.culprits]}
                for o in self.outputs
            },
        }


# -- symbolic sizes ------------------------------------------------------------------------------


def _has(d: Dim, symbol: str) -> bool:
    s = dim_to_sym(d)
    return isinstance(s, Sym) and symbol in s.names


def _maybe(d: Dim, symbol: str) -> bool:
    """Whether a dimension has, or might have (unknown), the symbol in it."""
    return d == "?" or _has(d, symbol)


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


def _known(v: Value, env: dict[str, int]) -> np.ndarray | None:
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


# -- probes ---------------------------------------------------------------------------------------


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
        if not _has(d, symbol):
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


# Operands of data-movement ops that carry data (the others are shapes, axes, sizes).
_DATA_OPERANDS: dict[str, Any] = {
    "Reshape": (0,),
    "Transpose": (0,),
    "ExpandDims": (0,),
    "Squeeze": (0,),
    "Tile": (0,),
    "BroadcastTo": (0,),
    "Slice": (0,),
    "StridedSlice": (0,),
    "Pad": (0,),
    "PadV2": (0, 2),
    "MirrorPad": (0,),
    "ConcatV2": "all_but_last",
    "Pack": "all",
    "Unpack": (0,),
    "Split": (1,),
    "SplitV": (0,),
}


def _data_operands(node: Node) -> list[int]:
    spec = _DATA_OPERANDS[node.op]
    if spec == "all":
        return list(range(len(node.inputs)))
    if spec == "all_but_last":
        return list(range(len(node.inputs) - 1))
    return [i for i in spec if i < len(node.inputs)]


def _movement(node: Node, ins: list[State], symbol: str) -> list[State]:
    from fourier.ops.registry import get_op

    data = _data_operands(node)
    really_rows = any(ins[i].kind == "rows" for i in data)
    ins = list(ins)
    positional = False  # free operands whose contents depend on their position along the symbol
    for i in data:
        t = node.inputs[i].type
        if ins[i].kind == "free" and (t.shape is None or "?" in t.shape):
            # Contents may depend on positions along a dimension of unknown size: not followed.
            if really_rows:
                return [_mixed(node, f"moves data of unknown shape {t} with indexed data")] * len(
                    node.outputs
                )
            return [SIZE] * len(node.outputs)
        axes = [a for a, d in enumerate(t.shape or ()) if _has(d, symbol)]
        if ins[i].kind == "free" and axes:
            if len(axes) > 1 or t.shape is None or t.shape[axes[0]] != symbol:
                return [_mixed(node, f"moves a tensor with {symbol} in several or folded dimensions")] * len(
                    node.outputs
                )
            ins[i], positional = State("rows", axes[0]), True  # probe it like indexed data
    data_states = [ins[i] for i in data]
    rows = [s for s in data_states if s.kind == "rows"]
    sized = any(s.kind == "size" for s in data_states)
    if rows and sized:
        reason = f"moves data that depends on the size of {symbol} together with indexed data"
        return [_mixed(node, reason)] * len(node.outputs)
    if not rows:
        return [SIZE if sized else FREE] * len(node.outputs)
    if node.op in ("Pad", "PadV2", "MirrorPad"):  # common on large feature maps: no probe needed
        pads = _known(node.inputs[1], {symbol: PROBE_SIZES[0]})
        x = ins[0]
        if pads is not None and not np.asarray(pads)[x.axis].any():
            return [x if really_rows else FREE]
    opdef = get_op(node.op)
    results: list[list[tuple[int, dict[str, int], np.ndarray]]] = [[] for _ in node.outputs]
    for size in PROBE_SIZES:
        env = {symbol: size}
        args = []
        for i, v in enumerate(node.inputs):
            if i in data:
                shape = _shape(v.type, env)
                if shape is None or int(np.prod(shape)) > PROBE_MAX_ELEMENTS:
                    return [_mixed(node, f"cannot follow input {i} of type {v.type}")] * len(node.outputs)
                args.append(_probe(ins[i], shape, size, env))
            else:
                k = _known(v, env)
                if k is None:
                    return [_mixed(node, f"input {i} (a shape or axis) is not known at compile time")] * len(
                        node.outputs
                    )
                args.append(k)
        try:
            got = opdef.reference(node.attrs, *args)
        except Exception as e:  # the op itself fails at this size: do not guess
            reason = f"fails when {symbol} is {size} ({type(e).__name__}: {e})"
            return [_mixed(node, reason)] * len(node.outputs)
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
            st = _mixed(node, f"moves {symbol} elements across indices")
        elif positional and not really_rows:
            st = FREE  # positions kept: the contents at each position do not depend on the size
        states.append(st)
    return states


# -- rules ----------------------------------------------------------------------------------------


def _axis_list(node: Node, i: int, rank: int, env: dict[str, int]) -> list[int] | None:
    k = _known(node.inputs[i], env)
    if k is None:
        return None
    return sorted({int(a) % rank for a in np.asarray(k).reshape(-1).tolist()}) if rank else []


def _elementwise(node: Node, ins: list[State], symbol: str, operands: Sequence[int] | None = None) -> State:
    out_t = node.outputs[0].type
    if out_t.shape is None:
        return _mixed(node, "output rank unknown")
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
        if node.op == "Select" and i == 0 and len(t.shape) == 1 and rank > 1:
            aligned = s.axis  # TF1 Select: a vector condition lines up with the first axis
        else:
            aligned = s.axis + rank - len(t.shape)
        here = s.moved(aligned)
        if found is None:
            found = here
        elif found != here:
            return _mixed(node, f"combines elements at different {symbol} indices (broadcast)")
    return _combined(node, found, sized, symbol, "combines")


def _combined(node: Node, found: State | None, sized: bool, symbol: str, verb: str) -> State:
    """The result of combining operands: indexed if one was, unless a size-dependent one joins."""
    if found is None:
        return SIZE if sized else FREE
    if sized:
        return _mixed(node, f"{verb} indexed data with a value that depends on the size of {symbol}")
    return found


def _reduce(node: Node, ins: list[State], symbol: str, axes: list[int] | None, keep: bool) -> State:
    x, t = ins[0], node.inputs[0].type
    if axes is None:
        return _mixed(node, "reduction axes are not known at compile time")
    assert t.shape is not None
    over_symbol = any(_maybe(t.shape[a], symbol) for a in axes)
    if x.kind == "rows":
        if x.axis in axes:
            return _mixed(node, f"reduces over the {symbol} axis")
        if over_symbol:
            return _mixed(node, f"reduces over an axis whose size depends on {symbol}")
        return x.moved(x.axis if keep else x.axis - sum(a < x.axis for a in axes))
    if over_symbol or x.kind == "size":
        return SIZE
    return FREE


def _contraction(node: Node, ins: list[State], symbol: str, labels: Sequence[str], out: str) -> State:
    """Einsum-style rule: ``labels[i]`` names input i's axes, ``out`` the output's."""
    found: tuple[str, State] | None = None
    sized = False
    for s, lab, v in zip(ins, labels, node.inputs):
        if s.kind == "size":
            sized = True
        if v.type.shape is not None:  # summing over a symbol-sized axis depends on the size
            sized |= any(_maybe(d, symbol) and lab[a] not in out for a, d in enumerate(v.type.shape))
        if s.kind != "rows":
            continue
        label = lab[s.axis]
        if label not in out:
            return _mixed(node, f"contracts over the {symbol} axis")
        here = (label, State("rows", out.index(label), s.outer, s.inner))
        if found is None:
            found = here
        elif found != here:
            return _mixed(node, f"multiplies elements at different {symbol} indices together")
    return _combined(node, None if found is None else found[1], sized, symbol, "contracts")


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _matmul_labels(node: Node) -> tuple[list[str], str] | None:
    ta, tb = node.inputs[0].type, node.inputs[1].type
    if ta.shape is None or tb.shape is None:
        return None
    if node.op == "MatMul":
        a = "ki" if node.attrs.get("transpose_a") else "ik"
        b = "jk" if node.attrs.get("transpose_b") else "kj"
        return [a, b], "ij"
    ra, rb = len(ta.shape), len(tb.shape)
    r = max(ra, rb)
    batch = _LETTERS[: r - 2]
    a = batch[r - ra :] + ("yx" if node.attrs.get("adj_x") else "xy")
    b = batch[r - rb :] + ("zy" if node.attrs.get("adj_y") else "yz")
    return [a, b], batch + "xz"


_REDUCTIONS = frozenset({"Sum", "Mean", "Max", "Min", "Prod", "All", "Any", "ArgMax", "ArgMin", "Cumsum"})
_LAST_AXIS = frozenset({"Softmax", "LogSoftmax", "LayerNorm", "TopKV2"})
_MATMULS = frozenset({"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"})
_BATCH_MAJOR = frozenset(
    {
        "Conv2D",
        "DepthwiseConv2dNative",
        "FusedConv2D",
        "AvgPool",
        "MaxPool",
        "FusedBatchNorm",
        "FusedBatchNormV2",
        "FusedBatchNormV3",
    }
)
_OTHERS = frozenset(
    {
        "Placeholder",
        "Const",
        "Select",
        "Einsum",
        "FusedDense",
        "Shape",
        "Size",
        "Rank",
        "ZerosLike",
        "OnesLike",
    }
    | {"Fill", "Range", "GatherV2", "EmbeddingBag", "OneHot"}
)


def has_rule(op: str) -> bool:
    """Whether the analysis has a rule for ``op`` (an op without one is refused as mixing)."""
    from fourier.ops.registry import get_op

    ruled = _REDUCTIONS | _LAST_AXIS | _MATMULS | _BATCH_MAJOR | _OTHERS | set(_DATA_OPERANDS)
    return op in ruled or bool({"identity", "elementwise"} & get_op(op).traits)


def _rule(node: Node, ins: list[State], symbol: str) -> list[State]:
    """The states of ``node``'s outputs, given its inputs' states."""
    from fourier.ops.registry import get_op

    op = node.op
    n_out = len(node.outputs)
    if op == "Placeholder":
        t = node.output.type
        axes = [a for a, d in enumerate(t.shape or ()) if _has(d, symbol)]
        if not axes:
            return [FREE]
        if len(axes) > 1 or t.shape is None or t.shape[axes[0]] != symbol:
            return [_mixed(node, f"input has {symbol} in a folded or repeated dimension ({t})")]
        return [State("rows", axes[0])]
    if op == "Const":
        return [FREE]
    if any(s.kind == "mixed" for s in ins):
        return [_join_culprits(s for s in ins if s.kind == "mixed")] * n_out
    if node.outputs and all(v.known is not None for v in node.outputs):
        # Known at compile time (shape arithmetic): free unless it holds the symbol's size.
        sized = any(
            isinstance(x, Sym) and symbol in x.names
            for v in node.outputs
            for x in v.known.reshape(-1).tolist()  # type: ignore[union-attr]
        )
        return [SIZE if sized else FREE] * n_out
    traits = get_op(op).traits
    if "identity" in traits:
        return [ins[0]]
    if op in _DATA_OPERANDS:
        return _movement(node, ins, symbol)
    env = {symbol: PROBE_SIZES[0]}
    t0 = node.inputs[0].type if node.inputs else None
    rank0 = len(t0.shape) if t0 is not None and t0.shape is not None else None
    if "elementwise" in traits or op == "Select":
        return [_elementwise(node, ins, symbol)] * n_out
    if op in _REDUCTIONS:
        reduced = None if rank0 is None else _axis_list(node, 1, rank0, env)
        keep = op == "Cumsum" or bool(node.attrs.get("keep_dims"))
        st = _reduce(node, ins, symbol, reduced, keep)
        forward = op == "Cumsum" and not node.attrs.get("reverse")
        if forward and st.kind == "size" and ins[0].kind == "free" and symbol != BATCH:
            return [FREE]  # a forward running sum at position i sees positions <= i only (not
            # for the batch: chunking a large batch renumbers its rows)
        return [st]
    if op in _LAST_AXIS:
        if rank0 is None:
            return [_mixed(node, "input rank unknown")]
        st = _reduce(node, ins[:1], symbol, [rank0 - 1], True)
        if op == "LayerNorm":
            rest = _elementwise(node, ins, symbol, operands=(1, 2))
            if rest.kind != "free":
                return [_mixed(node, "scale or offset depends on the data")]
        if op == "TopKV2" and st.kind == "rows" and ins[1].kind != "free":
            return [_mixed(node, f"k depends on the size of {symbol}")] * n_out
        return [st] * n_out
    if op in _MATMULS:
        spec = _matmul_labels(node)
        if spec is None:
            return [_mixed(node, "operand rank unknown")]
        return [_contraction(node, ins, symbol, spec[0], spec[1])]
    if op == "Einsum":
        eq = str(node.attrs["equation"]).replace(" ", "")
        if "..." in eq or "->" not in eq:
            return [_mixed(node, f"cannot follow the equation {eq!r}")]
        lhs, out = eq.split("->")
        return [_contraction(node, ins, symbol, lhs.split(","), out)]
    if op == "FusedDense":
        if rank0 is None:
            return [_mixed(node, "input rank unknown")]
        x = _LETTERS[: rank0 - 1]
        labels = [x + "y", "yz", "z"][: len(node.inputs)]
        return [_contraction(node, ins, symbol, labels, x + "z")]
    if op in _BATCH_MAJOR:
        return _batch_major(node, ins, symbol)
    if op in ("Shape", "Size"):
        t = node.inputs[0].type
        depends = t.shape is None or any(_has(d, symbol) or d == "?" for d in t.shape)
        return [SIZE if depends else FREE]
    if op in ("Rank", "ZerosLike", "OnesLike"):
        return [FREE]
    if op == "Fill":
        value = ins[1]
        if value.kind == "rows":
            return [_mixed(node, "fills with indexed data")]
        return [value]
    if op == "Range":
        start, limit, delta = ins
        if "size" in (start.kind, delta.kind):
            return [SIZE]
        # range(S) holds positions, which padding at the end keeps; range(N) holds a row's position
        # in the batch, which splitting a large batch into chunks changes.
        return [SIZE if limit.kind == "size" and symbol == BATCH else FREE]
    if op == "GatherV2":
        return [_gather(node, ins, symbol, env)]
    if op == "EmbeddingBag":
        table, ids = ins
        if table.kind != "free":
            return [_mixed(node, "looks up a table that depends on the data")]
        tt = node.inputs[0].type
        if tt.shape is None or (tt.shape and _maybe(tt.shape[0], symbol)):
            return [
                _mixed(node, f"looks up a table whose size depends on {symbol}")
                if ids.kind == "rows"
                else SIZE
            ]
        t = node.inputs[1].type
        if ids.kind != "rows" or t.shape is None:
            return [ids]
        if ids.axis == len(t.shape) - 1:
            return [_mixed(node, f"bags over the {symbol} axis")]
        return [ids]
    if op == "OneHot":
        idx, depth, on, off = ins
        t = node.inputs[0].type
        if any(s.kind != "free" for s in (on, off)):
            return [_mixed(node, "on/off values depend on the data")]
        if depth.kind != "free":  # which ids are in range depends on the size
            return [
                _mixed(node, f"one-hot depth depends on the size of {symbol}") if idx.kind == "rows" else SIZE
            ]
        if idx.kind != "rows" or t.shape is None:
            return [idx]
        axis = int(node.attrs.get("axis", -1))
        pos = len(t.shape) if axis < 0 else axis
        return [idx.moved(idx.axis if idx.axis < pos else idx.axis + 1)]
    return [_mixed(node, "no independence rule for this op")] * n_out


def _batch_major(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Convolution, pooling, batch norm: independent along the batch axis 0 only."""
    n_out = len(node.outputs)
    if node.op.startswith("FusedBatchNorm") and node.attrs.get("is_training"):
        return [_mixed(node, "training-mode batch norm normalizes with statistics of the batch")] * n_out
    x = ins[0]
    if any(s.kind != "free" for s in ins[1:]):
        return [_mixed(node, "filter or statistics depend on the data")] * n_out
    if x.kind != "rows":
        return [x] * n_out
    if x.axis != 0:
        return [_mixed(node, f"slides its window over the {symbol} axis")] * n_out
    return [x] + [FREE] * (n_out - 1)


def _gather(node: Node, ins: list[State], symbol: str, env: dict[str, int]) -> State:
    params, indices, _ = ins
    pt, it = node.inputs[0].type, node.inputs[1].type
    if pt.shape is None or it.shape is None:
        return _mixed(node, "operand rank unknown")
    axes = _axis_list(node, 2, len(pt.shape), env)
    if axes is None:
        return _mixed(node, "gather axis is not known at compile time")
    axis, bd = axes[0], int(node.attrs.get("batch_dims", 0)) % max(len(it.shape), 1)
    if params.kind != "rows" and _maybe(pt.shape[axis], symbol):
        # Which ids are in range (out-of-range ids give zeros) depends on the size.
        if indices.kind == "rows":
            return _mixed(node, f"looks up a table whose size depends on {symbol}")
        return SIZE
    if indices.kind == "size" or params.kind == "size":
        if "rows" in (params.kind, indices.kind):
            return _mixed(node, f"gathers with a value that depends on the size of {symbol}")
        return SIZE
    if params.kind == "rows" and indices.kind == "rows":
        if (
            params.axis == indices.axis
            and params.axis < bd
            and params.outer == indices.outer
            and params.inner == indices.inner
        ):
            return params
        return _mixed(node, f"gathers across {symbol} indices")
    if params.kind == "rows":
        if params.axis == axis:
            return _mixed(node, f"picks elements along the {symbol} axis by index")
        if params.axis < axis:
            return params
        return params.moved(params.axis + len(it.shape) - bd - 1)
    if indices.kind == "rows":
        if indices.axis < bd:
            return indices
        return indices.moved(axis + indices.axis - bd)
    return FREE


def analyze(graph: Graph, symbol: str = BATCH) -> Independence:
    """Prove (or refute) for each output that padding ``symbol`` leaves its real part unchanged."""
    states: dict[Value, State] = {}
    for node in graph.nodes:
        ins = [states.get(v, _mixed(node, "input not analysed")) for v in node.inputs]
        try:
            outs = _rule(node, ins, symbol)
        except Exception as e:  # a malformed node: refuse, do not guess
            outs = [_mixed(node, f"analysis failed ({type(e).__name__}: {e})")] * len(node.outputs)
        for v, s in zip(node.outputs, outs):
            states[v] = s
    result = Independence(symbol, states=states)
    for name, v in graph.outputs:
        s = states[v]
        t = v.type
        axes = [a for a, d in enumerate(t.shape or ()) if _has(d, symbol)]
        if s.kind == "mixed":
            result.outputs.append(OutputVerdict(name, False, None, s.culprits))
        elif s.kind == "size":
            result.outputs.append(
                OutputVerdict(name, False, None, reason=f"its values depend on the size of {symbol}")
            )
        elif s.kind == "free":
            ok = len(axes) <= 1 and all(t.shape is not None and t.shape[a] == symbol for a in axes)
            reason = "" if ok else f"has {symbol} folded into a dimension ({t})"
            result.outputs.append(OutputVerdict(name, ok, axes[0] if axes else None, reason=reason))
        else:
            ok = s.plain and axes == [s.axis]
            reason = "" if ok else f"{symbol} ends up folded or in a different dimension ({t})"
            result.outputs.append(OutputVerdict(name, ok, s.axis if ok else None, reason=reason))
    return result
