"""Convolutions: batch norm folded into the weights, bias and activation fused, and the
formulation XLA:CPU runs fastest chosen.

``conv-algorithm`` is behind a measurement (bench/conv_algorithms.py, results in
docs/passes.md): on XLA:CPU a 1x1 stride-1 convolution written as a matmul and a depthwise
convolution written as shifted multiply-adds ("taps") are several times faster than XLA's
convolution, so those forms are chosen; every other convolution keeps XLA's.
"""

from __future__ import annotations

import numpy as np

from fourier.ir.core import Value
from fourier.passes.rewrite import Match, OpPattern, Pattern, Rule, RuleContext, RuleSet, any_, const, op
from fourier.passes.rules.base import rule_pass
from fourier.passes.rules.dense import activation_rules, bias_rules, fused_attrs

__all__ = ["BATCHNORM", "CONV", "CONV_ALGORITHM", "FoldBatchnorm", "FuseConv", "ConvAlgorithm"]

_BN = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


def _bn_scale(m: Match) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) with bn(y) = y * s + t, computed in float64 and cast back."""
    scale, offset = m.value("scale").astype(np.float64), m.value("offset").astype(np.float64)
    mean, var = m.value("mean").astype(np.float64), m.value("var").astype(np.float64)
    s = scale / np.sqrt(var + float(m.root.attrs["epsilon"]))
    return s, offset - mean * s


def _fold_into_conv(ctx: RuleContext, m: Match) -> list[Value]:
    conv = m.node("conv")
    w = m.value("w")
    s, t = _bn_scale(m)
    dtype = w.dtype
    if conv.op == "DepthwiseConv2dNative":
        _, _, c, mult = w.shape
        folded = w.astype(np.float64) * s.reshape(c, mult)
    else:
        folded = w.astype(np.float64) * s
    w2 = ctx.const(folded.astype(dtype), suffix="/folded_weights")
    y = ctx.op(conv.op, [conv.inputs[0], w2], dict(conv.attrs), suffix="/conv")
    out = ctx.op("BiasAdd", [y, ctx.const(t.astype(dtype), suffix="/folded_bias")], {"data_format": "NHWC"})
    return [out]


def _bn_to_affine(ctx: RuleContext, m: Match) -> list[Value]:
    s, t = _bn_scale(m)
    dtype = m.root.outputs[0].type.dtype
    y = ctx.op("Mul", [m["x"], ctx.const(s.astype(dtype), suffix="/scale")], suffix="/mul")
    return [ctx.op("AddV2", [y, ctx.const(t.astype(dtype), suffix="/shift")])]


def _stats_unread(m: Match) -> str | None:
    if m.root.attrs["is_training"]:
        return "batch norm is in training mode"
    return None


def _bn_pattern(x: Pattern) -> OpPattern:
    """An inference FusedBatchNorm of ``x`` with constant statistics."""
    return op(
        _BN,
        x,
        const("scale"),
        const("offset"),
        const("mean"),
        const("var"),
        attrs={"is_training": False, "data_format": "NHWC"},
    )


BATCHNORM = RuleSet(
    "batchnorm",
    (
        Rule(
            "conv-batchnorm",
            _bn_pattern(
                op(("Conv2D", "DepthwiseConv2dNative"), any_("x"), const("w"), name="conv", one_use=True)
            ),
            _fold_into_conv,
            _stats_unread,
            doc="FusedBatchNorm(Conv2D(x, w)) -> BiasAdd(Conv2D(x, w * s), offset - mean * s)",
        ),
        Rule(
            "batchnorm-affine",
            _bn_pattern(any_("x")),
            _bn_to_affine,
            _stats_unread,
            doc="FusedBatchNorm(x) -> x * s + t   (no convolution to fold into)",
        ),
    ),
)


def _conv_to_fused(ctx: RuleContext, m: Match) -> Value:
    attrs = dict(m.root.attrs)
    attrs.update(depthwise=m.root.op == "DepthwiseConv2dNative", activation="", algorithm="xla")
    return ctx.op("FusedConv2D", [m["x"], m["w"]], attrs)


CONV = RuleSet(
    "conv",
    (
        Rule(
            "conv-to-fused",
            op(("Conv2D", "DepthwiseConv2dNative"), any_("x"), const("w"), attrs={"data_format": "NHWC"}),
            _conv_to_fused,
            doc="Conv2D(x, w) / DepthwiseConv2dNative(x, w) -> FusedConv2D(x, w)",
        ),
        *bias_rules("FusedConv2D"),
        *activation_rules("FusedConv2D"),
    ),
)


def _pointwise(m: Match) -> str | None:
    n = m.root
    w = n.inputs[1].type.shape
    if n.attrs["depthwise"]:
        return "depthwise"
    if w is None or tuple(w[:2]) != (1, 1):
        return f"kernel {w} is not 1x1"
    if list(n.attrs["strides"]) != [1, 1, 1, 1] or n.attrs["padding"] == "EXPLICIT":
        return "strided or explicitly padded"
    if list(n.attrs["dilations"]) != [1, 1, 1, 1]:
        return "dilated"
    return None


CONV_ALGORITHM = RuleSet(
    "conv-algorithm",
    (
        Rule(
            "pointwise-conv-as-matmul",
            op("FusedConv2D", any_operands=True, attrs={"algorithm": "xla"}),
            lambda ctx, m: ctx.op("FusedConv2D", m.root.inputs, fused_attrs(m.root, algorithm="matmul")),
            _pointwise,
            doc="FusedConv2D 1x1, stride 1 -> algorithm=matmul   (XLA:CPU: ~14x faster than its conv)",
        ),
        Rule(
            "depthwise-conv-as-taps",
            op("FusedConv2D", any_operands=True, attrs={"algorithm": "xla", "depthwise": True}),
            lambda ctx, m: ctx.op("FusedConv2D", m.root.inputs, fused_attrs(m.root, algorithm="taps")),
            doc="FusedConv2D depthwise -> algorithm=taps   (XLA:CPU: 20-30x faster than its conv)",
        ),
    ),
)

FoldBatchnorm = rule_pass("fold-batchnorm", BATCHNORM, "fold inference batch norm into conv weights (+ bias)")
FuseConv = rule_pass("fuse-conv", CONV, "fuse convolution, bias and activation into FusedConv2D")
ConvAlgorithm = rule_pass("conv-algorithm", CONV_ALGORITHM, "1x1 conv as matmul, depthwise conv as taps")
