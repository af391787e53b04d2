"""Algebraic simplification: identities that remove work without changing any value.

Every rule keeps the value's type: an identity whose operand would broadcast to a larger shape
(``x * ones([4])`` with ``x`` of shape ``[1]``) does not fire.
"""

from __future__ import annotations

import numpy as np

from fourier.ir.core import Node, Value
from fourier.passes.rewrite import Match, Rule, RuleContext, RuleSet, any_, const, op
from fourier.passes.rules.base import all_equal, rule_pass, same_type

__all__ = ["ALGEBRAIC", "Simplify"]


def _keep(name: str):  # type: ignore[no-untyped-def]
    """Replacement: the captured value ``name``."""
    return lambda ctx, m: m[name]


def _type_kept(name: str):  # type: ignore[no-untyped-def]
    """Check: the root's value has the type of capture ``name``."""

    def check(m: Match) -> str | None:
        root = m.root.outputs[0]
        if not same_type(root, m[name]):
            return f"{m[name].name} is {m[name].type} but the result is {root.type}; removing it would change the type"
        return None

    return check


def _ints(m: Match, name: str) -> list[int]:
    return [int(x) for x in m.value(name).reshape(-1)]


def _perm_identity(v: np.ndarray) -> bool:
    return v.dtype != object and list(np.asarray(v).reshape(-1)) == list(range(v.size))


def _compose_transposes(ctx: RuleContext, m: Match) -> Value:
    p1, p2 = _ints(m, "p1"), _ints(m, "p2")
    perm = np.array([p1[i] for i in p2], dtype=m.value("p2").dtype)
    if list(perm) == list(range(len(perm))):
        return m["x"]
    return ctx.op("Transpose", [m["x"], ctx.const(perm, suffix="/perm")])


def _whole_of(values: list[Value], ops: tuple[str, ...]) -> Node | str:
    """The one node of ``ops`` whose outputs ``values`` are, all of them in order; else why not."""
    node = values[0].producer
    if node.op not in ops:
        return f"the first piece does not come from {'/'.join(ops)}"
    if [v.producer for v in values] != [node] * len(node.outputs) or [v.index for v in values] != list(
        range(len(node.outputs))
    ):
        return f"the pieces are not all the outputs of one {node.op}, in order"
    return node


def _split_source_and_axis(split: Node) -> tuple[Value, Value]:
    """A Split's or SplitV's (source, axis) operands."""
    return (split.inputs[1], split.inputs[0]) if split.op == "Split" else (split.inputs[0], split.inputs[2])


def _split_axes(m: Match) -> tuple[Node, int, int] | str:
    """For Concat(Split(x) pieces): (split, split axis, concat axis), normalized; else why not."""
    split = _whole_of(m.root.inputs[:-1], ("Split", "SplitV"))
    if isinstance(split, str):
        return split
    source, split_axis = _split_source_and_axis(split)
    concat_axis = m.root.inputs[-1]
    if split_axis.known is None or concat_axis.known is None or source.type.shape is None:
        return "an axis or the shape is unknown"
    rank = max(len(source.type.shape), 1)
    return split, int(split_axis.known) % rank, int(concat_axis.known) % rank


def _pieces_in_order(m: Match) -> str | None:
    """Check for Concat(Split(x)): every piece, each once, in order, along the same axis."""
    axes = _split_axes(m)
    if isinstance(axes, str):
        return axes
    return None if axes[1] == axes[2] else "split and concat axes differ"


def _unit_pieces(m: Match) -> str | None:
    """Check for Concat(Split(x)) along another axis where the result is only a reshape of x."""
    axes = _split_axes(m)
    if isinstance(axes, str):
        return axes
    split, a, b = axes
    if a == b:
        return "same axis (concat-of-split handles it)"
    shape = split.outputs[0].type.shape or ()
    if any(v.type.shape is None or v.type.shape[a] != 1 for v in split.outputs):
        return "pieces are not of size 1 along the split axis"
    between = shape[min(a, b) + 1 : max(a, b)]
    if any(d != 1 for d in between) or (b < a and shape[b] != 1):
        return "the concat reorders elements, it is not a reshape"
    if sum(1 for d in m.root.outputs[0].type.shape or () if not isinstance(d, int)) > 1:
        return "more than one symbolic dimension"
    return None


