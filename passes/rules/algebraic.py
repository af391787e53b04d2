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
