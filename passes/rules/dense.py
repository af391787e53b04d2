"""Dense layers: MatMul (+ bias) (+ activation) into one FusedDense.

Rules are small and compose through the fixpoint driver: a MatMul becomes a FusedDense, a bias
add folds into a FusedDense without a bias, an activation into one without an activation, and
the reshape pair that Keras' Tensordot wraps around a MatMul is dropped, leaving a FusedDense
over the original rank-3 input. The bias and activation rules are generated for both FusedDense
and FusedConv2D from one template.
"""

from __future__ import annotations

import numpy as np

from fourier.ir.core import Node, Value
from fourier.ops.fused import ACTIVATIONS
from fourier.passes.rewrite import Match, Rule, RuleContext, RuleSet, any_, const, op
from fourier.passes.rules.base import rule_pass

__all__ = ["DENSE", "DENSE_SPLIT", "FuseDense", "SplitDense", "bias_rules", "activation_rules", "fused_attrs"]

ACTIVATION_OPS = tuple(a for a in ACTIVATIONS if a)


def fused_attrs(node: Node, **changes: object) -> dict[str, object]:
    attrs = dict(node.attrs)
    attrs.update(changes)
    return attrs


def bias_rules(fused: str) -> list[Rule]:
    """``BiasAdd(F(x, w), b)`` and ``F(x, w) + b`` -> ``F(x, w, b)`` for a fused op ``F``."""

    def replace(ctx: RuleContext, m: Match) -> Value:
        inner = m.node("f")
        return ctx.op(fused, [*inner.inputs, m["b"]], fused_attrs(inner))

    def check(m: Match) -> str | None:
        inner, b = m.node("f"), m["b"]
        if b.type.dtype != inner.outputs[0].type.dtype:
            return "bias dtype differs"
        out = inner.outputs[0].type.shape
        if b.type.shape is None or len(b.type.shape) != 1 or not out or b.type.shape[0] != out[-1]:
            return f"bias {b.type} is not one value per output channel of {inner.outputs[0].type}"
        if m.root.outputs[0].type != inner.outputs[0].type:
            return "the add broadcasts to a larger shape"
        return None

    no_bias_no_act = dict(activation="")
    f = op(
        fused,
        any_operands=True,
        attrs=no_bias_no_act,
        where=lambda n: len(n.inputs) == 2,
        why="has no bias yet",
        name="f",
        one_use=True,
    )
    return [
        Rule(
            f"{fused.lower()}-bias",
            op("BiasAdd", f, any_("b"), attrs={"data_format": "NHWC"}),
            replace,
            check,
            doc=f"BiasAdd({fused}(x, w), b) -> {fused}(x, w, b)",
        ),
        Rule(
            f"{fused.lower()}-add-bias",
            op(("Add", "AddV2"), f, const("b", where=lambda v: v.ndim == 1, why="a vector")),
            replace,
            check,
            doc=f"{fused}(x, w) + b -> {fused}(x, w, b)   (b a constant vector: Keras' Dense on rank > 2, EinsumDense)",
        ),
    ]


def activation_rules(fused: str) -> list[Rule]:
    """``Act(F(...))`` -> ``F(..., activation=Act)`` for every fusable activation."""

    def replace(ctx: RuleContext, m: Match) -> Value:
        inner = m.node("f")
        return ctx.op(fused, inner.inputs, fused_attrs(inner, activation=m.root.op))

    return [
        Rule(
            f"{fused.lower()}-activation",
            op(
                ACTIVATION_OPS, op(fused, any_operands=True, attrs={"activation": ""}, name="f", one_use=True)
            ),
            replace,
            doc=f"Act({fused}(...)) -> {fused}(..., activation=Act)   (Act: {', '.join(ACTIVATION_OPS)})",
        )
    ]


def _matmul_to_dense(ctx: RuleContext, m: Match) -> Value:
    w = m["w"]
    if m.root.attrs["transpose_b"]:
        w = ctx.const(np.ascontiguousarray(m.value("w").T), suffix="/weights_t")
    return ctx.op("FusedDense", [m["x"], w], {"activation": ""})


def _unfold_reshape_check(m: Match) -> str | None:
    x, flat, out = m["x"], m["flat"], m.root.outputs[0]
    xs, fs, os_ = x.type.shape, flat.type.shape, out.type.shape
    if xs is None or fs is None or os_ is None or len(xs) < 2 or len(fs) != 2:
        return "shapes unknown or not a [rows, features] view"
    if fs[1] != xs[-1] or "?" in xs:
        return f"{flat.type} is not {x.type} with its leading axes collapsed"
    if tuple(os_[:-1]) != tuple(xs[:-1]):
        return f"the result {out.type} does not restore the leading axes of {x.type}"
    return None


def _unfold_reshape(ctx: RuleContext, m: Match) -> Value:
    dense = m.node("d")
    return ctx.op("FusedDense", [m["x"], *dense.inputs[1:]], fused_attrs(dense))