def _reshape_of_source(ctx: RuleContext, m: Match) -> Value:
    source, _ = _split_source_and_axis(m.root.inputs[0].producer)
    out = m.root.outputs[0].type.shape or ()
    dims = [d if isinstance(d, int) else -1 for d in out]
    return ctx.op("Reshape", [source, ctx.const(np.asarray(dims, dtype=np.int64), suffix="/shape")])


def _concat_source(ctx: RuleContext, m: Match) -> Value:
    return _split_source_and_axis(m.root.inputs[0].producer)[0]


def _pack_of_unpack(m: Match) -> str | None:
    unpack = _whole_of(m.root.inputs, ("Unpack",))
    if isinstance(unpack, str):
        return unpack
    if unpack.attrs["axis"] != m.root.attrs["axis"]:
        return "Pack and Unpack axes differ"
    return None


def _slice_is_identity(m: Match) -> str | None:
    node = m.root
    x = node.inputs[0]
    if not same_type(x, node.outputs[0]):
        return "the slice changes the shape"
    begin = node.inputs[1].known
    if begin is None or begin.dtype == object or np.any(np.asarray(begin) != 0):
        return "begin is not all zeros"
    if node.op == "StridedSlice":
        strides = node.inputs[3].known
        if strides is None or np.any(np.asarray(strides) != 1):
            return "strides are not all 1"
        if (
            node.attrs.get("new_axis_mask")
            or node.attrs.get("shrink_axis_mask")
            or node.attrs.get("ellipsis_mask")
        ):
            return "the slice adds, removes or skips axes"
    return None


def _unpack_pieces(m: Match) -> tuple[Node, list[int], int] | str:
    """For ConcatV2 of pieces of one Unpack (any pieces, any order, repeats): (the Unpack, the
    piece indices, the axis); the concatenation must stack them where Unpack took them apart."""
    pieces = m.root.inputs[:-1]
    unpack = pieces[0].producer
    if unpack.op != "Unpack" or any(v.producer is not unpack for v in pieces):
        return "the pieces do not all come from one Unpack"
    if len(pieces) < 2:
        return "a single piece"
    source = unpack.inputs[0]
    axis_v = m.root.inputs[-1].known
    shape = source.type.shape
    if axis_v is None or shape is None:
        return "the axis or the source's shape is unknown"
    axis = unpack.attrs["axis"] % len(shape)
    if int(axis_v) % max(len(shape) - 1, 1) != axis or axis >= len(shape) - 1 or shape[axis + 1] != 1:
        return "the pieces are not stacked along the axis they were taken from (over a unit axis)"
    if sum(1 for d in shape if not isinstance(d, int)) > 1:
        return "more than one symbolic dimension"
    return unpack, [v.index for v in pieces], axis


def _unpack_pieces_check(m: Match) -> str | None:
    found = _unpack_pieces(m)
    return found if isinstance(found, str) else None


def _gather_of_unpacked(ctx: RuleContext, m: Match) -> Value:
    found = _unpack_pieces(m)
    assert not isinstance(found, str)
    unpack, indices, axis = found
    gathered = ctx.op(
        "GatherV2",
        [
            unpack.inputs[0],
            ctx.const(np.asarray(indices, dtype=np.int32), suffix="/indices"),
            ctx.const(np.int32(axis), suffix="/axis"),
        ],
        {"batch_dims": 0},
        suffix="/gather",
    )
    out = m.root.outputs[0].type.shape or ()
    dims = [d if isinstance(d, int) else -1 for d in out]
    return ctx.op("Reshape", [gathered, ctx.const(np.asarray(dims, dtype=np.int64), suffix="/shape")])


