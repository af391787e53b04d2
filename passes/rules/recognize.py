"""Recognize the op chains TensorFlow emits for GELU, Swish, LayerNorm, Softmax and embedding
bags, and replace each chain with the one op it computes.
"""

from __future__ import annotations

import math

from fourier.ir.core import Value
from fourier.passes.rewrite import Match, OpPattern, Rule, RuleContext, RuleSet, any_, const, op
from fourier.passes.rules.base import all_equal, rule_pass

__all__ = ["RECOGNIZE", "EMBEDDING", "Recognize", "EmbeddingBag"]

_RSQRT2 = 1 / math.sqrt(2)
_F32_TOL = 1e-6


def _last_axis(name: str | None = None):  # type: ignore[no-untyped-def]
    """A constant reduction axis that is the last axis (-1 or rank - 1, checked in the rule)."""
    return const(name, where=lambda v: v.dtype != object and v.size == 1, why="single reduction axis")


def _axis_is_last(*names: str, of: str = "x"):  # type: ignore[no-untyped-def]
    def check(m: Match) -> str | None:
        rank = m[of].type.rank
        if rank is None:
            return "rank unknown"
        for n in names:
            ax = int(m.value(n).reshape(-1)[0])
            if ax % rank != rank - 1:
                return f"reduces axis {ax}, not the last axis of {m[of].type}"
        return None

    return check


def _layer_norm(ctx: RuleContext, m: Match) -> Value:
    return ctx.op(
        "LayerNorm", [m["x"], m["gamma"], m["beta"]], {"epsilon": float(m.value("eps").reshape(-1)[0])}
    )


def _layer_norm_check(m: Match) -> str | None:
    why = _axis_is_last("ax1", "ax2")(m)
    if why:
        return why
    shape = m["x"].type.shape
    c = shape[-1] if shape else None
    for name in ("gamma", "beta"):
        if m[name].type.shape != (c,):
            return f"{name} is {m[name].type}, expected one value per feature [{c}]"
    if m.value("eps").size != 1:
        return "epsilon is not a scalar"
    if m.root.outputs[0].type != m["x"].type:
        return "the result broadcasts to another shape"
    return None


# mean = Mean(x); var = Mean((x - mean)^2); r = Rsqrt(var + eps) * gamma; x * r + (beta - mean * r)
_MEAN = op("Mean", any_("x"), _last_axis("ax1"), attrs={"keep_dims": True}, name="mean")
_VAR = op("Mean", op("SquaredDifference", any_("x"), _MEAN), _last_axis("ax2"), attrs={"keep_dims": True})
_R = op("Mul", op("Rsqrt", op(("AddV2", "Add"), _VAR, const("eps"))), const("gamma"), name="r")
_LAYER_NORM = op(
    ("AddV2", "Add"),
    op("Mul", any_("x"), _R),
    op("Sub", const("beta"), op("Mul", any_("mean"), any_("r"))),
)


def _softmax(ctx: RuleContext, m: Match) -> Value:
    return ctx.op("Softmax", [m["x"]])


def _gelu(ctx: RuleContext, m: Match) -> Value:
    return ctx.op("Gelu", [m["x"]])


_HALF = const(where=all_equal(0.5, _F32_TOL), why="== 0.5")
_RSQRT2_C = const(where=all_equal(_RSQRT2, _F32_TOL), why="== 1/sqrt(2)")
_SQRT2_C = const(where=all_equal(math.sqrt(2), 1e-6), why="== sqrt(2)")
_ONE = const(where=all_equal(1.0), why="== 1")


def _gelu_erf(name: str, scaled_x: OpPattern, doc: str) -> Rule:
    """0.5 * x * (1 + erf(scaled_x)) -> Gelu(x), for each spelling of x / sqrt(2)."""
    pattern = op("Mul", op("Mul", _HALF, any_("x")), op(("AddV2", "Add"), _ONE, op("Erf", scaled_x)))
    return Rule(name, pattern, _gelu, _same_type_as_x, doc=doc)


def _same_type_as_x(m: Match) -> str | None:
    if m.root.outputs[0].type != m["x"].type:
        return f"the result {m.root.outputs[0].type} broadcasts {m['x'].type}"
    return None


