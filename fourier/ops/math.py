"""Elementwise math: unary functions, binary arithmetic with broadcasting, comparisons, logic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import TensorType, numpy_dtype
from fourier.ops._infer import broadcast_result, broadcast_shapes, same_as
from fourier.ops.padding import State, elementwise
from fourier.ops.registry import Attr, InferContext, register

Fn = Callable[..., Any]


def _unary(name: str, fn: Fn, doc: str, attrs: tuple[Attr, ...] = ()) -> None:
    register(
        name,
        inputs=1,
        attrs=attrs,
        infer=same_as(0),
        xp_fn=lambda xp, a, x: fn(xp, a, x),
        traits=("pure", "elementwise"),
        doc=doc,
    )


def _binary(name: str, fn: Fn, doc: str, out_dtype: str | None = None, commutative: bool = False) -> None:
    traits = ("pure", "elementwise") + (("commutative",) if commutative else ())
    register(
        name,
        inputs=2,
        infer=broadcast_result(out_dtype),
        xp_fn=lambda xp, a, x, y: fn(xp, x, y),
        traits=traits,
        doc=doc,
    )


# -- unary --------------------------------------------------------------------------------------

_unary("Neg", lambda xp, a, x: xp.negative(x), "-x")
_unary("Abs", lambda xp, a, x: xp.abs(x), "|x|")
_unary("Sign", lambda xp, a, x: xp.sign(x), "sign(x)")
_unary("Square", lambda xp, a, x: xp.square(x), "x * x")
_unary("Sqrt", lambda xp, a, x: xp.sqrt(x), "sqrt(x)")
_unary("Rsqrt", lambda xp, a, x: xp.reciprocal(xp.sqrt(x)), "1 / sqrt(x)")
_unary("Reciprocal", lambda xp, a, x: xp.reciprocal(x), "1 / x")
_unary("Inv", lambda xp, a, x: xp.reciprocal(x), "1 / x (old name of Reciprocal)")
_unary("Exp", lambda xp, a, x: xp.exp(x), "e ** x")
_unary("Expm1", lambda xp, a, x: xp.expm1(x), "e ** x - 1")
_unary("Log", lambda xp, a, x: xp.log(x), "natural log")
_unary("Log1p", lambda xp, a, x: xp.log1p(x), "log(1 + x)")
_unary("Sin", lambda xp, a, x: xp.sin(x), "sin(x)")
_unary("Cos", lambda xp, a, x: xp.cos(x), "cos(x)")
_unary("Tanh", lambda xp, a, x: xp.tanh(x), "tanh(x)")
_unary("Floor", lambda xp, a, x: xp.floor(x), "round down")
_unary("Ceil", lambda xp, a, x: xp.ceil(x), "round up")
_unary("Round", lambda xp, a, x: xp.round(x), "round half to even (TensorFlow's Round)")
_unary("Relu", lambda xp, a, x: xp.maximum(x, 0), "max(x, 0)")
_unary("Relu6", lambda xp, a, x: xp.minimum(xp.maximum(x, 0), 6), "min(max(x, 0), 6)")
_unary("Elu", lambda xp, a, x: xp.where(x > 0, x, xp.expm1(x)), "x if x > 0 else e ** x - 1")
_unary(
    "Selu",
    lambda xp, a, x: (1.0507009873554805 * xp.where(x > 0, x, 1.6732632423543772 * xp.expm1(x))).astype(
        x.dtype
    ),
    "scaled ELU",
)
_unary("Softplus", lambda xp, a, x: xp.logaddexp(x, xp.zeros_like(x)), "log(1 + e ** x)")
_unary("Softsign", lambda xp, a, x: x / (1 + xp.abs(x)), "x / (1 + |x|)")
_unary(
    "LeakyRelu",
    lambda xp, a, x: xp.where(x > 0, x, (a["alpha"] * x).astype(x.dtype)),
    "x if x > 0 else alpha * x",
    attrs=(Attr("alpha", "float", 0.2),),
)


def _sigmoid_ref(attrs: dict[str, Any], x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x).astype(x.dtype)


def _sigmoid_lower(attrs: dict[str, Any], x: Any) -> Any:
    import jax

    return jax.nn.sigmoid(x)


register(
    "Sigmoid",
    inputs=1,
    infer=same_as(0),
    reference=_sigmoid_ref,
    lower=_sigmoid_lower,
    traits=("pure", "elementwise"),
    doc="1 / (1 + e ** -x)",
)


def _special(name: str, doc: str) -> None:
    def ref(attrs: dict[str, Any], x: np.ndarray) -> np.ndarray:
        import scipy.special

        return getattr(scipy.special, name.lower())(x).astype(x.dtype)

    def lower(attrs: dict[str, Any], x: Any) -> Any:
        import jax.scipy.special

        return getattr(jax.scipy.special, name.lower())(x)

    register(
        name,
        inputs=1,
        infer=same_as(0),
        reference=ref,
        lower=lower,
        traits=("pure", "elementwise"),
        doc=doc,
    )


_special("Erf", "the error function")
_special("Erfc", "1 - erf(x), as TensorFlow's exact GELU emits it")


def _bool_of(i: int):  # type: ignore[no-untyped-def]
    def infer(ctx: InferContext) -> list[TensorType]:
        return [TensorType("bool", ctx.types[i].shape)]

    return infer


_predicates: list[tuple[str, Fn]] = [
    ("IsNan", lambda xp, x: xp.isnan(x)),
    ("IsInf", lambda xp, x: xp.isinf(x)),
    ("IsFinite", lambda xp, x: xp.isfinite(x)),
    ("LogicalNot", lambda xp, x: xp.logical_not(x)),
]
for _name, _fn in _predicates:
    register(
        _name,
        inputs=1,
        infer=_bool_of(0),
        xp_fn=lambda xp, a, x, fn=_fn: fn(xp, x),
        traits=("pure", "elementwise"),
        doc=f"{_name} elementwise, bool result",
    )

# -- binary -------------------------------------------------------------------------------------

_binary("Add", lambda xp, x, y: xp.add(x, y), "x + y", commutative=True)
_binary("AddV2", lambda xp, x, y: xp.add(x, y), "x + y", commutative=True)
_binary("Sub", lambda xp, x, y: xp.subtract(x, y), "x - y")
_binary("Mul", lambda xp, x, y: xp.multiply(x, y), "x * y", commutative=True)
_binary("RealDiv", lambda xp, x, y: xp.true_divide(x, y).astype(x.dtype), "x / y")


def _floor_div(xp: Any, x: Any, y: Any) -> Any:
    # floats: floor(x / y), as TensorFlow (Python's floor division is fmod-based: 1 // 0.1 == 9.0)
    return xp.floor(x / y) if np.issubdtype(x.dtype, np.floating) else xp.floor_divide(x, y)


_binary("FloorDiv", _floor_div, "floor(x / y)")
_binary("FloorMod", lambda xp, x, y: xp.mod(x, y), "x - floor(x / y) * y")
_binary("Maximum", lambda xp, x, y: xp.maximum(x, y), "max(x, y)", commutative=True)
_binary("Minimum", lambda xp, x, y: xp.minimum(x, y), "min(x, y)", commutative=True)
_binary("Pow", lambda xp, x, y: xp.power(x, y), "x ** y")
_binary("SquaredDifference", lambda xp, x, y: xp.square(x - y), "(x - y) ** 2", commutative=True)
_binary(
    "DivNoNan",
    lambda xp, x, y: xp.where(y == 0, xp.zeros_like(x), x / xp.where(y == 0, xp.ones_like(y), y)),
    "x / y, 0 where y == 0",
)
_comparisons: list[tuple[str, Fn, bool]] = [
    ("Equal", lambda xp, x, y: xp.equal(x, y), True),
    ("NotEqual", lambda xp, x, y: xp.not_equal(x, y), True),
    ("Less", lambda xp, x, y: xp.less(x, y), False),
    ("LessEqual", lambda xp, x, y: xp.less_equal(x, y), False),
    ("Greater", lambda xp, x, y: xp.greater(x, y), False),
    ("GreaterEqual", lambda xp, x, y: xp.greater_equal(x, y), False),
    ("LogicalAnd", lambda xp, x, y: xp.logical_and(x, y), True),
    ("LogicalOr", lambda xp, x, y: xp.logical_or(x, y), True),
]
for _name, _fn, _comm in _comparisons:
    _binary(_name, _fn, f"{_name} elementwise, bool result", out_dtype="bool", commutative=_comm)


def _addn_infer(ctx: InferContext) -> list[TensorType]:
    return broadcast_result()(ctx)


def _addn(xp: Any, attrs: dict[str, Any], *xs: Any) -> Any:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


register(
    "AddN",
    inputs=(1, None),
    infer=_addn_infer,
    xp_fn=_addn,
    traits=("pure", "elementwise", "commutative"),
    doc="sum of all inputs",
)


def _select_v2_infer(ctx: InferContext) -> list[TensorType]:
    t, e = ctx.types[1], ctx.types[2]
    if t.dtype != e.dtype:
        raise ctx.fail(f"branches have different dtypes {t.dtype} and {e.dtype}")
    try:
        shape = broadcast_shapes([ctx.types[0].shape, t.shape, e.shape])
    except ValueError as err:
        raise ctx.fail(str(err)) from err
    return [TensorType(t.dtype, shape)]


register(
    "SelectV2",
    inputs=3,
    infer=_select_v2_infer,
    xp_fn=lambda xp, a, c, t, e: xp.where(c, t, e),
    traits=("pure", "elementwise"),
    doc="where(cond, t, e) with broadcasting",
)


def _select(xp: Any, attrs: dict[str, Any], c: Any, t: Any, e: Any) -> Any:
    # TF1 Select: a vector condition picks whole rows of higher-rank branches.
    if c.ndim == 1 and t.ndim > 1:
        c = c.reshape((-1,) + (1,) * (t.ndim - 1))
    return xp.where(c, t, e)


def _select_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Elementwise, except that a vector condition lines up with the first axis"""
    return [elementwise(node, ins, symbol, vector_condition=True)] * len(node.outputs)


register(
    "Select",
    inputs=3,
    infer=lambda ctx: [ctx.types[1]],
    xp_fn=_select,
    traits=("pure",),
    doc="where(cond, t, e); a vector cond selects rows",
    padding_rule=_select_padding,
)


def _cast_infer(ctx: InferContext) -> list[TensorType]:
    return [TensorType(ctx.attrs["DstT"], ctx.types[0].shape)]


def _cast(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype == object:  # symbolic shape values stay symbolic
        if attrs["DstT"].startswith(("int", "uint")):
            return x
        raise TypeError("symbolic value cast to a non-integer type")
    return x.astype(numpy_dtype(attrs["DstT"]))


register(
    "Cast",
    inputs=1,
    attrs=[Attr("DstT", "type"), Attr("Truncate", "bool", False)],
    infer=_cast_infer,
    xp_fn=_cast,
    traits=("pure", "elementwise"),
    doc="convert to DstT (float to int truncates toward zero)",
)