_PRODUCTS = ("Mul", "AddV2", "Add", "Sub")  # elementwise binary ops a concatenation can be hoisted over


def _concat_axis(concat: Node) -> int | str:
    """A ConcatV2's axis, normalized; else why not."""
    axis_v, shape = concat.inputs[-1].known, concat.outputs[0].type.shape
    if axis_v is None or axis_v.dtype == object or shape is None:
        return "the axis or the result's shape is unknown"
    return int(axis_v) % max(len(shape), 1)


def _products_check(m: Match) -> str | None:
    """Check for ConcatV2(f(a1, b1), ..., f(an, bn)): one elementwise op, no operand broadcast."""
    pieces = m.root.inputs[:-1]
    if len(pieces) < 2:
        return "a single piece"
    kind = pieces[0].producer.op
    if kind not in _PRODUCTS or any(v.producer.op != kind for v in pieces):
        return f"the pieces are not all made by one of {'/'.join(_PRODUCTS)}"
    for v in pieces:
        if v.producer.attrs or any(not same_type(x, v) for x in v.producer.inputs):
            return f"{v.name}: an operand broadcasts (or a type is unknown)"
    return None


def _concat_of_operands(ctx: RuleContext, m: Match) -> Value | None:
    pieces = [v.producer for v in m.root.inputs[:-1]]
    if any(ctx.rw.num_uses(n.outputs[0]) != 1 for n in pieces):
        return None  # a piece is read elsewhere too: it would be computed twice
    axis = m.root.inputs[-1]
    sides = [
        ctx.op("ConcatV2", [*(n.inputs[i] for n in pieces), axis], suffix=f"/operand{i}") for i in (0, 1)
    ]
    return ctx.op(pieces[0].op, sides)


def _split_runs(concat: Node) -> list[tuple[int, int, Value, bool]] | str:
    """For ConcatV2 along axis b: each run of operands that is every piece of one Split/SplitV, in
    order, as (first operand, length, the split's source, whether it needs a Reshape): the run is
    the source when the split was along b, and a Reshape of it when that keeps the element order
    (the split axis a after b, the pieces of size 1 along b and along every axis between; one
    symbolic dimension at most). Else why there is none."""
    b = _concat_axis(concat)
    if isinstance(b, str):
        return b
    pieces = concat.inputs[:-1]
    runs: list[tuple[int, int, Value, bool]] = []
    i = 0
    while i < len(pieces):
        found = _whole_split_at(pieces, i, b)
        if found is None:
            i += 1
            continue
        runs.append(found)
        i += found[1]
    if not runs:
        return "no run of operands is every piece of one Split, in order, that concatenates to its source"
    return runs


def _whole_split_at(pieces: list[Value], i: int, b: int) -> tuple[int, int, Value, bool] | None:
    split = pieces[i].producer
    n = len(split.outputs)
    run = pieces[i : i + n]
    if split.op not in ("Split", "SplitV") or n < 2 or len(run) < n:
        return None
    if [v.producer for v in run] != [split] * n or [v.index for v in run] != list(range(n)):
        return None
    source, split_axis = _split_source_and_axis(split)
    shape = split.outputs[0].type.shape
    if split_axis.known is None or split_axis.known.dtype == object or shape is None:
        return None
    a = int(split_axis.known) % max(len(shape), 1)
    if a == b:
        return i, n, source, False
    if b > a or any(v.type.shape is None or v.type.shape[b] != 1 for v in run):
        return None
    if any(d != 1 for d in shape[b + 1 : a]) or len(_symbolic(_run_shape(run, b))) > 1:
        return None
    return i, n, source, True


def _symbolic(shape: tuple[int | str, ...]) -> list[int | str]:
    return [d for d in shape if not isinstance(d, int)]


def _split_runs_check(m: Match) -> str | None:
    found = _split_runs(m.root)
    return found if isinstance(found, str) else None


