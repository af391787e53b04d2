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

__all__ = ["DENSE", "FuseDense", "bias_rules", "activation_rules", "fused_attrs"]

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
