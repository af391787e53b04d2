"""Recognize the op chains TensorFlow emits for GELU, Swish, LayerNorm, Softmax, embedding
bags and field-pair inner products, and replace each chain with the op (or the few ops) it computes.
"""

from __future__ import annotations

import math

import numpy as np

from fourier.ir.core import Node, Value
from fourier.ops.registry import get_op
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


_MOVES = frozenset(("StridedSlice", "Slice", "Squeeze", "ExpandDims", "Reshape"))


def _source_of(v: Value) -> Value:
    """Where ``v``'s data comes from through slices, squeezes, expansions and reshapes."""
    while v.producer.op in _MOVES:
        v = v.producer.inputs[0]
    return v


def _follow(v: Value, source: Value, probe: np.ndarray) -> np.ndarray | None:
    """``v`` computed from ``probe`` standing for ``source`` (each op's own reference; the other
    operands must be known at compile time), or None."""
    chain: list[Node] = []
    while v is not source:
        if v.producer.op not in _MOVES:
            return None
        chain.append(v.producer)
        v = v.producer.inputs[0]
    out = probe
    for node in reversed(chain):
        rest = [x.known for x in node.inputs[1:]]
        if any(k is None or k.dtype == object for k in rest):
            return None
        out = np.asarray(get_op(node.op).reference(node.attrs, out, *rest))
    return out


def _pair_terms(m: Match) -> tuple[Value, np.ndarray] | str:
    """For AddN(c * <E[:, i], E[:, j]>, ...): the fields' source E [N, F, D] and the weights
    W [F, F] (W[i, j] sums the c of pair i, j). Each term is a scalar constant times a batched
    dot of a field [N, 1, D] with another [N, D, 1], squeezed to [N, 1]; which fields they are
    is found by running the slicing chain on a probe of E holding each element's index."""
    terms = m.root.inputs
    out = m.root.outputs[0].type
    if (
        len(terms) < 2
        or out.dtype != "float32"
        or out.shape is None
        or len(out.shape) != 2
        or out.shape[1] != 1
    ):
        return "not a sum of [N, 1] float32 terms"
    found: list[tuple[float, Value, Value]] = []
    for t in terms:
        mul = t.producer
        if mul.op != "Mul":
            return f"{t.name} is not a product"
        consts = [
            x for x in mul.inputs if x.known is not None and x.known.size == 1 and x.known.dtype != object
        ]
        if len(consts) != 1:
            return f"{t.name}: not one scalar constant times a dot"
        dot = mul.inputs[1] if mul.inputs[0] is consts[0] else mul.inputs[0]
        bmm = dot.producer.inputs[0].producer if dot.producer.op in ("Squeeze", "Reshape") else dot.producer
        if (
            bmm.op not in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
            or bmm.attrs["adj_x"]
            or bmm.attrs["adj_y"]
        ):
            return f"{t.name}: not a scalar times a batched dot"
        if bmm.outputs[0].type.shape != (out.shape[0], 1, 1) or dot.type.shape != out.shape:
            return f"{t.name}: the dot is not one value per row"
        found.append((float(consts[0].known.reshape(-1)[0]), bmm.inputs[0], bmm.inputs[1]))
    source = _source_of(found[0][1])
    shape = source.type.shape
    if (
        shape is None
        or len(shape) != 3
        or shape[0] != out.shape[0]
        or not all(isinstance(d, int) for d in shape[1:])
    ):
        return f"the fields' source {source.name} is not [N, F, D] with F and D known"
    fields, width = int(shape[1]), int(shape[2])
    probe = np.arange(fields * width, dtype=np.int64).reshape(1, fields, width)
    weights = np.zeros((fields, fields), dtype=np.float64)
    for c, a, b in found:
        if _source_of(a) is not source or _source_of(b) is not source:
            return "the dots do not all take their fields from one source"
        pa, pb = _follow(a, source, probe), _follow(b, source, probe)
        if pa is None or pb is None or pa.shape != (1, 1, width) or pb.shape != (1, width, 1):
            return f"a dot's operands are not a field [N, 1, D] and a field [N, D, 1] of {source.name}"
        i, j = int(pa[0, 0, 0]) // width, int(pb[0, 0, 0]) // width
        if not (np.array_equal(pa.reshape(-1), probe[0, i]) and np.array_equal(pb.reshape(-1), probe[0, j])):
            return "a dot's operand is not one whole field"
        weights[i, j] += c
    return source, weights


def _pair_terms_check(m: Match) -> str | None:
    found = _pair_terms(m)
    return found if isinstance(found, str) else None


def _pairwise_dots(ctx: RuleContext, m: Match) -> Value:
    found = _pair_terms(m)
    assert not isinstance(found, str)
    source, weights = found
    i32 = np.int32
    perm = ctx.const(np.array([0, 2, 1], dtype=i32), suffix="/perm")
    fields_last = ctx.op("Transpose", [source, perm], suffix="/fields_last")
    w = ctx.const(weights.astype(np.float32), suffix="/weights")
    mixed = ctx.op("BatchMatMulV2", [fields_last, w], {"adj_x": False, "adj_y": False}, suffix="/weighted")
    prod = ctx.op("Mul", [mixed, fields_last], suffix="/products")
    axes = ctx.const(np.array([1, 2], dtype=i32), suffix="/axes")
    total = ctx.op("Sum", [prod, axes], {"keep_dims": False}, suffix="/sum")
    return ctx.op("ExpandDims", [total, ctx.const(np.array(-1, dtype=i32), suffix="/axis")])


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
            "pairwise-field-dots",
            op("AddN", any_operands=True),
            _pairwise_dots,
            _pair_terms_check,
            doc="AddN(c_ij * <E[:, i], E[:, j]>, ...) over fields of one E [N, F, D] -> "
            "sum(E^T W * E^T) with W[i, j] = c_ij: deepctr FwFM's 325 batched dots (XLA took 6-12 s "
            "per bucket to compile them) become one product with a [F, F] matrix",
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