def _concat_of_sources(ctx: RuleContext, m: Match) -> Value:
    found = _split_runs(m.root)
    assert not isinstance(found, str)
    b = _concat_axis(m.root)
    assert isinstance(b, int)
    pieces = list(m.root.inputs[:-1])
    operands: list[Value] = []
    at = 0
    for start, n, source, reshape in found:
        operands += pieces[at:start]
        whole = source
        if reshape:
            dims = [d if isinstance(d, int) else -1 for d in _run_shape(pieces[start : start + n], b)]
            target = ctx.const(np.asarray(dims, dtype=np.int64), suffix=f"/shape{len(operands)}")
            whole = ctx.op("Reshape", [source, target], suffix=f"/run{len(operands)}")
        operands.append(whole)
        at = start + n
    operands += pieces[at:]
    if len(operands) == 1:
        return operands[0]
    return ctx.op("ConcatV2", [*operands, m.root.inputs[-1]])


def _run_shape(run: list[Value], axis: int) -> tuple[int | str, ...]:
    """The shape of ``run`` concatenated along ``axis`` (sizes along it all static: size-1 pieces,
    or a split's pieces, whose sum is its source's)."""
    first = run[0].type.shape
    assert first is not None
    total = 0
    for v in run:
        d = (v.type.shape or ())[axis]
        if not isinstance(d, int):
            return (*first[:axis], "?", *first[axis + 1 :])
        total += d
    return (*first[:axis], total, *first[axis + 1 :])


MIN_GATHERED_PIECES = 8
"""concat-of-split-pieces gathers from this many pieces up: XLA compiles a concatenation of hundreds
of slices slowly (FiBiNET: 325), while a handful costs nothing either way."""


def _split_pieces(m: Match) -> tuple[Value, list[int], int] | str:
    """For ConcatV2 of pieces of one Split/SplitV along the axis it split (any pieces, any order,
    repeats): (the source, the source indices the result takes, the axis); else why not."""
    pieces = m.root.inputs[:-1]
    split = pieces[0].producer
    if split.op not in ("Split", "SplitV") or any(v.producer is not split for v in pieces):
        return "the pieces do not all come from one Split/SplitV"
    if len(pieces) < MIN_GATHERED_PIECES:
        return f"fewer than {MIN_GATHERED_PIECES} pieces (a few slices concatenated are as cheap as a gather)"
    source, split_axis = _split_source_and_axis(split)
    b = _concat_axis(m.root)
    if isinstance(b, str) or split_axis.known is None or split_axis.known.dtype == object:
        return "an axis or a shape is unknown"
    if int(split_axis.known) % len(m.root.outputs[0].type.shape or (0,)) != b:
        return "the pieces are not concatenated along the axis they were split from"
    sizes = [(v.type.shape or ())[b] for v in split.outputs]
    if not all(isinstance(d, int) for d in sizes):
        return "the pieces' sizes along the axis are not all known"
    if [v.index for v in pieces] == list(range(len(split.outputs))):
        return "every piece in order (concat-of-split)"
    if len({v.index for v in pieces}) == 1:
        return "one piece repeated (a broadcast, which XLA does better than a gather)"
    starts = np.cumsum([0, *sizes])
    indices = [j for v in pieces for j in range(int(starts[v.index]), int(starts[v.index + 1]))]
    return source, indices, b


def _split_pieces_check(m: Match) -> str | None:
    found = _split_pieces(m)
    return found if isinstance(found, str) else None


def _gather_of_split(ctx: RuleContext, m: Match) -> Value:
    found = _split_pieces(m)
    assert not isinstance(found, str)
    source, indices, axis = found
    return ctx.op(
        "GatherV2",
        [
            source,
            ctx.const(np.asarray(indices, dtype=np.int32), suffix="/indices"),
            ctx.const(np.int32(axis), suffix="/axis"),
        ],
        {"batch_dims": 0},
    )