DENSE = RuleSet(
    "dense",
    (
        Rule(
            "matmul-to-dense",
            op("MatMul", any_("x"), const("w"), attrs={"transpose_a": False}),
            _matmul_to_dense,
            doc="MatMul(x, w) -> FusedDense(x, w)   (w constant; transposed at compile time if transpose_b)",
        ),
        Rule(
            "dense-unfold-reshape",
            op(
                "Reshape",
                op(
                    "FusedDense",
                    op("Reshape", any_("x"), any_(), name="flat"),
                    any_(),
                    rest=True,
                    name="d",
                    one_use=True,
                ),
                any_(),
            ),
            _unfold_reshape,
            _unfold_reshape_check,
            doc="Reshape(FusedDense(Reshape(x, [-1, K]), w), [..., M]) -> FusedDense(x, w)   (Tensordot)",
        ),
        *bias_rules("FusedDense"),
        *activation_rules("FusedDense"),
    ),
)

FuseDense = rule_pass("fuse-dense", DENSE, "fuse MatMul, bias and activation into FusedDense")


def _repeated(v: Value) -> tuple[Value, int] | None:
    """``v`` as ``ConcatV2([u] * k, a)`` along a non-feature axis ``a`` where ``u`` has size 1:
    (u, a) -- ``u`` broadcast along ``a`` (deepctr tiles DIN's query over the history so)."""
    c = v.producer
    shape, rank = v.type.shape, len(v.type.shape or ())
    if c.op != "ConcatV2" or shape is None or len(c.inputs) < 3:
        return None
    u, axis = c.inputs[0], c.inputs[-1].known
    if axis is None or any(x is not u for x in c.inputs[:-1]) or u.type.shape is None:
        return None
    a = int(np.asarray(axis)) % rank
    return (u, a) if a != rank - 1 and u.type.shape[a] == 1 else None


def _linear_terms(pieces: list[Value], w: np.ndarray) -> list[tuple[Value, np.ndarray]] | None:
    """``[p1, ..., pk] W`` (the pieces concatenated along the features) as ``sum v_j C_j``, the
    pieces' differences and sums distributed (``(a - b) W_i = a W_i - b W_i``) and the rows of
    ``W`` for one value added up. None when a piece's width is unknown."""
    coef: dict[int, tuple[Value, np.ndarray]] = {}

    def add(v: Value, c: np.ndarray) -> None:
        have = coef.get(id(v))
        coef[id(v)] = (v, c if have is None else have[1] + c)

    row = 0
    for p in pieces:
        k = p.type.shape[-1] if p.type.shape else None
        if not isinstance(k, int):
            return None
        wi = w[row : row + k]
        row += k
        n = p.producer
        if n.op in ("Sub", "AddV2") and all(x.type == p.type for x in n.inputs):
            add(n.inputs[0], wi)
            add(n.inputs[1], -wi if n.op == "Sub" else wi)
        else:
            add(p, wi)
    return list(coef.values())


def _split_dense_check(m: Match) -> str | None:
    x, w = m.root.inputs[0], m.value("w")
    pieces = x.producer.inputs[:-1]
    axis = x.producer.inputs[-1].known
    rank = len(x.type.shape or ())
    if axis is None or rank < 3 or int(np.asarray(axis)) % rank != rank - 1:
        return "not a concatenation along the features of a value of rank 3 or more"
    terms = _linear_terms(list(pieces), np.asarray(w))
    if terms is None:
        return "a piece's width is unknown"
    repeated = [_repeated(v) is not None for v, _ in terms]
    if not any(repeated):
        return "no piece is a repetition along a non-feature axis"
    if all(repeated):
        return "every piece is a repetition (the result would not have the repeated shape)"
    return None


def _split_dense(ctx: RuleContext, m: Match) -> Value:
    dense = m.root
    x = dense.inputs[0]
    terms = _linear_terms(list(x.producer.inputs[:-1]), np.asarray(m.value("w")))
    assert terms is not None
    full: Value | None = None
    small: Value | None = None
    for i, (v, c) in enumerate(terms):
        rep = _repeated(v)
        src = v if rep is None else rep[0]
        y = ctx.op(
            "FusedDense",
            [src, ctx.const(c.astype(np.asarray(m.value("w")).dtype), suffix=f"/part{i}/w")],
            {"activation": ""},
            suffix=f"/part{i}",
        )
        if rep is None:
            full = y if full is None else ctx.op("AddV2", [full, y], suffix=f"/part{i}/sum")
        else:
            small = y if small is None else ctx.op("AddV2", [small, y], suffix=f"/part{i}/sum")
    if len(dense.inputs) == 3:  # the bias joins the smaller (broadcast) sum
        assert small is not None
        small = ctx.op("AddV2", [small, dense.inputs[2]], suffix="/bias")
    assert small is not None
    y = small if full is None else ctx.op("AddV2", [full, small], suffix="/sum")
    act = dense.attrs.get("activation", "")
    return ctx.op(str(act), [y], suffix="/activation") if act else y


DENSE_SPLIT = RuleSet(
    "dense-split",
    (
        Rule(
            "dense-of-repeated-concat",
            op("FusedDense", op("ConcatV2", any_operands=True), const("w"), rest=True),
            _split_dense,
            _split_dense_check,
            doc="FusedDense([tile(q), k, tile(q) - k, q * k], W) -> tile(q (W1 + W3)) + k (W2 - W3) "
            "+ (q * k) W4   (the concatenation's rows of W split per piece, differences distributed, "
            "a repeated piece's product taken before the repetition and broadcast): DIN's "
            "attention unit, half the products and no [N, T, 4d] concatenation",
        ),
    ),
)

SplitDense = rule_pass(
    "split-dense", DENSE_SPLIT, "split a dense layer over a concatenation with repeated pieces per piece"
)