RECOGNIZE = RuleSet(
    "recognize",
    (
        Rule(
            "gelu-erfc",
            op("Mul", op("Mul", _HALF, any_("x")), op("Erfc", op("Mul", op("Neg", any_("x")), _RSQRT2_C))),
            _gelu,
            _same_type_as_x,
            doc="0.5 * x * erfc(-x / sqrt(2)) -> Gelu(x)   (tf.nn.gelu, Keras 'gelu')",
        ),
        _gelu_erf(
            "gelu-erf",
            op("Mul", any_("x"), _RSQRT2_C),
            doc="0.5 * x * (1 + erf(x / sqrt(2))) -> Gelu(x)   (hand-written GELU, older TF)",
        ),
        _gelu_erf(
            "gelu-erf-div",
            op("RealDiv", any_("x"), _SQRT2_C),
            doc="0.5 * x * (1 + erf(x / sqrt(2))) -> Gelu(x)   (x / sqrt(2) as a RealDiv)",
        ),
        Rule(
            "swish",
            op("Mul", any_("x"), op("Sigmoid", any_("x"))),
            lambda ctx, m: ctx.op("Swish", [m["x"]]),
            _same_type_as_x,
            doc="x * sigmoid(x) -> Swish(x)",
        ),
        Rule(
            "softmax",
            op(
                "RealDiv",
                op(
                    "Exp",
                    op("Sub", any_("x"), op("Max", any_("x"), _last_axis("ax1"), attrs={"keep_dims": True})),
                    name="e",
                ),
                op("Sum", any_("e"), _last_axis("ax2"), attrs={"keep_dims": True}),
            ),
            _softmax,
            _axis_is_last("ax1", "ax2"),
            doc="exp(x - max(x)) / sum(exp(x - max(x))) -> Softmax(x)   (last axis)",
        ),
        Rule(
            "softmax-unshifted",
            op(
                "RealDiv",
                op("Exp", any_("x"), name="e"),
                op("Sum", any_("e"), _last_axis("ax2"), attrs={"keep_dims": True}),
            ),
            _softmax,
            _axis_is_last("ax2"),
            doc="exp(x) / sum(exp(x)) -> Softmax(x)   (the max shift only avoids overflow)",
        ),
        Rule(
            "layer-norm",
            _LAYER_NORM,
            _layer_norm,
            _layer_norm_check,
            doc="x * r + (beta - mean(x) * r), r = rsqrt(var(x) + eps) * gamma -> LayerNorm(x, gamma, beta)   (Keras)",
        ),
    ),
)


def _bag(ctx: RuleContext, m: Match) -> Value:
    combiner = "sum" if m.root.op == "Sum" else "mean"
    return ctx.op(
        "EmbeddingBag",
        [m["table"], m["ids"]],
        {"combiner": combiner, "keep_dims": bool(m.root.attrs["keep_dims"])},
    )


def _bag_check(m: Match) -> str | None:
    ids, table = m["ids"], m["table"]
    if table.type.rank != 2:
        return f"table {table.type} is not rank 2"
    if m.value("gaxis").reshape(-1).tolist() != [0]:
        return "the gather is not along the table's rows"
    rank = ids.type.rank
    if not rank:
        return "ids are scalars or of unknown rank"
    axes = m.value("axis").reshape(-1).tolist()
    if len(axes) != 1 or int(axes[0]) % (rank + 1) != rank - 1:
        return f"reduces axis {axes}, not the bag axis {rank - 1} (the last axis of the ids)"
    return None


EMBEDDING = RuleSet(
    "embedding",
    (
        Rule(
            "embedding-bag",
            op(
                ("Sum", "Mean"),
                op(
                    "GatherV2",
                    const("table"),
                    any_("ids"),
                    const("gaxis"),
                    attrs={"batch_dims": 0},
                    one_use=True,
                ),
                const("axis"),
            ),
            _bag,
            _bag_check,
            doc="Sum/Mean(GatherV2(table, ids), bag axis) -> EmbeddingBag(table, ids)",
        ),
    ),
)

Recognize = rule_pass("recognize", RECOGNIZE, "recognize GELU, Swish, Softmax and LayerNorm chains")
EmbeddingBag = rule_pass("embedding-bag", EMBEDDING, "gather + combiner reduction into EmbeddingBag")