def _piece_projections(m: Match) -> tuple[Value, list[int], list[np.ndarray], int] | str:
    """For ConcatV2(Reshape(FusedDense(piece k of Split(E, 1), W_k)), ..., 1): E [N, F, D], the
    pieces' indices, the weights W_k [D, m_k * D2] and D2; else why not. Each projection has no
    bias or activation and is reshaped to [N, m_k, D2] (or is [N, 1, D2] already); the pieces are
    fields [N, 1, D]."""
    pieces = m.root.inputs[:-1]
    if len(pieces) < MIN_GATHERED_PIECES:
        return f"fewer than {MIN_GATHERED_PIECES} projections"
    if _concat_axis(m.root) != 1:
        return "not concatenated along axis 1"
    split: Node | None = None
    indices, weights, widths = [], [], set()
    for v in pieces:
        dense = v.producer.inputs[0].producer if v.producer.op == "Reshape" else v.producer
        if dense.op != "FusedDense" or len(dense.inputs) != 2 or dense.attrs["activation"]:
            return f"{v.name} is not a reshaped FusedDense without bias or activation"
        w, x = dense.inputs[1].known, dense.inputs[0]
        shape, out = x.type.shape, v.type.shape
        if w is None or w.dtype != np.float32 or w.ndim != 2 or shape is None or out is None:
            return f"{dense.name}: the weights are not a float32 constant, or a shape is unknown"
        if len(shape) != 3 or shape[1] != 1 or len(out) != 3 or not isinstance(out[2], int):
            return f"{dense.name}: not a field [N, 1, D] projected to [N, m, D2]"
        if not isinstance(out[1], int) or w.shape != (shape[2], out[1] * out[2]):
            return f"{dense.name}: the weights {w.shape} do not map the field to {v.type}"
        if x.producer.op not in ("Split", "SplitV") or (split is not None and x.producer is not split):
            return "the fields do not all come from one Split"
        split = x.producer
        indices.append(x.index)
        weights.append(w)
        widths.add(out[2])
    assert split is not None
    source, axis = _split_source_and_axis(split)
    if axis.known is None or axis.known.dtype == object or int(axis.known) % 3 != 1 or len(widths) != 1:
        return "the fields are not split along axis 1, or the projections differ in width"
    if any((o.type.shape or (0, 0))[1] != 1 for o in split.outputs):
        return "the split's pieces are not all single fields"
    return source, indices, weights, widths.pop()


def _piece_projections_check(m: Match) -> str | None:
    found = _piece_projections(m)
    return found if isinstance(found, str) else None


def _batched_projections(ctx: RuleContext, m: Match) -> Value:
    found = _piece_projections(m)
    assert not isinstance(found, str)
    source, indices, weights, width = found
    i32 = np.int32
    depth, most = weights[0].shape[0], max(w.shape[1] for w in weights)
    stacked = np.zeros((len(weights), depth, most), dtype=np.float32)  # zero columns pad narrower ones
    for k, w in enumerate(weights):
        stacked[k, :, : w.shape[1]] = w
    swap = ctx.const(np.array([1, 0, 2], dtype=i32), suffix="/perm")
    one = ctx.const(np.int32(1), suffix="/axis")
    fields = ctx.op(
        "GatherV2",
        [source, ctx.const(np.array(indices, dtype=i32), suffix="/fields"), one],
        {"batch_dims": 0},
        suffix="/gather",
    )
    by_field = ctx.op("Transpose", [fields, swap], suffix="/by_field")
    projected = ctx.op(
        "BatchMatMulV2",
        [by_field, ctx.const(stacked, suffix="/weights")],
        {"adj_x": False, "adj_y": False},
        suffix="/project",
    )
    rows = ctx.op("Transpose", [projected, swap], suffix="/by_row")
    per = most // width
    flat = ctx.op(
        "Reshape",
        [rows, ctx.const(np.array([-1, len(weights) * per, width], dtype=np.int64), suffix="/shape")],
        suffix="/pieces",
    )
    keep = [k * per + t for k, w in enumerate(weights) for t in range(w.shape[1] // width)]
    return ctx.op(
        "GatherV2", [flat, ctx.const(np.array(keep, dtype=i32), suffix="/keep"), one], {"batch_dims": 0}
    )


def _gate_mix(ctx: RuleContext, m: Match) -> Value:
    a = m.value("a")
    one_minus = ctx.const(np.asarray(1 - a, dtype=a.dtype), suffix="/one_minus_alpha")
    gate = ctx.op("AddV2", [ctx.op("Mul", [m["p"], one_minus], suffix="/gate"), m["a"]], suffix="/mix")
    return ctx.op("Mul", [m["x"], gate])


def _gate_mix_types(m: Match) -> str | None:
    root, x, p = m.root.outputs[0], m["x"], m["p"]
    if not (same_type(root, x) and same_type(root, p)):
        return (
            f"x is {x.type}, p is {p.type}, the result {root.type}: the rewrite would broadcast differently"
        )
    if m.value("one").dtype != m.value("a").dtype:
        return "the constants have different dtypes"
    return None


ALGEBRAIC = RuleSet(
    "algebraic",
    (
        Rule(
            "mul-one",
            op("Mul", any_("x"), const(where=all_equal(1.0))),
            _keep("x"),
            _type_kept("x"),
            doc="x * 1 -> x",
        ),
        Rule(
            "div-one",
            op(("RealDiv", "Div"), any_("x"), const(where=all_equal(1.0))),
            _keep("x"),
            _type_kept("x"),
            doc="x / 1 -> x",
        ),
        Rule(
            "add-zero",
            op(("Add", "AddV2"), any_("x"), const(where=all_equal(0.0))),
            _keep("x"),
            _type_kept("x"),
            doc="x + 0 -> x",
        ),
        Rule(
            "sub-zero",
            op("Sub", any_("x"), const(where=all_equal(0.0))),
            _keep("x"),
            _type_kept("x"),
            doc="x - 0 -> x",
        ),
        Rule("neg-neg", op("Neg", op("Neg", any_("x"))), _keep("x"), doc="-(-x) -> x"),
        Rule(
            "gate-mix",
            op(
                ("AddV2", "Add"),
                op(
                    "Mul",
                    op("Mul", const("a"), op("Sub", const("one", where=all_equal(1.0)), any_("p"))),
                    any_("x"),
                ),
                op("Mul", any_("p"), any_("x")),
            ),
            _gate_mix,
            _gate_mix_types,
            doc="a (1 - p) x + p x -> x (a + (1 - a) p): DIN's Dice activation, 5 ops over the "
            "layer's output -> 3",
        ),
        Rule(
            "transpose-identity",
            op("Transpose", any_("x"), const(where=_perm_identity, why="identity permutation")),
            _keep("x"),
            doc="Transpose(x, identity) -> x",
        ),
        Rule(
            "transpose-transpose",
            op("Transpose", op("Transpose", any_("x"), const("p1")), const("p2")),
            _compose_transposes,
            doc="Transpose(Transpose(x, p1), p2) -> Transpose(x, p1[p2])",
        ),
        Rule(
            "reshape-noop",
            op("Reshape", any_("x"), any_()),
            _keep("x"),
            _type_kept("x"),
            doc="Reshape(x, shape of x) -> x",
        ),
        Rule(
            "reshape-reshape",
            op("Reshape", op("Reshape", any_("x"), any_()), any_("s2")),
            lambda ctx, m: ctx.op("Reshape", [m["x"], m["s2"]]),
            doc="Reshape(Reshape(x, s1), s2) -> Reshape(x, s2)",
        ),
        Rule(
            "cast-noop",
            op("Cast", any_("x")),
            _keep("x"),
            _type_kept("x"),
            doc="Cast(x) to x's own dtype -> x",
        ),
        Rule(
            "slice-noop",
            op(("Slice", "StridedSlice"), any_("x"), any_operands=True),
            lambda ctx, m: m.root.inputs[0],
            _slice_is_identity,
            doc="Slice / StridedSlice of everything -> x",
        ),
        Rule(
            "tile-noop",
            op("Tile", any_("x"), const(where=all_equal(1.0))),
            _keep("x"),
            _type_kept("x"),
            doc="Tile(x, ones) -> x",
        ),
        Rule(
            "concat-single",
            op("ConcatV2", any_("x"), any_()),
            _keep("x"),
            _type_kept("x"),
            doc="ConcatV2(x, axis) -> x",
        ),
        Rule(
            "concat-of-split",
            op("ConcatV2", any_operands=True),
            _concat_source,
            _pieces_in_order,
            doc="ConcatV2(Split(x)...) of all pieces in order -> x",
        ),
        Rule(
            "concat-of-unit-split",
            op("ConcatV2", any_operands=True),
            _reshape_of_source,
            _unit_pieces,
            doc="ConcatV2(Split(x, axis a)..., axis b) of size-1 pieces -> Reshape(x)   (same element order)",
        ),
        Rule(
            "concat-of-unpack-pieces",
            op("ConcatV2", any_operands=True),
            _gather_of_unpacked,
            _unpack_pieces_check,
            doc="ConcatV2(pieces of Unpack(x, axis a), axis a) over a unit axis -> Reshape(Gather(x, "
            "indices, a)): FGCNN's pairwise inner products concatenate 4465 pieces of 95",
        ),
        Rule(
            "concat-of-products",
            op("ConcatV2", any_operands=True),
            _concat_of_operands,
            _products_check,
            doc="ConcatV2(a1 * b1, ..., an * bn) -> ConcatV2(a1..an) * ConcatV2(b1..bn) (also + and -; "
            "no operand broadcasts, each product read only there): FiBiNET's bilinear layer "
            "concatenates 325 products of split pieces",
        ),
        Rule(
            "concat-of-split-runs",
            op("ConcatV2", any_operands=True),
            _concat_of_sources,
            _split_runs_check,
            doc="ConcatV2(.., every piece of Split(x, a) in order, .., b) -> ConcatV2(.., x or "
            "Reshape(x), .., b)   (a Reshape when the pieces have size 1 along b and b < a, with "
            "size-1 axes between: the element order is x's)",
        ),
        Rule(
            "concat-of-split-pieces",
            op("ConcatV2", any_operands=True),
            _gather_of_split,
            _split_pieces_check,
            doc="ConcatV2(pieces of Split(x, a), any order and repeats, a) -> Gather(x, indices, a) "
            "(from 8 pieces up): FiBiNET pairs each of 26 fields with the fields after it",
        ),
        Rule(
            "concat-of-field-projections",
            op("ConcatV2", any_operands=True),
            _batched_projections,
            _piece_projections_check,
            doc="ConcatV2(Reshape(FusedDense(field k of Split(E, 1), W_k)), ..., 1) (8+) -> "
            "Gather(Reshape(E_k @ W_k batched over the fields, W_k zero-padded to one width)): "
            "FiBiNET projects each of 25 fields with its own [16, 16 m] matrix",
        ),
        Rule(
            "pack-of-unpack",
            op("Pack", any_operands=True),
            lambda ctx, m: m.root.inputs[0].producer.inputs[0],
            _pack_of_unpack,
            doc="Pack(Unpack(x)...) of all pieces in order -> x",
        ),
        Rule(
            "squeeze-expand",
            op("Squeeze", op("ExpandDims", any_("x"), any_())),
            _keep("x"),
            _type_kept("x"),
            doc="Squeeze(ExpandDims(x, a), [a]) -> x",
        ),
        Rule(
            "expand-squeeze",
            op("ExpandDims", op("Squeeze", any_("x")), any_()),
            _keep("x"),
            _type_kept("x"),
            doc="ExpandDims(Squeeze(x)) back to x's shape -> x",
        ),
    ),
)

Simplify = rule_pass("simplify", ALGEBRAIC, "algebraic simplification")
