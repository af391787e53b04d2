"""Op conformance: every registered TensorFlow op against TensorFlow's own kernel.

Before: a TensorFlow graph of one ``tf.raw_ops`` op (data fed through Placeholders, shape-like
operands as constants; a control-flow op built by ``tf.while_loop``/``tf.cond`` or over a
TensorList made from a fed tensor), as a GraphDef. Cases run each op over the dtypes TensorFlow
has kernels for (float32, and float16/float64/int32/int64/bool where it has them), its attributes,
and edge cases: empty tensors, broadcasting, negative axes, int64 operands, infinities and NaNs.
Expected: Fourier imports it, and its numpy reference and its JAX lowering both give TensorFlow's
answer (`fourier.testing.conformance.check`): the same dtype and shape (inferred and computed),
integers and bools exactly, float32 to rtol 1e-5 / atol 1e-6, float16 to rtol 2e-3 / atol 1e-3
(about one unit in the last place), float64 to rtol 1e-9. A case that needs another tolerance
states it and why (`CONTRACTION`).

The long-tail and image families have their cases in tests/test_ops_longtail.py (the later
long-tail additions, and the quant and random families, in a block at the end of this file); the last test
here walks the registry and fails naming every op that has no TensorFlow case in either file and
is not exempt (`fourier.testing.conformance.EXEMPT`: Fourier's own fused ops, and the ops the host
runs, which tests/test_host.py and tests/test_feature_columns.py compare with TensorFlow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fourier.ops.registry import all_ops
from fourier.testing.conformance import COMMAND, EXEMPT, Case, case_id, check, coverage, exemption, markdown

tf = pytest.importorskip("tensorflow")
raw = tf.raw_ops
rng = np.random.default_rng(17)

# Contractions (matmul, convolution, pooling averages, einsum) sum K products in an order
# TensorFlow's kernels choose: float32 to rtol 1e-5 with atol 1e-5 (outputs near 0 after
# cancellation keep an absolute error of a few ulps of the summands).
CONTRACTION = {"rtol": 1e-5, "atol": 1e-5}


def rand(dtype: Any, *shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    """Random values of ``dtype`` in [lo, hi) (integers: [lo, hi); bools: either)."""
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dt.kind in "iu":
        return rng.integers(int(lo), int(hi), shape).astype(dt)
    return rng.uniform(lo, hi, shape).astype(dt)


def f32(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return rand(np.float32, *shape, lo=lo, hi=hi)


def _c(v: Any, dtype: Any = np.int32) -> Any:
    return tf.constant(np.asarray(v, dtype=dtype))


def _name(dtype: Any) -> str:
    return np.dtype(dtype).name


F16, F32, F64, I32, I64, BOOL = np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_
FLOATS = (F32, F16, F64)
CASES: list[Case] = []

# -- basic: inputs, constants, identities ----------------------------------------------------

for _dt in (F32, F16, F64, I32, I64, BOOL, np.uint8, np.int8):
    CASES.append(Case("Placeholder", lambda x: x, {"x": rand(_dt, 2, 3)}, _name(_dt)))
    _value = rand(_dt, 3, 2)
    CASES.append(Case("Const", lambda v=_value: tf.constant(v), {}, _name(_dt)))
CASES += [
    Case("Placeholder", lambda x: x, {"x": f32(0, 3)}, "empty"),
    Case("Placeholder", lambda x: x, {"x": np.array(3, np.int64)}, "scalar-int64"),
    Case("Const", lambda: tf.constant(np.zeros((0, 4), np.float32)), {}, "empty"),
    Case("Const", lambda: tf.constant(np.float32(np.inf)), {}, "scalar-inf"),
]
for _op in ("Identity", "Snapshot", "StopGradient", "PreventGradient"):
    fn = getattr(raw, _op)
    for _dt in (F32, I64, BOOL, F16):
        CASES.append(Case(_op, lambda x, fn=fn: fn(input=x), {"x": rand(_dt, 2, 3)}, _name(_dt)))
    CASES.append(Case(_op, lambda x, fn=fn: fn(input=x), {"x": f32(0, 2)}, "empty"))

# -- math: unary -----------------------------------------------------------------------------

SPECIAL = np.array([0.0, -0.0, 1.5, -2.5, np.inf, -np.inf, np.nan], np.float32)
# op -> (range of random inputs, int dtypes TensorFlow has a kernel for, special values checked)
UNARY: dict[str, tuple[tuple[float, float], tuple[Any, ...], bool]] = {
    "Abs": ((-3, 3), (I32, I64, np.int8), True),
    "Neg": ((-3, 3), (I32, I64), True),
    "Sign": ((-3, 3), (I32, I64), True),
    "Square": ((-3, 3), (I32, I64), True),
    "Ceil": ((-3, 3), (), True),
    "Floor": ((-3, 3), (), True),
    "Round": ((-3, 3), (), True),  # TensorFlow 2.21's integer Round kernel returns zeros (its bug; left out)
    "Exp": ((-5, 5), (), True),
    "Expm1": ((-3, 3), (), True),
    "Log": ((0.01, 5), (), True),
    "Log1p": ((-0.9, 5), (), True),
    "Sqrt": ((0, 5), (), True),
    "Rsqrt": ((0.01, 5), (), True),
    "Reciprocal": ((0.1, 5), (), True),
    "Inv": ((-5, -0.1), (), True),
    "Sigmoid": ((-8, 8), (), True),
    "Tanh": ((-4, 4), (), True),
    "Erf": ((-3, 3), (), True),
    "Erfc": ((-3, 3), (), True),
    "Sin": ((-5, 5), (), False),
    "Cos": ((-5, 5), (), False),
    "Relu": ((-3, 3), (I32, I64), True),
    "Relu6": ((-3, 9), (I32, I64), True),
    "Elu": ((-3, 3), (), True),
    "Selu": ((-3, 3), (), True),
    "Softplus": ((-20, 20), (), True),
    "Softsign": ((-3, 3), (), True),
    "IsFinite": ((-3, 3), (), True),
    "IsInf": ((-3, 3), (), True),
    "IsNan": ((-3, 3), (), True),
}
FEATURES = {"Relu", "Relu6", "Elu", "Selu", "Softplus", "Softsign"}
for _op, ((_lo, _hi), _ints, _special) in UNARY.items():
    fn = getattr(raw, _op)
    if _op in FEATURES:
        fn = lambda x, f=fn: f(features=x)  # these name their operand features
    for _dt in FLOATS:
        CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": rand(_dt, 3, 4, lo=_lo, hi=_hi)}, _name(_dt)))
    for _dt in _ints:
        CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": rand(_dt, 3, 4, lo=-9, hi=10)}, _name(_dt)))
    CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": f32(0, 3)}, "empty"))
    if _special:
        CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": SPECIAL}, "special"))
CASES += [
    Case(
        "Round",
        lambda x: raw.Round(x=x),
        {"x": np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997], np.float32)},
        "half-to-even",
    ),
    Case("LogicalNot", lambda x: raw.LogicalNot(x=x), {"x": rand(BOOL, 3, 4)}),
    Case("LogicalNot", lambda x: raw.LogicalNot(x=x), {"x": rand(BOOL, 0)}, "empty"),
]
for _alpha in (0.2, 0.01, 1.5):
    CASES.append(
        Case(
            "LeakyRelu", lambda x, a=_alpha: raw.LeakyRelu(features=x, alpha=a), {"x": f32(3, 4)}, str(_alpha)
        )
    )
CASES += [
    Case("LeakyRelu", lambda x: raw.LeakyRelu(features=x), {"x": rand(F64, 5)}, "float64"),
    Case("LeakyRelu", lambda x: raw.LeakyRelu(features=x), {"x": rand(F16, 5)}, "float16"),
    Case("LeakyRelu", lambda x: raw.LeakyRelu(features=x), {"x": SPECIAL}, "special"),
]

# -- math: binary ----------------------------------------------------------------------------

# op -> (dtypes, whether the second operand must be positive, or nonzero)
BINARY: dict[str, tuple[tuple[Any, ...], str]] = {
    "Add": ((F32, F16, F64, I32, I64), ""),
    "AddV2": ((F32, F16, F64, I32, I64, np.int8, np.uint8), ""),
    "Sub": ((F32, F16, F64, I32, I64), ""),
    "Mul": ((F32, F16, F64, I32, I64, np.uint8), ""),
    "RealDiv": ((F32, F16, F64), "nonzero"),
    "Maximum": ((F32, F16, F64, I32, I64), ""),
    "Minimum": ((F32, F16, F64, I32, I64), ""),
    "Pow": ((F32, F16, F64, I32, I64), "positive"),
    "SquaredDifference": ((F32, F16, F64, I32, I64), ""),
    "DivNoNan": ((F32, F16, F64), ""),
    "Equal": ((F32, F16, F64, I32, I64, BOOL), ""),
    "NotEqual": ((F32, F16, F64, I32, I64, BOOL), ""),
    "Greater": ((F32, F16, F64, I32, I64), ""),
    "GreaterEqual": ((F32, F16, F64, I32, I64), ""),
    "Less": ((F32, F16, F64, I32, I64), ""),
    "LessEqual": ((F32, F16, F64, I32, I64), ""),
}
for _op, (_dts, _rule) in BINARY.items():
    fn = getattr(raw, _op)
    for _dt in _dts:
        if _rule == "positive":  # a float base stays positive; an integer exponent stays >= 0
            a = rand(_dt, 3, 1, lo=0.5 if np.dtype(_dt).kind == "f" else -4, hi=3)
            b = rand(_dt, 4, lo=0 if np.dtype(_dt).kind in "iu" else -2, hi=4)
        else:
            kind = np.dtype(_dt).kind
            a = rand(_dt, 3, 1, lo=0 if kind == "u" else -9, hi=10)
            b = rand(_dt, 4, lo=1 if kind == "u" else -9, hi=10)
            if _rule == "nonzero":
                b = np.where(b == 0, np.asarray(1, _dt), b).astype(_dt)
            if _op in ("Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual") and kind == "f":
                a, b = np.round(a), np.round(b)  # ties, so that equality is exercised
        CASES.append(Case(_op, lambda x, y, fn=fn: fn(x=x, y=y), {"x": a, "y": b}, f"broadcast-{_name(_dt)}"))
    CASES.append(
        Case(
            _op,
            lambda x, y, fn=fn: fn(x=x, y=y),
            {"x": f32(0, 4, lo=0.5, hi=2), "y": f32(4, lo=0.5, hi=2)},
            "empty",
        )
    )
    CASES.append(
        Case(
            _op,
            lambda x, y, fn=fn: fn(x=x, y=y),
            {"x": np.float32(1.5), "y": f32(2, 3, lo=0.5, hi=2)},
            "scalar",
        )
    )
_A = np.array([0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0, 0.0], np.float32)
_B = np.array([0.0, np.nan, 0.0, 1.0, np.inf, 1.0, -np.inf, -0.0], np.float32)
for _op in ("Add", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "DivNoNan", "Pow", "SquaredDifference"):
    fn = getattr(raw, _op)
    CASES.append(Case(_op, lambda x, y, fn=fn: fn(x=x, y=y), {"x": _A, "y": _B}, "special"))
for _op in ("Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"):
    fn = getattr(raw, _op)
    CASES.append(Case(_op, lambda x, y, fn=fn: fn(x=x, y=y), {"x": _A, "y": _B}, "special"))
CASES += [
    Case(
        "DivNoNan",
        lambda x, y: raw.DivNoNan(x=x, y=y),
        {"x": f32(3, 4), "y": np.zeros(4, np.float32)},
        "zeros",
    ),
    Case(
        "Equal",
        lambda x, y: raw.Equal(x=x, y=y, incompatible_shape_error=True),
        {"x": rand(I64, 2, 3, lo=0, hi=3), "y": rand(I64, 3, lo=0, hi=3)},
        "int64",
    ),
]
for _op in ("LogicalAnd", "LogicalOr"):
    fn = getattr(raw, _op)
    CASES += [
        Case(
            _op,
            lambda x, y, fn=fn: fn(x=x, y=y),
            {"x": rand(BOOL, 4, 1, 3), "y": rand(BOOL, 5, 3)},
            "broadcast",
        ),
        Case(_op, lambda x, y, fn=fn: fn(x=x, y=y), {"x": rand(BOOL, 0, 3), "y": rand(BOOL, 3)}, "empty"),
    ]
for _dt in (F32, F16, F64, I32, I64):
    CASES.append(
        Case(
            "AddN",
            lambda a, b, c: raw.AddN(inputs=[a, b, c]),
            {"a": rand(_dt, 2, 3), "b": rand(_dt, 2, 3), "c": rand(_dt, 2, 3)},
            _name(_dt),
        )
    )
CASES += [
    Case("AddN", lambda a: raw.AddN(inputs=[a]), {"a": f32(4)}, "one"),
    Case("AddN", lambda a, b: raw.AddN(inputs=[a, b]), {"a": f32(0, 2), "b": f32(0, 2)}, "empty"),
]

# integer extremes wrap as TensorFlow's two's-complement kernels do
_NANS = np.array(
    [[np.nan, -np.inf, 3], [np.nan, np.nan, np.nan], [-np.inf, np.nan, -np.inf], [np.nan, -5, np.nan]],
    np.float32,
)
_IMIN = np.array([np.iinfo(np.int32).min, -1, 0, 46341, np.iinfo(np.int32).max], np.int32)
for _op in ("Abs", "Neg", "Square"):
    fn = getattr(raw, _op)
    CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": _IMIN}, "int32-extremes"))
    CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": _IMIN.astype(np.int64) * 2**32}, "int64-extremes"))
CASES += [
    Case("AddV2", lambda x, y: raw.AddV2(x=x, y=y), {"x": _IMIN, "y": _IMIN[::-1].copy()}, "int32-overflow"),
    Case("Mul", lambda x, y: raw.Mul(x=x, y=y), {"x": _IMIN, "y": _IMIN[::-1].copy()}, "int32-overflow"),
    Case("Sub", lambda x, y: raw.Sub(x=x, y=y), {"x": _IMIN, "y": _IMIN[::-1].copy()}, "int32-overflow"),
    Case(
        "Pow",
        lambda x, y: raw.Pow(x=x, y=y),
        {
            "x": np.array([-2.0, -8.0, 0.0, 2.0, -1.0], np.float32),
            "y": np.array([3.0, 1 / 3, -1.0, 0.5, np.inf], np.float32),
        },
        "negative-base",
    ),
    Case(
        "Pow",
        lambda x, y: raw.Pow(x=x, y=y),
        {"x": rand(I32, 6, lo=-3, hi=4), "y": rand(I32, 6, lo=0, hi=5)},
        "int32-negative-base",
    ),
    Case("Sum", lambda x: raw.Sum(input=x, axis=_c([0])), {"x": rand(F16, 2000, lo=0, hi=1)}, "float16-long"),
    Case(
        "Mean", lambda x: raw.Mean(input=x, axis=_c([0])), {"x": rand(F16, 2000, lo=0, hi=1)}, "float16-long"
    ),
    Case("Sum", lambda x: raw.Sum(input=x, axis=_c([1])), {"x": f32(3, 10000)}, "float32-long", CONTRACTION),
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(0)), {"x": rand(F16, 50, lo=0, hi=1)}, "float16"),
    Case(
        "Mean",
        lambda x: raw.Mean(input=x, axis=_c([1])),
        {"x": np.array([[2**30] * 3, [2**31 - 1, 2**31 - 1, 1], [-(2**31), -(2**31), -7]], np.int32)},
        "int32-wide-sum",
    ),
    Case(
        "Mean",
        lambda x: raw.Mean(input=x, axis=_c([0])),
        {"x": np.array([100, 100, 100, -99], np.int8)},
        "int8-wide-sum",
    ),
    Case(
        "Mean",
        lambda x: raw.Mean(input=x, axis=_c([0])),
        {"x": np.array([250, 250, 4], np.uint8)},
        "uint8-wide-sum",
    ),
    Case(
        "Mean",
        lambda x: raw.Mean(input=x, axis=_c([0])),
        {"x": np.array([2**62 + 1, 2**62 + 1, 2**62 + 1], np.int64)},
        "int64-wraps",
    ),
    Case(
        "Mean",
        lambda x: raw.Mean(input=x, axis=_c([0])),
        {"x": np.array([2**53 + 1, 2**53 + 3], np.int64)},
        "int64-exact",
    ),
    Case("Mean", lambda x: raw.Mean(input=x, axis=_c([0])), {"x": np.zeros((0, 3), np.int32)}, "int32-empty"),
    Case(
        "Prod",
        lambda x: raw.Prod(input=x, axis=_c([1])),
        {"x": rand(I32, 2, 40, lo=-3, hi=4)},
        "int32-overflow",
    ),
    Case("ArgMax", lambda x: raw.ArgMax(input=x, dimension=_c(0)), {"x": SPECIAL[2:]}, "special"),
    Case("ArgMax", lambda x: raw.ArgMax(input=x, dimension=_c(1)), {"x": _NANS}, "nan-rows"),
    Case(
        "ArgMin",
        lambda x: raw.ArgMin(input=x, dimension=_c(-1)),
        {"x": _NANS.astype(F64)},
        "nan-rows-float64",
    ),
    Case("ArgMin", lambda x: raw.ArgMin(input=x, dimension=_c(0)), {"x": SPECIAL[2:]}, "special"),
    Case("Max", lambda x: raw.Max(input=x, axis=_c([0])), {"x": rand(F16, 5, 3)}, "float16"),
    Case(
        "Equal",
        lambda x, y: raw.Equal(x=x, y=y, incompatible_shape_error=False),
        {"x": rand(I32, 2, 3, lo=0, hi=2), "y": rand(I32, 3, lo=0, hi=2)},
        "no-shape-error",
    ),
    Case("Cast", lambda x: raw.Cast(x=x, DstT=tf.bool), {"x": SPECIAL}, "special-to-bool"),
    Case(
        "Round",
        lambda x: raw.Round(x=x),
        {"x": np.array([-2.5, -0.5, 0.5, 1.5, 2.5], np.float16)},
        "float16-half-to-even",
    ),
    Case(
        "Softplus",
        lambda x: raw.Softplus(features=x),
        {"x": np.array([-100, -20, 0, 20, 100], np.float32)},
        "extreme",
    ),
    Case(
        "Sigmoid",
        lambda x: raw.Sigmoid(x=x),
        {"x": np.array([-100, -20, 0, 20, 100], np.float16)},
        "float16-extreme",
    ),
    Case(
        "Softmax",
        lambda x: raw.Softmax(logits=x),
        {"x": np.array([[np.inf, 0.0], [np.nan, 1.0]], np.float32)},
        "inf-nan",
    ),
]

# FloorDiv of floats is floor(x / y) in TensorFlow; Python's floor division (fmod-based) differs
_FX = np.array([1.0, 1.0, 0.3, -1.0, 7.0, -7.0, 5.5, -5.5, np.inf, 3.0, 1.0], np.float32)
_FY = np.array([0.1, 0.2, 0.1, 0.1, 0.7, 0.7, np.inf, np.inf, 2.0, 0.0, -0.0], np.float32)
CASES += [
    Case("FloorDiv", lambda x, y: raw.FloorDiv(x=x, y=y), {"x": _FX, "y": _FY}, "float32-quotient"),
    Case(
        "FloorDiv",
        lambda x, y: raw.FloorDiv(x=x, y=y),
        {"x": _FX.astype(F64), "y": _FY.astype(F64)},
        "float64-quotient",
    ),
    Case("FloorMod", lambda x, y: raw.FloorMod(x=x, y=y), {"x": _FX, "y": _FY}, "float32-quotient"),
]

# -- math: Cast, Select ----------------------------------------------------------------------

_CAST_FROM = {
    "float32": np.array([-2.7, -1.5, -0.5, 0.0, 0.5, 1.5, 2.7, 100.25], np.float32),
    "float64": np.array([-2.7, 1e10, 0.1, -0.0], np.float64),
    "float16": np.array([-2.7, 0.1, 65504.0, -0.5], np.float16),
    "int32": np.array([-(2**31), -7, 0, 7, 2**31 - 1], np.int32),
    "int64": np.array([-(2**40) - 3, -7, 0, 7, 2**40 + 5, 2**62], np.int64),
    "bool": np.array([True, False, True]),
    "uint8": np.array([0, 7, 255], np.uint8),
}
_CAST_TO: dict[str, tuple[str, ...]] = {
    "float32": ("int32", "int64", "float64", "float16", "bool"),
    "float64": ("float32", "int64", "bool"),
    "float16": ("float32", "int32"),
    "int32": ("float32", "int64", "int8", "uint8", "bool", "float16"),
    "int64": ("int32", "float32", "float64", "bool"),
    "bool": ("float32", "int32", "int64"),
    "uint8": ("int32", "float32", "int8"),
}
for _src, _dsts in _CAST_TO.items():
    for _dst in _dsts:
        CASES.append(
            Case(
                "Cast",
                lambda x, d=_dst: raw.Cast(x=x, DstT=tf.as_dtype(d)),
                {"x": _CAST_FROM[_src]},
                f"{_src}-to-{_dst}",
            )
        )
CASES += [
    Case(
        "Cast",
        lambda x: raw.Cast(x=x, DstT=tf.int32, Truncate=True),
        {"x": _CAST_FROM["int64"][1:4]},
        "truncate",
    ),
    Case("Cast", lambda x: raw.Cast(x=x, DstT=tf.float32), {"x": np.zeros((0, 2), np.int64)}, "empty"),
    Case("Cast", lambda x: raw.Cast(x=x, DstT=tf.float32), {"x": f32(3)}, "same-type"),
]
CASES += [
    Case(
        "Select",
        lambda c, x, y: raw.Select(condition=c, x=x, y=y),
        {"c": rand(BOOL, 3, 4), "x": f32(3, 4), "y": f32(3, 4)},
        "same-shape",
    ),
    Case(
        "Select",
        lambda c, x, y: raw.Select(condition=c, x=x, y=y),
        {"c": rand(BOOL, 3), "x": rand(I64, 3, 2, 2), "y": rand(I64, 3, 2, 2)},
        "rows-int64",
    ),
    Case(
        "Select",
        lambda c, x, y: raw.Select(condition=c, x=x, y=y),
        {"c": np.bool_(False), "x": f32(2, 3), "y": f32(2, 3)},
        "scalar",
    ),
    Case(
        "Select",
        lambda c, x, y: raw.Select(condition=c, x=x, y=y),
        {"c": rand(BOOL, 0), "x": f32(0, 3), "y": f32(0, 3)},
        "empty",
    ),
    Case(
        "SelectV2",
        lambda c, x, y: raw.SelectV2(condition=c, t=x, e=y),
        {"c": rand(BOOL, 3, 1), "x": f32(4), "y": np.float32(-1.0)},
        "broadcast",
    ),
    Case(
        "SelectV2",
        lambda c, x, y: raw.SelectV2(condition=c, t=x, e=y),
        {"c": rand(BOOL, 4), "x": rand(I32, 2, 4), "y": rand(I32, 2, 1)},
        "int32",
    ),
    Case(
        "SelectV2",
        lambda c, x, y: raw.SelectV2(condition=c, t=x, e=y),
        {"c": rand(BOOL, 0, 1), "x": f32(3), "y": f32(1)},
        "empty",
    ),
    Case(
        "SelectV2",
        lambda c, x, y: raw.SelectV2(condition=c, t=x, e=y),
        {"c": rand(BOOL, 2, 3), "x": rand(BOOL, 2, 3), "y": rand(BOOL, 3)},
        "bool",
    ),
]

# Bucketize (host family, but lowered like any device op)
_BOUNDS = [-1.0, 0.0, 0.5, 2.0]
CASES += [
    Case("Bucketize", lambda x: raw.Bucketize(input=x, boundaries=_BOUNDS), {"x": f32(3, 4)}),
    Case(
        "Bucketize",
        lambda x: raw.Bucketize(input=x, boundaries=_BOUNDS),
        {"x": np.array([-1.0, 0.0, 0.5, 2.0, -np.inf, np.inf, np.nan, 0.49999997], np.float32)},
        "on-boundaries-special",
    ),
    Case(
        "Bucketize",
        lambda x: raw.Bucketize(input=x, boundaries=[0.0, 3.0]),
        {"x": rand(I64, 6, lo=-3, hi=5)},
        "int64",
    ),
    Case(
        "Bucketize",
        lambda x: raw.Bucketize(input=x, boundaries=[1.0]),
        {"x": rand(I32, 2, 3, lo=-3, hi=5)},
        "int32",
    ),
    Case("Bucketize", lambda x: raw.Bucketize(input=x, boundaries=_BOUNDS), {"x": rand(F64, 5)}, "float64"),
    Case("Bucketize", lambda x: raw.Bucketize(input=x, boundaries=[]), {"x": f32(4)}, "no-boundaries"),
    Case("Bucketize", lambda x: raw.Bucketize(input=x, boundaries=_BOUNDS), {"x": f32(0, 2)}, "empty"),
]

# -- reductions ------------------------------------------------------------------------------

for _op in ("Sum", "Mean", "Max", "Min", "Prod"):
    fn = getattr(raw, _op)
    CASES += [
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": f32(3, 4, 5)}, "axis1"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c(-1), keep_dims=True), {"x": f32(3, 4)}, "neg-keep"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([0, 2], np.int64)), {"x": f32(2, 3, 4)}, "int64-axes"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([], np.int32)), {"x": f32(2, 3)}, "no-axes"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([0, 1])), {"x": f32(2, 3)}, "all"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": rand(I32, 3, 4, lo=-5, hi=6)}, "int32"),
        Case(
            _op,
            lambda x, fn=fn: fn(input=x, axis=_c([0]), keep_dims=True),
            {"x": rand(I64, 5, 2, lo=-5, hi=6)},
            "int64",
        ),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": rand(F64, 3, 4)}, "float64"),
        Case(
            _op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": rand(F16, 3, 4, lo=0.5, hi=1.5)}, "float16"
        ),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([0])), {"x": f32(0, 3)}, "empty-reduced"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": f32(0, 3)}, "empty-kept"),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c(0)), {"x": f32(5)}, "scalar-axis"),
    ]
    if _op in ("Max", "Min", "Sum"):
        CASES.append(
            Case(
                _op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": rand(I32, 0, 3)}, "empty-reduced-int32"
            )
        )
        CASES.append(
            Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([0])), {"x": SPECIAL.reshape(7, 1)}, "special")
        )
for _op in ("All", "Any"):
    fn = getattr(raw, _op)
    CASES += [
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([1])), {"x": rand(BOOL, 3, 4)}),
        Case(
            _op,
            lambda x, fn=fn: fn(input=x, axis=_c(-1, np.int64), keep_dims=True),
            {"x": rand(BOOL, 3, 2)},
            "keep",
        ),
        Case(_op, lambda x, fn=fn: fn(input=x, axis=_c([0])), {"x": rand(BOOL, 0, 2)}, "empty"),
    ]
for _op in ("ArgMax", "ArgMin"):
    fn = getattr(raw, _op)
    CASES += [
        Case(_op, lambda x, fn=fn: fn(input=x, dimension=_c(1)), {"x": f32(3, 5)}),
        Case(_op, lambda x, fn=fn: fn(input=x, dimension=_c(-1, np.int64)), {"x": f32(2, 3, 4)}, "neg-int64"),
        Case(
            _op,
            lambda x, fn=fn: fn(input=x, dimension=_c(0), output_type=tf.int32),
            {"x": rand(I32, 4, 3, lo=0, hi=3)},
            "ties-int32-out",
        ),
        Case(
            _op, lambda x, fn=fn: fn(input=x, dimension=_c(1)), {"x": rand(I64, 2, 6, lo=-3, hi=3)}, "int64"
        ),
        Case(_op, lambda x, fn=fn: fn(input=x, dimension=_c(0)), {"x": rand(F64, 6)}, "float64"),
        Case(_op, lambda x, fn=fn: fn(input=x, dimension=_c(1)), {"x": f32(0, 3)}, "empty-rows"),
    ]
CASES += [
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(1)), {"x": f32(3, 4)}),
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(-1), exclusive=True), {"x": f32(2, 5)}, "exclusive"),
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(0), reverse=True), {"x": f32(4, 2)}, "reverse"),
    Case(
        "Cumsum",
        lambda x: raw.Cumsum(x=x, axis=_c(0, np.int64), exclusive=True, reverse=True),
        {"x": rand(I64, 5, 2)},
        "both-int64",
    ),
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(1)), {"x": rand(I32, 2, 4)}, "int32"),
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(0)), {"x": rand(F64, 6)}, "float64"),
    Case("Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(0)), {"x": f32(0, 3)}, "empty"),
    Case(
        "Cumsum", lambda x: raw.Cumsum(x=x, axis=_c(0), exclusive=True), {"x": f32(0, 3)}, "exclusive-empty"
    ),
    Case(
        "Cumsum",
        lambda x: raw.Cumsum(x=x, axis=_c(1), exclusive=True),
        {"x": np.array([[1, np.inf, 2, -np.inf, 3], [1e8, 1, -1e8, 1, 0]], np.float32)},
        "exclusive-special",
    ),
    Case(
        "Cumsum",
        lambda x: raw.Cumsum(x=x, axis=_c(-1), exclusive=True, reverse=True),
        {"x": np.array([1, np.inf, 2, -np.inf, 3], np.float32)},
        "exclusive-reverse-special",
    ),
]
_TIES = np.array([[3, 1, 3, 2, 1, 3], [0, 0, 0, 0, 0, 0]], np.float32)
CASES += [
    Case("TopKV2", lambda x: raw.TopKV2(input=x, k=_c(3)), {"x": f32(4, 7)}),
    Case("TopKV2", lambda x: raw.TopKV2(input=x, k=_c(4)), {"x": _TIES}, "ties"),
    Case(
        "TopKV2", lambda x: raw.TopKV2(input=x, k=_c(2, np.int64)), {"x": rand(I32, 2, 3, 5)}, "int32-rank3"
    ),
    Case("TopKV2", lambda x: raw.TopKV2(input=x, k=_c(5)), {"x": rand(I64, 5, lo=-3, hi=3)}, "int64-all"),
    Case("TopKV2", lambda x: raw.TopKV2(input=x, k=_c(0)), {"x": f32(3, 4)}, "k0"),
    Case("TopKV2", lambda x: raw.TopKV2(input=x, k=_c(2)), {"x": f32(0, 4)}, "empty-rows"),
    Case("TopKV2", lambda x: raw.TopKV2(input=x, k=_c(2)), {"x": rand(F64, 3, 4)}, "float64"),
    Case(
        "TopKV2", lambda x: raw.TopKV2(input=x, k=_c(2), index_type=tf.int64), {"x": f32(3, 4)}, "int64-index"
    ),
]

# -- nn ----------------------------------------------------------------------------------------

for _dt, _tol in (
    (F32, CONTRACTION),
    (F64, None),
    (F16, {"rtol": 5e-3, "atol": 5e-3}),
    (I32, None),
    (I64, None),
):
    lo, hi = (-5, 6) if np.dtype(_dt).kind == "i" else (-2, 2)
    CASES.append(
        Case(
            "MatMul",
            lambda a, b: raw.MatMul(a=a, b=b),
            {"a": rand(_dt, 3, 5, lo=lo, hi=hi), "b": rand(_dt, 5, 4, lo=lo, hi=hi)},
            _name(_dt),
            _tol,
        )
    )
for _ta, _tb in ((True, False), (False, True), (True, True)):
    CASES.append(
        Case(
            "MatMul",
            lambda a, b, ta=_ta, tb=_tb: raw.MatMul(a=a, b=b, transpose_a=ta, transpose_b=tb),
            {"a": f32(*((5, 3) if _ta else (3, 5))), "b": f32(*((4, 5) if _tb else (5, 4)))},
            f"t{int(_ta)}{int(_tb)}",
            CONTRACTION,
        )
    )
CASES += [
    Case("MatMul", lambda a, b: raw.MatMul(a=a, b=b), {"a": f32(0, 5), "b": f32(5, 4)}, "empty-rows"),
    Case("MatMul", lambda a, b: raw.MatMul(a=a, b=b), {"a": f32(3, 0), "b": f32(0, 4)}, "empty-inner"),
]
for _op in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
    fn = getattr(raw, _op)
    extra: dict[str, Any] = {"Tout": tf.float32} if _op == "BatchMatMulV3" else {}
    CASES += [
        Case(
            _op,
            lambda x, y, fn=fn, e=extra: fn(x=x, y=y, **e),
            {"x": f32(2, 3, 4), "y": f32(2, 4, 5)},
            "",
            CONTRACTION,
        ),
        Case(
            _op,
            lambda x, y, fn=fn, e=extra: fn(x=x, y=y, adj_x=True, adj_y=True, **e),
            {"x": f32(2, 4, 3), "y": f32(2, 5, 4)},
            "adj",
            CONTRACTION,
        ),
        Case(
            _op,
            lambda x, y, fn=fn, e=extra: fn(x=x, y=y, **e),
            {"x": f32(0, 3, 4), "y": f32(0, 4, 2)},
            "empty",
        ),
    ]
    if _op != "BatchMatMul":  # V2 and V3 broadcast batch dimensions
        CASES.append(
            Case(
                _op,
                lambda x, y, fn=fn, e=extra: fn(x=x, y=y, **e),
                {"x": f32(2, 1, 3, 4), "y": f32(3, 4, 2)},
                "broadcast",
                CONTRACTION,
            )
        )
    e64 = {"Tout": tf.float64} if _op == "BatchMatMulV3" else {}
    CASES.append(
        Case(
            _op,
            lambda x, y, fn=fn, e=e64: fn(x=x, y=y, **e),
            {"x": rand(F64, 2, 2, 3), "y": rand(F64, 2, 3, 2)},
            "float64",
        )
    )
    e32 = {"Tout": tf.int32} if _op == "BatchMatMulV3" else {}
    CASES.append(
        Case(
            _op,
            lambda x, y, fn=fn, e=e32: fn(x=x, y=y, **e),
            {"x": rand(I32, 2, 2, 3), "y": rand(I32, 2, 3, 2)},
            "int32",
        )
    )
CASES += [
    Case("BiasAdd", lambda x, b: raw.BiasAdd(value=x, bias=b), {"x": f32(2, 3, 4), "b": f32(4)}),
    Case(
        "BiasAdd",
        lambda x, b: raw.BiasAdd(value=x, bias=b, data_format="NCHW"),
        {"x": f32(2, 3, 4, 5), "b": f32(3)},
        "NCHW",
    ),
    Case(
        "BiasAdd",
        lambda x, b: raw.BiasAdd(value=x, bias=b),
        {"x": rand(I64, 3, 2), "b": rand(I64, 2)},
        "int64",
    ),
    Case(
        "BiasAdd",
        lambda x, b: raw.BiasAdd(value=x, bias=b),
        {"x": rand(F16, 3, 2), "b": rand(F16, 2)},
        "float16",
    ),
    Case("BiasAdd", lambda x, b: raw.BiasAdd(value=x, bias=b), {"x": f32(0, 3), "b": f32(3)}, "empty"),
]
for _pad, _stride, _dil, _in, _k in [
    ("SAME", 1, 1, (2, 6, 7, 3), (3, 3, 3, 4)),
    ("VALID", 2, 1, (1, 7, 8, 2), (3, 2, 2, 3)),
    ("SAME", 2, 1, (1, 7, 8, 2), (3, 3, 2, 2)),
    ("SAME", 1, 2, (1, 8, 8, 2), (3, 3, 2, 2)),
    ("VALID", 1, 1, (1, 3, 3, 2), (3, 3, 2, 5)),
]:
    CASES.append(
        Case(
            "Conv2D",
            lambda x, w, p=_pad, s=_stride, d=_dil: raw.Conv2D(
                input=x, filter=w, strides=[1, s, s, 1], padding=p, dilations=[1, d, d, 1]
            ),
            {"x": f32(*_in), "w": f32(*_k)},
            f"{_pad}-s{_stride}-d{_dil}",
            CONTRACTION,
        )
    )
CASES += [
    Case(
        "Conv2D",
        lambda x, w: raw.Conv2D(
            input=x,
            filter=w,
            strides=[1, 1, 2, 1],
            padding="EXPLICIT",
            explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0],
        ),
        {"x": f32(1, 5, 6, 2), "w": f32(2, 3, 2, 3)},
        "explicit",
        CONTRACTION,
    ),
    Case(
        "Conv2D",
        lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME"),
        {"x": rand(F64, 1, 4, 4, 2), "w": rand(F64, 3, 3, 2, 2)},
        "float64",
    ),
    Case(
        "Conv2D",
        lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 1, 1, 1], padding="VALID"),
        {"x": rand(F16, 1, 4, 4, 2, lo=-1, hi=1), "w": rand(F16, 2, 2, 2, 2, lo=-1, hi=1)},
        "float16",
        {"rtol": 5e-3, "atol": 5e-3},
    ),
    Case(
        "Conv2D",
        lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME"),
        {"x": rand(I32, 1, 4, 4, 2, lo=-3, hi=4), "w": rand(I32, 3, 3, 2, 2, lo=-3, hi=4)},
        "int32",
    ),
    Case(
        "Conv2D",
        lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME"),
        {"x": f32(0, 4, 4, 2), "w": f32(3, 3, 2, 2)},
        "empty",
    ),
]
# TensorFlow's CPU kernel has no dilations for the depthwise convolution
for _pad, _stride, _dil, _mult in [
    ("SAME", 1, 1, 1),
    ("VALID", 2, 1, 2),
    ("SAME", 2, 1, 3),
    ("VALID", 1, 1, 2),
]:
    CASES.append(
        Case(
            "DepthwiseConv2dNative",
            lambda x, w, p=_pad, s=_stride, d=_dil: raw.DepthwiseConv2dNative(
                input=x, filter=w, strides=[1, s, s, 1], padding=p, dilations=[1, d, d, 1]
            ),
            {"x": f32(2, 7, 6, 3), "w": f32(3, 3, 3, _mult)},
            f"{_pad}-s{_stride}-d{_dil}-m{_mult}",
            CONTRACTION,
        )
    )
CASES += [
    Case(
        "DepthwiseConv2dNative",
        lambda x, w: raw.DepthwiseConv2dNative(
            input=x,
            filter=w,
            strides=[1, 1, 1, 1],
            padding="EXPLICIT",
            explicit_paddings=[0, 0, 2, 0, 1, 1, 0, 0],
        ),
        {"x": f32(1, 4, 5, 2), "w": f32(3, 3, 2, 1)},
        "explicit",
        CONTRACTION,
    ),
    Case(
        "DepthwiseConv2dNative",
        lambda x, w: raw.DepthwiseConv2dNative(input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME"),
        {"x": rand(F64, 1, 4, 4, 2), "w": rand(F64, 3, 3, 2, 2)},
        "float64",
    ),
]
ARG = {"MaxPool": "input", "AvgPool": "value"}
for _op in ("MaxPool", "AvgPool"):
    fn = getattr(raw, _op)
    for _pad, _k, _s, _in in [
        ("VALID", 2, 2, (2, 6, 6, 3)),
        ("SAME", 3, 2, (1, 7, 6, 2)),
        ("SAME", 3, 1, (1, 5, 5, 2)),
        ("VALID", 3, 2, (1, 7, 8, 1)),
    ]:
        CASES.append(
            Case(
                _op,
                lambda x, fn=fn, p=_pad, k=_k, s=_s, a=ARG[_op]: fn(
                    **{a: x}, ksize=[1, k, k, 1], strides=[1, s, s, 1], padding=p
                ),
                {"x": f32(*_in)},
                f"{_pad}-k{_k}-s{_s}",
                CONTRACTION,
            )
        )
    CASES += [
        Case(
            _op,
            lambda x, fn=fn, a=ARG[_op]: fn(
                **{a: x}, ksize=[1, 2, 3, 1], strides=[1, 1, 2, 1], padding="SAME"
            ),
            {"x": rand(F64, 1, 4, 5, 2)},
            "float64-rect",
        ),
        Case(
            _op,
            lambda x, fn=fn, a=ARG[_op]: fn(
                **{a: x}, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME"
            ),
            {"x": rand(F16, 1, 4, 5, 2)},
            "float16",
        ),
        Case(
            _op,
            lambda x, fn=fn, a=ARG[_op]: fn(
                **{a: x}, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"
            ),
            {"x": f32(0, 4, 4, 2)},
            "empty",
        ),
    ]
CASES += [
    Case(
        "MaxPool",
        lambda x: raw.MaxPool(input=x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME"),
        {"x": rand(I32, 1, 5, 5, 2)},
        "int32",
    ),
    Case(
        "MaxPool",
        lambda x: raw.MaxPool(input=x, ksize=[1, 1, 1, 1], strides=[1, 1, 1, 1], padding="VALID"),
        {"x": f32(1, 3, 3, 2)},
        "k1",
    ),
]
for _op in ("Softmax", "LogSoftmax"):
    fn = getattr(raw, _op)
    CASES += [
        Case(_op, lambda x, fn=fn: fn(logits=x), {"x": f32(3, 5, lo=-5, hi=5)}),
        Case(_op, lambda x, fn=fn: fn(logits=x), {"x": f32(2, 3, 4, lo=-5, hi=5)}, "rank3"),
        Case(_op, lambda x, fn=fn: fn(logits=x), {"x": f32(4, lo=-5, hi=5)}, "rank1"),
        Case(_op, lambda x, fn=fn: fn(logits=x), {"x": rand(F64, 3, 5, lo=-50, hi=50)}, "float64-large"),
        Case(_op, lambda x, fn=fn: fn(logits=x), {"x": rand(F16, 3, 5)}, "float16"),
        Case(_op, lambda x, fn=fn: fn(logits=x), {"x": f32(0, 5)}, "empty"),
        Case(
            _op,
            lambda x, fn=fn: fn(logits=x),
            {"x": np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]], np.float32)},
            "extreme",
        ),
    ]
for _eq, _shapes in [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bnd,bmd->bnm", [(2, 3, 4), (2, 5, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ij->i", [(3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("ii->i", [(4, 4)]),
    ("bij,jk->bik", [(0, 3, 4), (4, 2)]),
]:
    names = [f"x{i}" for i in range(len(_shapes))]
    CASES.append(
        Case(
            "Einsum",
            lambda eq=_eq, **xs: raw.Einsum(inputs=[xs[k] for k in sorted(xs)], equation=eq),
            {n: f32(*s) for n, s in zip(names, _shapes)},
            _eq,
            CONTRACTION,
        )
    )
CASES.append(
    Case(
        "Einsum",
        lambda x0, x1: raw.Einsum(inputs=[x0, x1], equation="ij,jk->ik"),
        {"x0": rand(I32, 2, 3), "x1": rand(I32, 3, 2)},
        "int32",
    )
)
for _op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
    fn = getattr(raw, _op)
    # inference mode only: training mode is refused (test_training_batch_norm_is_refused...)
    for _train, _fmt, _eps in ((False, "NHWC", 1e-3), (False, "NCHW", 1e-5)):
        shape = (2, 3, 4, 5)
        c = shape[3] if _fmt == "NHWC" else shape[1]
        feeds = {
            "x": f32(*shape),
            "s": f32(c),
            "o": f32(c),
            "m": f32(c) if not _train else np.zeros(0, np.float32),
            "v": f32(c, lo=0.5, hi=2) if not _train else np.zeros(0, np.float32),
        }
        CASES.append(
            Case(
                _op,
                lambda x, s, o, m, v, fn=fn, t=_train, f=_fmt, e=_eps: fn(
                    x=x, scale=s, offset=o, mean=m, variance=v, epsilon=e, data_format=f, is_training=t
                )[:3],
                feeds,
                f"{'train' if _train else 'infer'}-{_fmt}",
                CONTRACTION,
            )
        )
    if _op != "FusedBatchNorm":  # V2 and V3 take half inputs with float statistics
        CASES.append(
            Case(
                _op,
                lambda x, s, o, m, v, fn=fn: fn(
                    x=x, scale=s, offset=o, mean=m, variance=v, is_training=False
                )[0],
                {
                    "x": rand(F16, 2, 3, 3, 4),
                    "s": f32(4),
                    "o": f32(4),
                    "m": f32(4),
                    "v": f32(4, lo=0.5, hi=2),
                },
                "float16",
            )
        )

# -- array -----------------------------------------------------------------------------------

CASES += [
    Case("ConcatV2", lambda a, b: raw.ConcatV2(values=[a, b], axis=_c(0)), {"a": f32(2, 3), "b": f32(4, 3)}),
    Case(
        "ConcatV2",
        lambda a, b, c: raw.ConcatV2(values=[a, b, c], axis=_c(-1, np.int64)),
        {"a": rand(I64, 2, 1), "b": rand(I64, 2, 3), "c": rand(I64, 2, 2)},
        "neg-int64",
    ),
    Case(
        "ConcatV2",
        lambda a, b: raw.ConcatV2(values=[a, b], axis=_c(1)),
        {"a": f32(2, 0), "b": f32(2, 3)},
        "empty-piece",
    ),
    Case(
        "ConcatV2",
        lambda a, b: raw.ConcatV2(values=[a, b], axis=_c(0)),
        {"a": rand(BOOL, 2), "b": rand(BOOL, 3)},
        "bool",
    ),
    Case(
        "ConcatV2",
        lambda a, b: raw.ConcatV2(values=[a, b], axis=_c(1)),
        {"a": rand(F16, 1, 2), "b": rand(F16, 1, 2)},
        "float16",
    ),
    Case("ExpandDims", lambda x: raw.ExpandDims(input=x, axis=_c(0)), {"x": f32(3, 4)}),
    Case(
        "ExpandDims",
        lambda x: raw.ExpandDims(input=x, axis=_c(-1, np.int64)),
        {"x": rand(I64, 3)},
        "neg-int64",
    ),
    Case(
        "ExpandDims", lambda x: raw.ExpandDims(input=x, axis=_c([1])), {"x": f32(0, 2)}, "empty-vector-axis"
    ),
    Case("ExpandDims", lambda x: raw.ExpandDims(input=x, axis=_c(-1)), {"x": np.float32(2.0)}, "scalar"),
]
_P = f32(5, 4, 3)
CASES += [
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(0)),
        {"p": _P, "i": rand(I32, 2, 3, lo=0, hi=5)},
        "axis0",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(-1, np.int64)),
        {"p": _P, "i": rand(I64, 4, lo=0, hi=3)},
        "neg-axis-int64",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(1), batch_dims=1),
        {"p": _P, "i": rand(I32, 5, 2, lo=0, hi=4)},
        "batch-dims",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(-1), batch_dims=-1),
        {"p": _P, "i": rand(I32, 5, 4, 2, lo=0, hi=3)},
        "neg-batch-dims",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(2), batch_dims=1),
        {"p": _P, "i": rand(I64, 5, 2, 3, lo=0, hi=3)},
        "batch-dims-middle-int64",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(2), batch_dims=2),
        {"p": f32(2, 3, 4, 5), "i": rand(I32, 2, 3, 6, lo=0, hi=4)},
        "batch-dims-2",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(1), batch_dims=1),
        {"p": _P, "i": rand(I32, 5, lo=0, hi=4)},
        "batch-dims-scalar-ids",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(1), batch_dims=1),
        {"p": f32(0, 4), "i": np.zeros((0, 2), np.int32)},
        "batch-dims-empty",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(0)),
        {"p": _P, "i": np.zeros((0,), np.int32)},
        "empty-indices",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(3)),
        {"p": f32(1, 0, 1, 0), "i": np.zeros((0, 2), np.int32)},
        "empty-params-and-indices",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(0)),
        {"p": rand(I64, 6), "i": np.int32(4)},
        "scalar-index",
    ),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(1)),
        {"p": rand(BOOL, 2, 3), "i": rand(I32, 4, lo=0, hi=3)},
        "bool",
    ),
]
for _axis in (-1, 0, 1):
    CASES.append(
        Case(
            "OneHot",
            lambda i, a=_axis: raw.OneHot(
                indices=i, depth=_c(4), on_value=_c(2.5, np.float32), off_value=_c(-1, np.float32), axis=a
            ),
            {"i": np.array([[0, 3, -1], [2, 4, 1]], np.int32)},
            f"axis{_axis}-out-of-range",
        )
    )
CASES += [
    Case(
        "OneHot",
        lambda i: raw.OneHot(indices=i, depth=_c(3), on_value=_c(1, np.int64), off_value=_c(0, np.int64)),
        {"i": rand(I64, 5, lo=0, hi=3)},
        "int64",
    ),
    Case(
        "OneHot",
        lambda i: raw.OneHot(
            indices=i, depth=_c(3), on_value=_c(True, np.bool_), off_value=_c(False, np.bool_)
        ),
        {"i": rand(np.uint8, 4, lo=0, hi=4)},
        "uint8-bool",
    ),
    Case(
        "OneHot",
        lambda i: raw.OneHot(indices=i, depth=_c(2), on_value=_c(1, np.float32), off_value=_c(0, np.float32)),
        {"i": np.zeros((0,), np.int32)},
        "empty",
    ),
]
CASES += [
    Case("Pack", lambda a, b: raw.Pack(values=[a, b]), {"a": f32(2, 3), "b": f32(2, 3)}),
    Case(
        "Pack",
        lambda a, b: raw.Pack(values=[a, b], axis=-1),
        {"a": rand(I64, 2), "b": rand(I64, 2)},
        "neg-int64",
    ),
    Case("Pack", lambda a: raw.Pack(values=[a], axis=1), {"a": rand(BOOL, 0, 2)}, "empty-bool"),
    Case("Pack", lambda a, b: raw.Pack(values=[a, b]), {"a": np.float32(1), "b": np.float32(2)}, "scalars"),
    Case("Pad", lambda x: raw.Pad(input=x, paddings=_c([[1, 2], [0, 3]])), {"x": f32(3, 4)}),
    Case(
        "Pad",
        lambda x: raw.Pad(input=x, paddings=_c([[0, 0], [2, 1]], np.int64)),
        {"x": rand(I32, 2, 2)},
        "int64-pads",
    ),
    Case("Pad", lambda x: raw.Pad(input=x, paddings=_c([[1, 1]])), {"x": f32(0)}, "empty"),
    Case(
        "PadV2",
        lambda x: raw.PadV2(input=x, paddings=_c([[1, 0], [2, 2]]), constant_values=_c(-3.5, np.float32)),
        {"x": f32(2, 3)},
    ),
    Case(
        "PadV2",
        lambda x: raw.PadV2(input=x, paddings=_c([[0, 2]], np.int64), constant_values=_c(7, np.int64)),
        {"x": rand(I64, 3)},
        "int64",
    ),
    Case("Range", lambda: raw.Range(start=_c(2), limit=_c(11), delta=_c(3)), {}, "int32"),
    Case(
        "Range",
        lambda: raw.Range(start=_c(5, np.int64), limit=_c(-3, np.int64), delta=_c(-2, np.int64)),
        {},
        "int64-negative",
    ),
    Case(
        "Range",
        lambda: raw.Range(start=_c(0.5, np.float32), limit=_c(2.0, np.float32), delta=_c(0.25, np.float32)),
        {},
        "float32",
    ),
    Case("Range", lambda: raw.Range(start=_c(3), limit=_c(3), delta=_c(1)), {}, "empty"),
    Case(
        "Range",
        lambda: raw.Range(start=_c(0.0, np.float32), limit=_c(0.3, np.float32), delta=_c(0.1, np.float32)),
        {},
        "float32-size-in-float32",
    ),
    Case(
        "Range",
        lambda: raw.Range(start=_c(0.3, np.float32), limit=_c(100.0, np.float32), delta=_c(0.1, np.float32)),
        {},
        "float32-values-exact",
        {"rtol": 0.0, "atol": 0.0},
    ),
    Case("Range", lambda: raw.Range(start=_c(-7), limit=_c(8), delta=_c(4)), {}, "int32-uneven"),
    Case(
        "Range",
        lambda: raw.Range(start=_c(0.0, np.float64), limit=_c(1.0, np.float64), delta=_c(0.3, np.float64)),
        {},
        "float64",
    ),
    Case("Rank", lambda x: raw.Rank(input=x), {"x": f32(2, 3, 4)}),
    Case("Rank", lambda x: raw.Rank(input=x), {"x": np.int64(3)}, "scalar"),
    Case("Reshape", lambda x: raw.Reshape(tensor=x, shape=_c([4, -1])), {"x": f32(2, 3, 4)}),
    Case(
        "Reshape",
        lambda x: raw.Reshape(tensor=x, shape=_c([-1], np.int64)),
        {"x": rand(I64, 2, 3)},
        "flatten-int64",
    ),
    Case("Reshape", lambda x: raw.Reshape(tensor=x, shape=_c([3, 0])), {"x": f32(0, 3)}, "empty"),
    Case("Reshape", lambda x: raw.Reshape(tensor=x, shape=_c([], np.int32)), {"x": f32(1, 1)}, "to-scalar"),
    Case("Shape", lambda x: raw.Shape(input=x), {"x": f32(2, 3, 4)}),
    Case("Shape", lambda x: raw.Shape(input=x, out_type=tf.int64), {"x": f32(0, 3)}, "int64-empty"),
    Case("Shape", lambda x: raw.Shape(input=x), {"x": np.float32(1)}, "scalar"),
    Case("Size", lambda x: raw.Size(input=x), {"x": f32(2, 3, 4)}),
    Case("Size", lambda x: raw.Size(input=x, out_type=tf.int64), {"x": f32(0, 3)}, "int64-empty"),
    Case("Slice", lambda x: raw.Slice(input=x, begin=_c([1, 0]), size=_c([2, -1])), {"x": f32(4, 5)}),
    Case(
        "Slice",
        lambda x: raw.Slice(input=x, begin=_c([0, 2, 1], np.int64), size=_c([1, 2, 1], np.int64)),
        {"x": rand(I64, 2, 4, 3)},
        "int64",
    ),
    Case("Slice", lambda x: raw.Slice(input=x, begin=_c([1, 0]), size=_c([0, 3])), {"x": f32(3, 3)}, "empty"),
    Case("Split", lambda x: raw.Split(axis=_c(1), value=x, num_split=2), {"x": f32(3, 4)}),
    Case(
        "Split", lambda x: raw.Split(axis=_c(-1), value=x, num_split=3), {"x": rand(I64, 2, 6)}, "neg-int64"
    ),
    Case("Split", lambda x: raw.Split(axis=_c(0), value=x, num_split=1), {"x": f32(0, 2)}, "empty-one"),
    Case(
        "SplitV",
        lambda x: raw.SplitV(value=x, size_splits=_c([1, -1, 2]), axis=_c(1), num_split=3),
        {"x": f32(2, 6)},
    ),
    Case(
        "SplitV",
        lambda x: raw.SplitV(value=x, size_splits=_c([2, 0, 1], np.int64), axis=_c(-2), num_split=3),
        {"x": rand(I32, 3, 2)},
        "int64-zero-piece",
    ),
    Case("Squeeze", lambda x: raw.Squeeze(input=x), {"x": f32(1, 3, 1, 2)}, "all"),
    Case("Squeeze", lambda x: raw.Squeeze(input=x, axis=[-2]), {"x": f32(1, 3, 1, 2)}, "neg"),
    Case("Squeeze", lambda x: raw.Squeeze(input=x, axis=[0]), {"x": rand(BOOL, 1, 0)}, "empty"),
    Case("Tile", lambda x: raw.Tile(input=x, multiples=_c([2, 3])), {"x": f32(2, 3)}),
    Case(
        "Tile",
        lambda x: raw.Tile(input=x, multiples=_c([0, 2], np.int64)),
        {"x": rand(I64, 2, 1)},
        "zero-int64",
    ),
    Case("Tile", lambda x: raw.Tile(input=x, multiples=_c([3])), {"x": f32(0)}, "empty"),
    Case("Transpose", lambda x: raw.Transpose(x=x, perm=_c([2, 0, 1])), {"x": f32(2, 3, 4)}),
    Case(
        "Transpose",
        lambda x: raw.Transpose(x=x, perm=_c([1, 0], np.int64)),
        {"x": rand(I64, 0, 3)},
        "int64-empty",
    ),
    Case("Transpose", lambda x: raw.Transpose(x=x, perm=_c([], np.int32)), {"x": np.float32(3)}, "scalar"),
    Case("Unpack", lambda x: raw.Unpack(value=x, num=3), {"x": f32(3, 2)}),
    Case("Unpack", lambda x: raw.Unpack(value=x, num=2, axis=-1), {"x": rand(I64, 4, 2)}, "neg-int64"),
    Case("Unpack", lambda x: raw.Unpack(value=x, num=2, axis=1), {"x": f32(0, 2)}, "empty"),
    Case("ZerosLike", lambda x: raw.ZerosLike(x=x), {"x": rand(BOOL, 2, 2)}, "bool"),
    Case("ZerosLike", lambda x: raw.ZerosLike(x=x), {"x": rand(F16, 3)}, "float16"),
    Case("OnesLike", lambda x: raw.OnesLike(x=x), {"x": rand(I32, 2, 2)}, "int32"),
    Case("OnesLike", lambda x: raw.OnesLike(x=x), {"x": rand(BOOL, 3)}, "bool"),
    Case(
        "BroadcastTo",
        lambda x: raw.BroadcastTo(input=x, shape=_c([2, 2, 3], np.int64)),
        {"x": rand(BOOL, 3)},
        "bool",
    ),
    Case("Fill", lambda v: raw.Fill(dims=_c([2]), value=v), {"v": np.bool_(True)}, "bool"),
]
_SS = f32(4, 5, 6)
# (begin, end, strides, masks): begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask
for _b, _e, _s, _m, _tag in [
    ([1, 0, 2], [3, 5, 6], [1, 2, 1], (0, 0, 0, 0, 0), "plain"),
    ([-1, 0, 0], [-4, 5, 6], [-1, 1, 2], (0, 0, 0, 0, 0), "negative-stride"),
    ([0, 1, 0], [0, 4, 0], [1, 1, 1], (0b101, 0b101, 0, 0, 0), "masks"),
    ([1, 2], [2, 3], [1, 1], (0, 0, 0, 0, 0b01), "shrink"),
    ([0, 1], [0, 3], [1, 1], (0, 0, 0b01, 0, 0), "ellipsis"),
    ([0, 0, 1], [0, 0, 3], [1, 1, 1], (0b011, 0b011, 0, 0b010, 0), "new-axis"),
    ([-2, 10, -100], [100, -10, 100], [1, -1, 3], (0, 0, 0, 0, 0), "clamped"),
    ([3, 0, 0], [1, 5, 6], [1, 1, 1], (0, 0, 0, 0, 0), "empty"),
    ([-1], [0], [1], (0, 0, 0, 0, 0b1), "shrink-negative"),
]:
    CASES.append(
        Case(
            "StridedSlice",
            lambda x, b=_b, e=_e, s=_s, m=_m: raw.StridedSlice(
                input=x,
                begin=_c(b),
                end=_c(e),
                strides=_c(s),
                begin_mask=m[0],
                end_mask=m[1],
                ellipsis_mask=m[2],
                new_axis_mask=m[3],
                shrink_axis_mask=m[4],
            ),
            {"x": _SS},
            _tag,
        )
    )
for _b, _e, _s, _m, _tag in [
    ([0, 0, 0], [0, 0, 0], [-1, -1, -1], (0b111, 0b111, 0, 0, 0), "reverse-all"),
    ([0, -1, 0], [0, 0, 0], [1, 1, 1], (0b101, 0b101, 0b001, 0, 0b010), "ellipsis-shrink-last"),
    (
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [1, 1, 1, 1],
        (0b1111, 0b1111, 0b0010, 0b0101, 0),
        "new-axes-around-ellipsis",
    ),
    ([1, -2], [0, 0], [2, -2], (0, 0b11, 0, 0, 0), "end-mask-negative-stride"),
]:
    CASES.append(
        Case(
            "StridedSlice",
            lambda x, b=_b, e=_e, s=_s, m=_m: raw.StridedSlice(
                input=x,
                begin=_c(b),
                end=_c(e),
                strides=_c(s),
                begin_mask=m[0],
                end_mask=m[1],
                ellipsis_mask=m[2],
                new_axis_mask=m[3],
                shrink_axis_mask=m[4],
            ),
            {"x": _SS},
            _tag,
        )
    )
for _eq, _shapes in [
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("bij->bji", [(2, 3, 4)]),
    ("ijk->", [(2, 3, 4)]),
]:
    names = [f"x{i}" for i in range(len(_shapes))]
    CASES.append(
        Case(
            "Einsum",
            lambda eq=_eq, **xs: raw.Einsum(inputs=[xs[k] for k in sorted(xs)], equation=eq),
            {n: f32(*s) for n, s in zip(names, _shapes)},
            _eq,
            CONTRACTION,
        )
    )
CASES += [
    Case(
        "DepthwiseConv2dNative",
        lambda x, w: raw.DepthwiseConv2dNative(input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME"),
        {"x": rand(F16, 1, 4, 4, 2, lo=-1, hi=1), "w": rand(F16, 3, 3, 2, 1, lo=-1, hi=1)},
        "float16",
        {"rtol": 5e-3, "atol": 5e-3},
    ),
    Case(
        "OneHot",
        lambda i: raw.OneHot(
            indices=i, depth=_c(0), on_value=_c(1.0, np.float32), off_value=_c(0.0, np.float32)
        ),
        {"i": rand(I32, 3, lo=0, hi=2)},
        "depth0",
    ),
    Case(
        "Range",
        lambda: raw.Range(start=_c(1.0, np.float32), limit=_c(-1.0, np.float32), delta=_c(-0.3, np.float32)),
        {},
        "float32-negative",
    ),
    Case(
        "Pack", lambda a, b: raw.Pack(values=[a, b], axis=-2), {"a": f32(2, 3), "b": f32(2, 3)}, "neg-middle"
    ),
    Case(
        "Slice",
        lambda x: raw.Slice(input=x, begin=_c([1], np.int64), size=_c([-1], np.int64)),
        {"x": rand(BOOL, 4)},
        "int64-rest-bool",
    ),
    Case(
        "SplitV",
        lambda x: raw.SplitV(value=x, size_splits=_c([-1, 2], np.int64), axis=_c(0), num_split=2),
        {"x": f32(5)},
        "int64-inferred-piece",
    ),
]
CASES.append(
    Case(
        "StridedSlice",
        lambda x: raw.StridedSlice(
            input=x, begin=_c([0, 1], np.int64), end=_c([2, 3], np.int64), strides=_c([1, 1], np.int64)
        ),
        {"x": rand(I64, 3, 4)},
        "int64",
    )
)

# -- control flow: TensorLists, loops and conditionals ----------------------------------------

_XS = f32(5, 3)


def _from_tensor(x: Any) -> Any:
    return raw.TensorListFromTensor(tensor=x, element_shape=_c([3]))


CASES += [
    Case(
        "TensorListFromTensor",
        lambda x: raw.TensorListStack(
            input_handle=_from_tensor(x), element_shape=_c([3]), element_dtype=tf.float32
        ),
        {"x": _XS},
        "stack",
    ),
    Case(
        "TensorListStack",
        lambda x: raw.TensorListStack(
            input_handle=raw.TensorListFromTensor(tensor=x, element_shape=_c([2, 2], np.int64)),
            element_shape=_c([2, 2]),
            element_dtype=tf.int64,
            num_elements=4,
        ),
        {"x": rand(I64, 4, 2, 2)},
        "int64",
    ),
    Case(
        "TensorListGetItem",
        lambda x: raw.TensorListGetItem(
            input_handle=_from_tensor(x), index=_c(-1 + 5), element_shape=_c([3]), element_dtype=tf.float32
        ),
        {"x": _XS},
    ),
    Case(
        "TensorListSetItem",
        lambda x, v: raw.TensorListStack(
            input_handle=raw.TensorListSetItem(input_handle=_from_tensor(x), index=_c(2), item=v),
            element_shape=_c([3]),
            element_dtype=tf.float32,
        ),
        {"x": _XS, "v": f32(3)},
    ),
    Case(
        "TensorListReserve",
        lambda v: raw.TensorListStack(
            input_handle=raw.TensorListSetItem(
                input_handle=raw.TensorListReserve(
                    element_shape=_c([3]), num_elements=_c(4), element_dtype=tf.float32
                ),
                index=_c(1),
                item=v,
            ),
            element_shape=_c([3]),
            element_dtype=tf.float32,
            num_elements=4,
        ),
        {"v": f32(3)},
    ),
    Case("TensorListLength", lambda x: raw.TensorListLength(input_handle=_from_tensor(x)), {"x": _XS}),
    Case(
        "TensorListElementShape",
        lambda x: raw.TensorListElementShape(input_handle=_from_tensor(x), shape_type=tf.int32),
        {"x": _XS},
    ),
    Case(
        "TensorListElementShape",
        lambda x: raw.TensorListElementShape(
            input_handle=raw.TensorListFromTensor(tensor=x, element_shape=_c([2, 3], np.int64)),
            shape_type=tf.int64,
        ),
        {"x": f32(4, 2, 3)},
        "int64",
    ),
]


def _sum_loop(x: Any, xs: Any) -> Any:
    """acc += xs[i] while i < len(xs): a While over a TensorList the loop reads."""
    ta = tf.TensorArray(tf.float32, size=5, element_shape=[3]).unstack(xs)

    def body(i: Any, acc: Any) -> tuple[Any, Any]:
        return i + 1, acc * 0.5 + ta.read(i)

    return tf.while_loop(lambda i, acc: i < 5, body, [tf.constant(0), x])[1]


def _cond(p: Any, x: Any) -> Any:
    return tf.cond(p, lambda: x * 2.0, lambda: x + 1.0)


for _p in (True, False):
    for _op, _rename in (("StatelessIf", {}), ("If", {"StatelessIf": "If"})):
        CASES.append(
            Case(_op, _cond, {"p": np.bool_(_p), "x": f32(3, 4)}, "then" if _p else "else", rename=_rename)
        )
CASES += [
    Case("StatelessWhile", _sum_loop, {"x": f32(3), "xs": _XS}),
    Case("While", _sum_loop, {"x": f32(3), "xs": _XS}, rename={"StatelessWhile": "While"}),
    Case(
        "StatelessWhile",
        lambda n, x: tf.while_loop(
            lambda i, a: i < n, lambda i, a: (i + 1, a * 1.5 - 1.0), [tf.constant(0), x]
        )[1],
        {"n": np.int32(0), "x": f32(2, 2)},
        "zero-trips",
    ),
    Case(
        "StatelessWhile",
        lambda n, x: tf.while_loop(
            lambda i, a: i < n, lambda i, a: (i + 1, a + tf.cast(i, tf.int64)), [tf.constant(0), x]
        )[1],
        {"n": np.int32(7), "x": rand(I64, 3)},
        "fed-trip-count-int64",
    ),
]


# -- more edge cases: rounding casts, windows with even kernels, extreme inputs -------------------

_H = lambda *shape, lo=-2.0, hi=2.0: rand(F16, *shape, lo=lo, hi=hi)
CASES += [
    Case(
        "BiasAdd",
        lambda x, b: raw.BiasAdd(value=x, bias=b, data_format="NCHW"),
        {"x": f32(2, 3, 4), "b": f32(3)},
        "NCHW-rank3",
    ),
    Case("Squeeze", lambda x: raw.Squeeze(input=x), {"x": f32(1, 1)}, "to-scalar"),
    Case("Slice", lambda x: raw.Slice(input=x, begin=_c([4]), size=_c([-1])), {"x": f32(4)}, "at-end"),
    Case(
        "StridedSlice",
        lambda x: raw.StridedSlice(
            input=x, begin=_c([-(2**40)], I64), end=_c([2**62], I64), strides=_c([2], I64)
        ),
        {"x": f32(7)},
        "int64-huge-bounds",
    ),
    Case(
        "Transpose",
        lambda x: raw.Transpose(x=x, perm=_c([4, 2, 0, 3, 1])),
        {"x": f32(2, 1, 3, 2, 2)},
        "rank5",
    ),
    Case("Split", lambda x: raw.Split(axis=_c(0), value=x, num_split=2), {"x": f32(0, 4)}, "empty-axis"),
    Case(
        "GatherV2",
        lambda p, i: raw.GatherV2(params=p, indices=i, axis=_c(1, I64)),
        {"p": f32(3, 4), "i": np.array([3, 0], I64)},
        "int64-axis",
    ),
    Case("ExpandDims", lambda x: raw.ExpandDims(input=x, axis=_c(2)), {"x": f32(2, 3)}, "append"),
    Case(
        "Einsum",
        lambda a, b: raw.Einsum(inputs=[a, b], equation="ij,jk->ik"),
        {"a": rand(I64, 2, 3, lo=-5, hi=5), "b": rand(I64, 3, 2, lo=-5, hi=5)},
        "int64",
    ),
    Case(
        "Einsum",
        lambda a, b: raw.Einsum(inputs=[a, b], equation="...ij,...jk->...ik"),
        {"a": f32(2, 1, 3, 4), "b": f32(5, 4, 2)},
        "ellipsis-broadcast",
        CONTRACTION,
    ),
    Case(
        "Pow",
        lambda x, y: raw.Pow(x=x, y=y),
        {"x": np.array([0.5, 2, 4], F16), "y": np.array([-2, -1.5, -0.5], F16)},
        "float16-negative-exponent",
    ),
    Case(
        "Pow",
        lambda x, y: raw.Pow(x=x, y=y),
        {"x": np.array([2, 3, -2, 0], I64), "y": np.array([62, 39, 63, 0], I64)},
        "int64-overflow",
    ),
    Case(
        "SquaredDifference",
        lambda x, y: raw.SquaredDifference(x=x, y=y),
        {"x": np.array([2**20, -5], I32), "y": np.array([-(2**20), 5], I32)},
        "int32-overflow",
    ),
    Case(
        "Cumsum",
        lambda x: raw.Cumsum(x=x, axis=_c(0)),
        {"x": np.array([1, 2**31 - 1, 5], I32)},
        "int32-overflow",
    ),
    Case(
        "Mean",
        lambda x: raw.Mean(input=x, axis=_c([0])),
        {"x": np.array([[-7], [2]], I32)},
        "int32-truncates",
    ),
    Case("Abs", lambda x: raw.Abs(x=x), {"x": np.array([-0.0, np.nan, -np.inf], F32)}, "negative-zero"),
    Case(
        "MatMul",
        lambda a, b: raw.MatMul(a=a, b=b, transpose_a=True, transpose_b=True),
        {"a": rand(I64, 3, 2, lo=-5, hi=5), "b": rand(I64, 4, 3, lo=-5, hi=5)},
        "int64-transposed",
    ),
    Case(
        "BatchMatMulV2",
        lambda x, y: raw.BatchMatMulV2(x=x, y=y),
        {"x": f32(3, 4), "y": f32(2, 4, 5)},
        "rank2-rank3",
        CONTRACTION,
    ),
    Case(
        "Conv2D",
        lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 2, 2, 1], padding="SAME"),
        {"x": f32(1, 7, 9, 2), "w": f32(2, 4, 2, 3)},
        "SAME-even-kernel",
        CONTRACTION,
    ),
    Case(
        "DepthwiseConv2dNative",
        lambda x, w: raw.DepthwiseConv2dNative(input=x, filter=w, strides=[1, 3, 3, 1], padding="SAME"),
        {"x": f32(1, 7, 8, 2), "w": f32(2, 2, 2, 2)},
        "SAME-even-kernel",
        CONTRACTION,
    ),
    Case(
        "MaxPool",
        lambda x: raw.MaxPool(input=x, ksize=[1, 2, 4, 1], strides=[1, 3, 2, 1], padding="SAME"),
        {"x": f32(1, 7, 9, 2)},
        "SAME-even-kernel",
    ),
    Case(
        "MaxPool",
        lambda x: raw.MaxPool(input=x, ksize=[1, 5, 5, 1], strides=[1, 3, 3, 1], padding="SAME"),
        {"x": f32(1, 4, 4, 2)},
        "SAME-window-over-input",
    ),
    Case(
        "AvgPool",
        lambda x: raw.AvgPool(value=x, ksize=[1, 2, 4, 1], strides=[1, 3, 2, 1], padding="SAME"),
        {"x": f32(1, 7, 9, 2)},
        "SAME-even-kernel",
        CONTRACTION,
    ),
    Case(
        "AvgPool",
        lambda x: raw.AvgPool(value=x, ksize=[1, 3, 3, 1], strides=[1, 1, 1, 1], padding="SAME"),
        {"x": _H(1, 4, 4, 2)},
        "float16-SAME",
    ),
    Case(
        "Softmax",
        lambda x: raw.Softmax(logits=x),
        {"x": np.array([[-np.inf, -np.inf, 0.0]], F16)},
        "float16-inf",
    ),
    Case(
        "Softmax",
        lambda x: raw.Softmax(logits=x),
        {"x": np.array([[-np.inf, -np.inf], [np.inf, np.inf]], F32)},
        "all-inf",
    ),
    Case(
        "LogSoftmax",
        lambda x: raw.LogSoftmax(logits=x),
        {"x": np.array([[-np.inf, 0.0], [np.inf, 1.0], [-np.inf, -np.inf]], F32)},
        "inf",
    ),
    Case(
        "FusedBatchNormV3",
        lambda x, s, o, m, v: raw.FusedBatchNormV3(
            x=x, scale=s, offset=o, mean=m, variance=v, is_training=False, epsilon=0.001
        )[0],
        {"x": f32(1, 2, 2, 3), "s": f32(3), "o": f32(3), "m": f32(3), "v": np.zeros(3, F32)},
        "zero-variance",
    ),
    Case(
        "Range",
        lambda: raw.Range(start=_c(0.0, F32), limit=_c(1.0, F32), delta=_c(0.1, F32)),
        {},
        "float32-tenths",
    ),
]
for _dt, _values in (
    (F64, [65520.0, 65519.0, 1e-8, 2049.0, 2051.0, -1e6]),
    (F32, [65520.0, 65519.0, 1e-8, 2049.0, 2051.0, 6e-8, 3e-8]),
    (I64, [2**40, -3, 70000]),
    (BOOL, [True, False]),
):
    CASES.append(
        Case(
            "Cast",
            lambda x: raw.Cast(x=x, DstT=tf.float16),
            {"x": np.array(_values, _dt)},
            f"{_name(_dt)}-to-float16-rounding",
        )
    )
CASES += [
    Case(
        "Cast",
        lambda x: raw.Cast(x=x, DstT=tf.bool),
        {"x": np.array([0, -0.0, 0.1, np.nan], F16)},
        "float16-to-bool",
    ),
    Case(
        "Cast",
        lambda x: raw.Cast(x=x, DstT=tf.int32),
        {"x": np.array([-2.9, 2.9, -0.0, 1e9], F64)},
        "float64-to-int32",
    ),
    Case(
        "Cast",
        lambda x: raw.Cast(x=x, DstT=tf.float32),
        {"x": np.array([2**24 + 1, 2**53 + 1, -(2**63)], I64)},
        "int64-to-float32-rounding",
    ),
    Case(
        "Cast",
        lambda x: raw.Cast(x=x, DstT=tf.float32),
        {"x": np.array([2**24 + 1, 2**31 - 1], I32)},
        "int32-to-float32-rounding",
    ),
]
for _op, _lo, _hi in (("Erf", -6, 6), ("Erfc", -2, 10), ("Tanh", -10, 10), ("Sigmoid", -90, 90)):
    fn = getattr(raw, _op)
    CASES.append(Case(_op, lambda x, fn=fn: fn(x=x), {"x": np.linspace(_lo, _hi, 201).astype(F32)}, "sweep"))
for _op, _lo, _hi in (("Selu", -10, 10), ("Elu", -10, 10), ("Softplus", -30, 30)):
    fn = getattr(raw, _op)
    CASES.append(
        Case(_op, lambda x, fn=fn: fn(features=x), {"x": np.linspace(_lo, _hi, 201).astype(F32)}, "sweep")
    )
    CASES.append(
        Case(
            _op,
            lambda x, fn=fn: fn(features=x),
            {"x": np.linspace(_lo, _hi, 61).astype(F16)},
            "float16-sweep",
        )
    )
CASES += [
    Case(
        "Expm1",
        lambda x: raw.Expm1(x=x),
        {"x": np.array([1e-10, -1e-10, 1e-5, 88.0, -100], F32)},
        "tiny-and-large",
    ),
    Case(
        "Log1p",
        lambda x: raw.Log1p(x=x),
        {"x": np.array([1e-10, -1e-10, -1.0, -1.5, 1e30], F32)},
        "tiny-and-domain",
    ),
    Case("Exp", lambda x: raw.Exp(x=x), {"x": np.array([-87.5, -103.0, 88.7, 89.0], F32)}, "range-edges"),
    Case(
        "Relu6",
        lambda x: raw.Relu6(features=x),
        {"x": np.array([-np.inf, np.nan, 7, np.inf, -0.0], F16)},
        "float16-special",
    ),
    Case(
        "Elu",
        lambda x: raw.Elu(features=x),
        {"x": np.array([-np.inf, np.nan, -20, np.inf, -0.0], F16)},
        "float16-special",
    ),
    Case(
        "Round",
        lambda x: raw.Round(x=x),
        {"x": np.array([2.5, -2.5, 1e20, 0.5000001], F64)},
        "float64-half-to-even",
    ),
    Case(
        "FloorMod",
        lambda x, y: raw.FloorMod(x=x, y=y),
        {
            "x": np.array([5.5, -5.5, np.inf, 3.0, -0.0], F32),
            "y": np.array([np.inf, np.inf, 2.0, -0.0, 3.0], F32),
        },
        "special",
    ),
]

# -- more cases for ops with few: lists, loops, logic, padding, rank and size ---------------------


def _list_of(x: Any, shape: list[int], dtype: Any = I32) -> Any:
    return raw.TensorListFromTensor(tensor=x, element_shape=_c(shape, dtype))


CASES += [
    Case(
        "TensorListFromTensor",
        lambda x: raw.TensorListStack(
            input_handle=_list_of(x, [2, 3], I64), element_shape=_c([2, 3]), element_dtype=tf.int32
        ),
        {"x": rand(I32, 4, 2, 3)},
        "int32-rank2-elements",
    ),
    Case(
        "TensorListGetItem",
        lambda x, i: raw.TensorListGetItem(
            input_handle=_list_of(x, [2]), index=i, element_shape=_c([2]), element_dtype=tf.bool
        ),
        {"x": rand(BOOL, 3, 2), "i": np.int32(1)},
        "bool-fed-index",
    ),
    Case(
        "TensorListSetItem",
        lambda x, v, i: raw.TensorListStack(
            input_handle=raw.TensorListSetItem(input_handle=_list_of(x, [3]), index=i, item=v),
            element_shape=_c([3]),
            element_dtype=tf.int64,
        ),
        {"x": rand(I64, 4, 3), "v": rand(I64, 3), "i": np.int32(0)},
        "int64-fed-index",
    ),
    Case(
        "TensorListReserve",
        lambda: raw.TensorListLength(
            input_handle=raw.TensorListReserve(
                element_shape=_c([2], I64), num_elements=_c(6), element_dtype=tf.float32
            )
        ),
        {},
        "length",
    ),
    Case(
        "TensorListLength",
        lambda x: raw.TensorListLength(input_handle=_list_of(x, [2])),
        {"x": f32(0, 2)},
        "empty",
    ),
    Case(
        "TensorListStack",
        lambda x: raw.TensorListStack(
            input_handle=_list_of(x, [3]), element_shape=_c([-1]), element_dtype=tf.float16
        ),
        {"x": rand(F16, 2, 3)},
        "float16-unknown-element-shape",
    ),
    Case(
        "While",
        lambda x: tf.while_loop(
            lambda i, a, b: i < 4, lambda i, a, b: (i + 1, a + b, b * 2), [tf.constant(0), x, tf.ones_like(x)]
        )[1:],
        {"x": f32(2, 3)},
        "three-carries",
        rename={"StatelessWhile": "While"},
    ),
    Case(
        "StatelessIf",
        lambda p, x: tf.cond(p, lambda: (x * 2, x - 1), lambda: (x + 1, x * x)),
        {"p": np.bool_(False), "x": rand(I64, 3)},
        "int64-two-outputs",
    ),
    Case(
        "LogicalAnd",
        lambda x, y: raw.LogicalAnd(x=x, y=y),
        {"x": np.bool_(True), "y": rand(BOOL, 4)},
        "scalar",
    ),
    Case(
        "LogicalOr",
        lambda x, y: raw.LogicalOr(x=x, y=y),
        {"x": rand(BOOL, 2, 1), "y": np.bool_(False)},
        "scalar",
    ),
    Case("LogicalNot", lambda x: raw.LogicalNot(x=x), {"x": np.bool_(False)}, "scalar"),
    Case(
        "PadV2",
        lambda x: raw.PadV2(input=x, paddings=_c([[1, 1], [0, 0]]), constant_values=_c(True, BOOL)),
        {"x": rand(BOOL, 2, 2)},
        "bool",
    ),
    Case(
        "PadV2",
        lambda x: raw.PadV2(input=x, paddings=_c([[2, 0]]), constant_values=_c(np.inf, F16)),
        {"x": rand(F16, 0)},
        "float16-empty",
    ),
    Case("Pad", lambda x: raw.Pad(input=x, paddings=_c([[1, 0], [0, 2]])), {"x": rand(F16, 2, 2)}, "float16"),
    Case("Rank", lambda x: raw.Rank(input=x), {"x": rand(BOOL, 0, 2, 1)}, "empty-bool"),
    Case("Size", lambda x: raw.Size(input=x), {"x": np.int64(3)}, "scalar"),
    Case("Size", lambda x: raw.Size(input=x, out_type=tf.int64), {"x": rand(F16, 3, 5)}, "float16-int64"),
    Case(
        "FusedBatchNorm",
        lambda x, s, o, m, v: raw.FusedBatchNorm(
            x=x, scale=s, offset=o, mean=m, variance=v, is_training=False
        )[0],
        {"x": f32(0, 2, 2, 3), "s": f32(3), "o": f32(3), "m": f32(3), "v": f32(3, lo=0.5, hi=2)},
        "empty-batch",
    ),
]

# ================================================================================================
# The long tail's later additions (fourier/ops/longtail.py), quantization simulation
# (fourier/ops/quant.py) and random numbers (fourier/ops/random.py), in one block.


def _rand_int(*shape: int, lo: int = -9, hi: int = 10, dtype: Any = I32) -> np.ndarray:
    return rand(dtype, *shape, lo=lo, hi=hi)


# -- more of the long tail: ReverseSequence, the older MatrixDiag* forms, PopulationCount, sorted
# segments, TensorScatter*, Bincount; quantization simulation (quant.py); random numbers (random.py)

_SEG_IDS = np.array([0, 0, 2, 2, 2, 3, 5], np.int32)  # segments 1 and 4 empty
for _kind in ("Mean", "Max", "Min", "Prod"):
    _fn = getattr(raw, f"Segment{_kind}")
    CASES += [
        Case(
            f"Segment{_kind}",
            lambda d, fn=_fn: fn(data=d, segment_ids=_c(_SEG_IDS)),
            {"d": f32(7, 3)},
            "empty-segments",
        ),
        Case(
            f"Segment{_kind}",
            lambda d, fn=_fn: fn(data=d, segment_ids=_c(_SEG_IDS, np.int64)),
            {"d": _rand_int(7, lo=-50, hi=50, dtype=np.int64)},
            "int64",
        ),
        Case(
            f"Segment{_kind}",
            lambda d, fn=_fn: fn(data=d, segment_ids=_c(np.zeros(0), np.int32)),
            {"d": f32(0, 2)},
            "empty",
        ),
        Case(
            f"Segment{_kind}",
            lambda d, fn=_fn: fn(data=d, segment_ids=_c([0, 1, 1])),
            {"d": _rand_int(3, 2, 2, lo=-7, hi=8)},
            "int32-rank3",
        ),
    ]
CASES.append(
    Case(
        "SegmentMean",
        lambda d: raw.SegmentMean(data=d, segment_ids=_c([0, 0, 1])),
        {"d": f32(3).astype(np.float64)},
        "float64",
    )
)

_TS_IDX = np.array([[1, 0], [3, 2], [0, 1]], np.int32)
for _kind in ("Update", "Add", "Sub", "Max", "Min"):
    _fn = getattr(raw, f"TensorScatter{_kind}")
    CASES += [
        Case(
            f"TensorScatter{_kind}",
            lambda x, u, fn=_fn: fn(tensor=x, indices=_c(_TS_IDX), updates=u),
            {"x": f32(4, 3, 2), "u": f32(3, 2)},
        ),
        Case(
            f"TensorScatter{_kind}",
            lambda x, u, fn=_fn: fn(tensor=x, indices=_c([[2], [0]], np.int64), updates=u),
            {"x": _rand_int(4, 3, dtype=np.int64), "u": _rand_int(2, 3, dtype=np.int64)},
            "int64-rows",
        ),
        Case(
            f"TensorScatter{_kind}",
            lambda x, u, fn=_fn: fn(tensor=x, indices=_c(np.zeros((0, 1))), updates=u),
            {"x": f32(4, 3), "u": f32(0, 3)},
            "no-updates",
        ),
    ]
for _kind in ("Add", "Sub", "Max", "Min"):  # duplicates combine (Update's winner is unspecified)
    _fn = getattr(raw, f"TensorScatter{_kind}")
    CASES.append(
        Case(
            f"TensorScatter{_kind}",
            lambda x, u, fn=_fn: fn(tensor=x, indices=_c([[1], [1], [3]]), updates=u),
            {"x": _rand_int(5, lo=-5, hi=5), "u": _rand_int(3, lo=-5, hi=5)},
            "duplicates-int32",
        )
    )

CASES += [
    Case(
        "ReverseSequence",
        lambda x: raw.ReverseSequence(
            input=x, seq_lengths=_c([3, 0, 5, 1], np.int64), seq_dim=1, batch_dim=0
        ),
        {"x": f32(4, 5, 2)},
    ),
    Case(
        "ReverseSequence",
        lambda x: raw.ReverseSequence(input=x, seq_lengths=_c([2, 3, 1]), seq_dim=0, batch_dim=1),
        {"x": _rand_int(4, 3, dtype=np.int64)},
        "seq-first",
    ),
    Case(
        "ReverseSequence",
        lambda x: raw.ReverseSequence(input=x, seq_lengths=_c([2, 3]), seq_dim=2, batch_dim=1),
        {"x": f32(3, 2, 4).astype(np.float16)},
        "float16-middle-batch",
    ),
    Case(
        "ReverseSequence",
        lambda x: raw.ReverseSequence(input=x, seq_lengths=_c(np.zeros(0)), seq_dim=1, batch_dim=0),
        {"x": f32(0, 3)},
        "empty",
    ),
]
_PC_DTYPES: tuple[Any, ...] = (
    np.int8,
    np.uint8,
    np.int16,
    np.int32,
    np.int64,
    np.uint16,
    np.uint32,
    np.uint64,
)
for _pc_dt in _PC_DTYPES:
    _info = np.iinfo(_pc_dt)
    _vals = np.array(
        [_info.min, _info.max, 0, 1, 5, min(255, _info.max), _info.min // 3, _info.min + 5], dtype=_pc_dt
    )
    CASES.append(
        Case("PopulationCount", lambda x: raw.PopulationCount(x=x), {"x": _vals}, np.dtype(_pc_dt).name)
    )
CASES.append(Case("PopulationCount", lambda x: raw.PopulationCount(x=x), {"x": _rand_int(0, 3)}, "empty"))

_MD_DTYPES: tuple[Any, ...] = (np.float32, np.int32, np.bool_)
for _md_dt in _MD_DTYPES:
    _md_dg = f32(2, 3).astype(_md_dt) if _md_dt != np.bool_ else _rand_int(2, 3, lo=0, hi=2).astype(bool)
    CASES.append(
        Case("MatrixDiag", lambda d: raw.MatrixDiag(diagonal=d), {"d": _md_dg}, np.dtype(_md_dt).name)
    )
    _md_m = f32(2, 3, 4).astype(_md_dt) if _md_dt != np.bool_ else _rand_int(2, 3, 4, lo=0, hi=2).astype(bool)
    CASES.append(
        Case("MatrixDiagPart", lambda x: raw.MatrixDiagPart(input=x), {"x": _md_m}, np.dtype(_md_dt).name)
    )
    CASES.append(
        Case(
            "MatrixSetDiag",
            lambda x, d: raw.MatrixSetDiag(input=x, diagonal=d),
            {"x": _md_m, "d": _md_dg},
            np.dtype(_md_dt).name,
        )
    )
CASES += [
    Case("MatrixDiag", lambda d: raw.MatrixDiag(diagonal=d), {"d": f32(0, 3)}, "empty-batch"),
    Case("MatrixDiagPart", lambda x: raw.MatrixDiagPart(input=x), {"x": f32(4, 2)}, "tall"),
    Case(
        "MatrixDiagV2",
        lambda d: raw.MatrixDiagV2(
            diagonal=d, k=_c([-1, 1]), num_rows=_c(-1), num_cols=_c(-1), padding_value=_c(9.0, np.float32)
        ),
        {"d": f32(2, 3, 3)},
        "band-left-left",
    ),
    Case(
        "MatrixDiagV2",
        lambda d: raw.MatrixDiagV2(
            diagonal=d, k=_c(1), num_rows=_c(3), num_cols=_c(5), padding_value=_c(0, np.int64)
        ),
        {"d": _rand_int(2, 3, dtype=np.int64)},
        "superdiagonal-int64",
    ),
    Case(
        "MatrixDiagPartV2",
        lambda x: raw.MatrixDiagPartV2(input=x, k=_c([-2, 1]), padding_value=_c(-1.0, np.float32)),
        {"x": f32(2, 4, 3)},
        "band-left-left",
    ),
    Case(
        "MatrixDiagPartV2",
        lambda x: raw.MatrixDiagPartV2(input=x, k=_c(-1), padding_value=_c(0, np.int32)),
        {"x": _rand_int(3, 4)},
        "subdiagonal-int32",
    ),
    Case(
        "MatrixSetDiagV2",
        lambda x, d: raw.MatrixSetDiagV2(input=x, diagonal=d, k=_c([-1, 1])),
        {"x": f32(2, 3, 4), "d": f32(2, 3, 3)},
        "band-left-left",
    ),
    Case(
        "MatrixSetDiagV2",
        lambda x, d: raw.MatrixSetDiagV2(input=x, diagonal=d, k=_c(2)),
        {"x": _rand_int(3, 4, dtype=np.int64), "d": _rand_int(2, dtype=np.int64)},
        "superdiagonal-int64",
    ),
]

_BC = np.array([1, 3, 3, 0, 7, 9, 4, 3], np.int32)  # 7 and 9 fall outside [0, 5): ignored
CASES += [
    Case(
        "Bincount", lambda a: raw.Bincount(arr=a, size=_c(5), weights=_c(np.zeros(0), np.float32)), {"a": _BC}
    ),
    Case(
        "Bincount",
        lambda a, w: raw.Bincount(arr=a, size=_c(5), weights=w),
        {"a": _BC, "w": f32(8)},
        "weights",
    ),
    Case(
        "Bincount",
        lambda a, w: raw.Bincount(arr=a, size=_c(6), weights=w),
        {"a": _BC, "w": _rand_int(8, dtype=np.int64)},
        "weights-int64",
    ),
    Case(
        "Bincount",
        lambda a: raw.Bincount(arr=a, size=_c(0), weights=_c(np.zeros(0), np.int32)),
        {"a": _BC},
        "size-0",
    ),
    Case(
        "DenseBincount",
        lambda a: raw.DenseBincount(input=a, size=_c(5), weights=_c(np.zeros(0), np.float32)),
        {"a": _BC},
    ),
    Case(
        "DenseBincount",
        lambda a, w: raw.DenseBincount(input=a, size=_c(5, np.int64), weights=w),
        {"a": _BC.reshape(2, 4).astype(np.int64), "w": f32(2, 4).astype(np.float64)},
        "rows-weights-int64",
    ),
    Case(
        "DenseBincount",
        lambda a: raw.DenseBincount(
            input=a, size=_c(4), weights=_c(np.zeros(0), np.int32), binary_output=True
        ),
        {"a": _BC.reshape(4, 2)},
        "rows-binary",
    ),
    Case(
        "DenseBincount",
        lambda a, w: raw.DenseBincount(input=a, size=_c(5), weights=w, binary_output=True),
        {"a": _BC, "w": f32(8)},
        "binary-ignores-weights",
    ),
]

# random numbers: Philox keyed by (key, counter) or, for the stateful ops, by (seed, seed2), equal
# to TensorFlow's first call. Uniforms and integers are bit-exact (tolerance 0); normals within the
# float dtype's default tolerance (Box-Muller's log/sin/cos differ in the last bits: a few ulps).
_EXACT = {"rtol": 0.0, "atol": 0.0}


def _key(v: int = 0x123456789ABCDEF) -> Any:
    return _c([v], np.uint64)


def _ctr(a: int = 7, b: int = 2**40 + 3) -> Any:
    return _c([a, b], np.uint64)


for _dt in (tf.float32, tf.float64, tf.float16, tf.bfloat16):
    for _op in ("StatelessRandomUniformV2", "StatelessRandomNormalV2", "StatelessTruncatedNormalV2"):
        CASES.append(
            Case(
                _op,
                lambda op=_op, dt=_dt: getattr(raw, op)(
                    shape=_c([5, 7]), key=_key(), counter=_ctr(), alg=_c(1), dtype=dt
                ),
                {},
                _dt.name,
                tol=_EXACT if "Uniform" in _op else None,
            )
        )
for _op in ("StatelessRandomUniformV2", "StatelessRandomNormalV2", "StatelessTruncatedNormalV2"):
    CASES += [
        Case(  # counter words near 2**64: the 128-bit counter carries across words
            _op,
            lambda op=_op: getattr(raw, op)(
                shape=_c([3, 1, 9], np.int64),
                key=_key(2**64 - 1),
                counter=_ctr(2**64 - 2, 2**32 - 1),
                alg=_c(3),
            ),
            {},
            "carry-int64-shape-auto-alg",
            tol=_EXACT if "Uniform" in _op else None,
        ),
        Case(
            _op,
            lambda op=_op: getattr(raw, op)(shape=_c([0, 4]), key=_key(), counter=_ctr(), alg=_c(1)),
            {},
            "empty",
        ),
        Case(
            _op,
            lambda op=_op: getattr(raw, op)(shape=_c([], np.int32), key=_key(5), counter=_ctr(), alg=_c(1)),
            {},
            "scalar",
        ),
    ]
for _dt in (np.int32, np.int64):
    CASES += [
        Case(
            "StatelessRandomUniformIntV2",
            lambda dt=_dt: raw.StatelessRandomUniformIntV2(
                shape=_c([6, 5]),
                key=_key(),
                counter=_ctr(),
                alg=_c(1),
                minval=_c(-5, dt),
                maxval=_c(1000, dt),
            ),
            {},
            np.dtype(_dt).name,
        ),
        Case(
            "StatelessRandomUniformIntV2",
            lambda dt=_dt: raw.StatelessRandomUniformIntV2(
                shape=_c([7]),
                key=_key(9),
                counter=_ctr(1, 2),
                alg=_c(1),
                minval=_c(np.iinfo(dt).min, dt),
                maxval=_c(np.iinfo(dt).max, dt),
            ),
            {},
            f"{np.dtype(_dt).name}-full-range",
        ),
        Case(
            "RandomUniformInt",
            lambda dt=_dt: raw.RandomUniformInt(
                shape=_c([3, 7]), minval=_c(-5, dt), maxval=_c(17, dt), seed=3, seed2=9
            ),
            {},
            np.dtype(_dt).name,
        ),
    ]
for _dt in (tf.float32, tf.float64, tf.float16):
    for _op in ("RandomUniform", "RandomStandardNormal", "TruncatedNormal"):
        CASES.append(
            Case(
                _op,
                lambda op=_op, dt=_dt: getattr(raw, op)(shape=_c([4, 5]), dtype=dt, seed=1, seed2=-2),
                {},
                _dt.name,
                tol=_EXACT if _op == "RandomUniform" else None,
            )
        )
CASES += [
    Case(
        "RandomUniform",
        lambda: raw.RandomUniform(shape=_c([3]), dtype=tf.float32, seed=0, seed2=5),
        {},
        "seed-0",
    ),
    Case(
        "RandomStandardNormal",
        lambda: raw.RandomStandardNormal(shape=_c([0, 2]), dtype=tf.float32, seed=7, seed2=0),
        {},
        "empty",
    ),
]

# quantization simulation: bit-exact (tolerance 0) against TensorFlow's kernels
_EXACT = {"rtol": 0.0, "atol": 0.0}
_QX = np.concatenate(
    [f32(40, lo=-8, hi=8), np.array([0.0, -0.0, 6.0, -6.0, 100.0, -100.0, 0.5, -0.5], np.float32)]
)
for _min, _max, _bits, _narrow in (
    (-6.0, 6.0, 8, False),
    (-1.0, 3.0, 8, True),
    (0.1, 2.0, 4, False),  # zero point below the range: nudged to 0
    (-5.0, -0.5, 7, False),  # zero point above the range
    (-0.3, 0.7, 16, True),
    (-2.5, 2.5, 2, False),
):
    CASES.append(
        Case(
            "FakeQuantWithMinMaxArgs",
            lambda x, a=_min, b=_max, n=_bits, r=_narrow: raw.FakeQuantWithMinMaxArgs(
                inputs=x, min=a, max=b, num_bits=n, narrow_range=r
            ),
            {"x": _QX},
            f"{_min}-{_max}-{_bits}bit{'-narrow' if _narrow else ''}",
            tol=_EXACT,
        )
    )
    CASES.append(
        Case(
            "FakeQuantWithMinMaxVars",
            lambda x, lo, hi, n=_bits, r=_narrow: raw.FakeQuantWithMinMaxVars(
                inputs=x, min=lo, max=hi, num_bits=n, narrow_range=r
            ),
            {"x": _QX.reshape(6, 8), "lo": np.array(_min, np.float32), "hi": np.array(_max, np.float32)},
            f"{_min}-{_max}-{_bits}bit{'-narrow' if _narrow else ''}",
            tol=_EXACT,
        )
    )
CASES += [
    Case(
        "FakeQuantWithMinMaxVars",
        lambda x, lo, hi: raw.FakeQuantWithMinMaxVars(inputs=x, min=lo, max=hi),
        {"x": _QX, "lo": np.zeros((), np.float32), "hi": np.zeros((), np.float32)},
        "zero-range",
        tol=_EXACT,
    ),
    Case(
        "FakeQuantWithMinMaxArgs", lambda x: raw.FakeQuantWithMinMaxArgs(inputs=x), {"x": f32(0, 3)}, "empty"
    ),
    Case(
        "FakeQuantWithMinMaxVarsPerChannel",
        lambda x, lo, hi: raw.FakeQuantWithMinMaxVarsPerChannel(inputs=x, min=lo, max=hi),
        {
            "x": _QX.reshape(6, 8),
            "lo": np.array([-6, -1, 0.1, -5, -0.3, 0, -2.5, -1e-3], np.float32),
            "hi": np.array([6, 3, 2, -0.5, 0.7, 0, 2.5, 1e-3], np.float32),
        },
        "mixed-channels",
        tol=_EXACT,
    ),
    Case(
        "FakeQuantWithMinMaxVarsPerChannel",
        lambda x, lo, hi: raw.FakeQuantWithMinMaxVarsPerChannel(
            inputs=x, min=lo, max=hi, num_bits=5, narrow_range=True
        ),
        {"x": f32(2, 3, 4, lo=-3, hi=3), "lo": f32(4, lo=-2, hi=-0.1), "hi": f32(4, lo=0.1, hi=2)},
        "rank3-5bit-narrow",
        tol=_EXACT,
    ),
]
for _dt in (F32, F64):  # TensorFlow has no float16 kernel
    _x = rand(_dt, 5, 6, lo=-3, hi=3)
    for _signed, _narrow, _given, _mode, _bits in (
        (True, False, False, "HALF_TO_EVEN", 8),
        (True, True, True, "HALF_UP", 8),
        (False, False, True, "HALF_TO_EVEN", 4),
        (False, False, False, "HALF_UP", 3),
        (True, False, True, "HALF_TO_EVEN", 2),
    ):
        _id = f"{_name(_dt)}-{'signed' if _signed else 'unsigned'}{'-narrow' if _narrow else ''}"
        _id += f"{'-given' if _given else ''}-{_mode.lower()}-{_bits}bit"
        for _op in ("QuantizeAndDequantizeV2", "QuantizeAndDequantizeV4"):
            CASES.append(
                Case(
                    _op,
                    lambda x, op=_op, s=_signed, n=_narrow, g=_given, m=_mode, b=_bits, dt=_dt: getattr(
                        raw, op
                    )(
                        input=x,
                        input_min=_c(-1.2, dt),
                        input_max=_c(2.1, dt),
                        signed_input=s,
                        num_bits=b,
                        range_given=g,
                        round_mode=m,
                        narrow_range=n,
                    ),
                    {"x": _x},
                    _id,
                    tol=_EXACT,
                )
            )
        CASES.append(
            Case(
                "QuantizeAndDequantizeV3",
                lambda x, s=_signed, n=_narrow, g=_given, b=_bits, dt=_dt: raw.QuantizeAndDequantizeV3(
                    input=x,
                    input_min=_c(-1.2, dt),
                    input_max=_c(2.1, dt),
                    num_bits=_c(b),
                    signed_input=s,
                    range_given=g,
                    narrow_range=n,
                ),
                {"x": _x},
                _id.replace(f"-{_mode.lower()}", ""),
                tol=_EXACT,
            )
        )
_XA = rand(F32, 3, 4, 5, lo=-4, hi=4)
for _axis in (0, 1, 2):
    _d = _XA.shape[_axis]
    CASES += [
        Case(
            "QuantizeAndDequantizeV2",
            lambda x, ax=_axis, d=_d: raw.QuantizeAndDequantizeV2(
                input=x, input_min=_c(np.zeros(d), F32), input_max=_c(np.zeros(d), F32), axis=ax
            ),
            {"x": _XA},
            f"per-axis-{_axis}",
            tol=_EXACT,
        ),
        Case(
            "QuantizeAndDequantizeV3",
            lambda x, ax=_axis, d=_d: raw.QuantizeAndDequantizeV3(
                input=x,
                input_min=_c(-np.linspace(0.5, 3, d), F32),
                input_max=_c(np.linspace(1, 2, d), F32),
                num_bits=_c(6),
                range_given=True,
                axis=ax,
                narrow_range=True,
            ),
            {"x": _XA},
            f"per-axis-{_axis}-given-narrow",
            tol=_EXACT,
        ),
        Case(
            "QuantizeAndDequantizeV4",
            lambda x, ax=_axis, d=_d: raw.QuantizeAndDequantizeV4(
                input=x,
                input_min=_c(np.zeros(d), F32),
                input_max=_c(np.zeros(d), F32),
                axis=ax,
                signed_input=False,
                round_mode="HALF_UP",
            ),
            {"x": _XA},
            f"per-axis-{_axis}-unsigned-half-up",
            tol=_EXACT,
        ),
    ]
CASES += [
    Case(
        "QuantizeAndDequantizeV2",
        lambda x: raw.QuantizeAndDequantizeV2(input=x, input_min=_c(0.0, F32), input_max=_c(0.0, F32)),
        {"x": f32(0, 3)},
        "empty",
    ),
    Case(
        "QuantizeAndDequantizeV3",
        lambda x: raw.QuantizeAndDequantizeV3(
            input=x, input_min=_c(0.0, F32), input_max=_c(1.0, F32), num_bits=_c(8), signed_input=False
        ),
        {"x": np.abs(f32(4, 4))},
        "unsigned-nonnegative",
        tol=_EXACT,
    ),
]

# seeds: the key and counter TensorFlow derives from a seed pair, and the V1 stateless ops
for _seed, _dt in (([1, 2], np.int64), ([-7, 2**31 - 1], np.int32), ([0, 0], np.int32)):
    CASES.append(
        Case(
            "StatelessRandomGetKeyCounter",
            lambda s=_seed, dt=_dt: raw.StatelessRandomGetKeyCounter(seed=_c(s, dt)),
            {},
            f"{np.dtype(_dt).name}-{_seed[0]}",
        )
    )
    for _op in ("StatelessRandomUniform", "StatelessRandomNormal", "StatelessTruncatedNormal"):
        for _fdt in (tf.float32, tf.float64):
            CASES.append(
                Case(
                    _op,
                    lambda op=_op, s=_seed, dt=_dt, f=_fdt: getattr(raw, op)(
                        shape=_c([3, 6]), seed=_c(s, dt), dtype=f
                    ),
                    {},
                    f"{_fdt.name}-seed-{np.dtype(_dt).name}-{_seed[0]}",
                    tol=_EXACT if "Uniform" in _op else None,
                )
            )
    CASES.append(
        Case(
            "StatelessRandomUniformInt",
            lambda s=_seed, dt=_dt: raw.StatelessRandomUniformInt(
                shape=_c([11], np.int64), seed=_c(s, dt), minval=_c(-3, np.int64), maxval=_c(70, np.int64)
            ),
            {},
            f"int64-seed-{np.dtype(_dt).name}-{_seed[0]}",
        )
    )
CASES += [
    Case(  # what tf.random.stateless_uniform writes: a fed seed, key and counter computed in the graph
        "StatelessRandomGetKeyCounter",
        lambda s: tf.random.stateless_uniform([4, 3], seed=s) + tf.random.stateless_normal([4, 3], seed=s),
        {"s": np.array([5, -9], np.int32)},
        "fed-seed-through-stateless-uniform-and-normal",
    ),
    Case(
        "StatelessRandomUniform",
        lambda: raw.StatelessRandomUniform(shape=_c([0, 3]), seed=_c([1, 1])),
        {},
        "empty",
    ),
]


def _import_one(build: Any) -> None:
    from fourier.importer.graphdef import import_graphdef

    g = tf.Graph()
    with g.as_default():
        tf.identity(build(), name="out")
    import_graphdef(g.as_graph_def(), "<case>", ["out"])


def test_an_unseeded_stateful_random_op_is_refused_naming_it() -> None:
    """seed = seed2 = 0: TensorFlow draws from a nondeterministic seed, no answer can match it."""
    from fourier.errors import FourierError

    with pytest.raises(FourierError, match="'rnd'.*seed = seed2 = 0.*stateless"):
        _import_one(lambda: raw.RandomUniform(shape=_c([2]), dtype=tf.float32, name="rnd"))


def test_sorted_segment_ops_with_computed_ids_are_refused_naming_the_node() -> None:
    from fourier.errors import FourierError

    def build() -> Any:
        ids = tf.compat.v1.placeholder(tf.int32, [None], name="ids")
        return raw.SegmentMax(data=tf.ones([3, 2]), segment_ids=ids, name="seg")

    with pytest.raises(FourierError, match="'seg'.*known at compile time"):
        _import_one(build)


# padding rules of today's additions, end to end: x [N, 4, 4, 3] compiled to buckets
def _rows48(x: Any) -> Any:
    return tf.reshape(x, [-1, 48])


_PAD_ROW_LOCAL: list[tuple[str, Any]] = [
    (
        "reverse-sequence-per-row-lengths",
        lambda x: raw.ReverseSequence(
            input=tf.reshape(x, [-1, 16, 3]),
            seq_lengths=tf.cast(tf.abs(x[:, 0, 0, 0]) * 16, tf.int32),
            seq_dim=1,
            batch_dim=0,
        ),
    ),
    (
        "matrix-diag-part-set",
        lambda x: raw.MatrixSetDiag(input=x[..., 0], diagonal=raw.MatrixDiagPart(input=x[..., 1])),
    ),
    ("matrix-diag", lambda x: raw.MatrixDiag(diagonal=x[:, 0, :, 0])),
    ("popcount", lambda x: tf.cast(raw.PopulationCount(x=tf.cast(x * 1000, tf.int32)), tf.float32)),
    (
        "segment-mean-of-features",
        lambda x: tf.transpose(
            raw.SegmentMean(data=tf.transpose(_rows48(x)), segment_ids=np.arange(48) // 10)
        ),
    ),
    (
        "dense-bincount-per-row",
        lambda x: raw.DenseBincount(
            input=tf.cast(tf.abs(_rows48(x)) * 5, tf.int32), size=5, weights=np.zeros(0, np.float32)
        ),
    ),
    ("fake-quant-args", lambda x: raw.FakeQuantWithMinMaxArgs(inputs=x, min=-0.5, max=0.7, num_bits=5)),
    (
        "fake-quant-per-channel",
        lambda x: raw.FakeQuantWithMinMaxVarsPerChannel(
            inputs=x, min=np.array([-1, -0.5, -0.2], np.float32), max=np.array([1, 0.6, 0.9], np.float32)
        ),
    ),
    (
        "quantize-dequantize-given-range",
        lambda x: raw.QuantizeAndDequantizeV2(input=x, input_min=-0.6, input_max=0.8, range_given=True),
    ),
    (
        "quantize-dequantize-per-row-range",
        lambda x: raw.QuantizeAndDequantizeV4(input=x, input_min=[0.0], input_max=[0.0], axis=0),
    ),
    (
        "seeded-random-noise",
        lambda x: (
            x
            + raw.RandomStandardNormal(shape=[4, 4, 3], dtype=tf.float32, seed=3, seed2=4)
            + raw.StatelessRandomUniformV2(
                shape=[4, 4, 3], key=np.array([5], np.uint64), counter=np.array([0, 1], np.uint64), alg=1
            )
        ),
    ),
]


def _freeze_x(build: Any, path: Any) -> Any:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4, 4, 3], name="x")
        tf.identity(build(x), name="y")
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


@pytest.mark.parametrize("case", _PAD_ROW_LOCAL, ids=[c[0] for c in _PAD_ROW_LOCAL])
def test_later_long_tail_row_local_graph_is_proven_and_matches_tensorflow(case: Any, tmp_path: Any) -> None:
    import fourier
    from fourier.testing.oracle import TFGraph

    name, build = case
    pb = _freeze_x(build, tmp_path / f"{name}.pb")
    fourier.compile(pb, tmp_path / "out", [4, 8], require_padding_proof=True)
    model = fourier.load(tmp_path / "out")
    for batch in (1, 3, 9):
        feeds = {"x": np.random.default_rng(batch).uniform(-1, 1, (batch, 4, 4, 3)).astype(np.float32)}
        oracle = TFGraph(pb, ["y"])  # a fresh session: a stateful random op's first call
        np.testing.assert_allclose(model(feeds)["y"], oracle(feeds)["y"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "build",
    [
        lambda x: raw.QuantizeAndDequantizeV2(input=x, input_min=0.0, input_max=0.0),
        lambda x: raw.Bincount(
            arr=tf.cast(tf.abs(_rows48(x)) * 5, tf.int32), size=5, weights=np.zeros(0, np.float32)
        ),
        lambda x: raw.ReverseSequence(input=x, seq_lengths=[2, 1, 4, 3], seq_dim=0, batch_dim=1),
        lambda x: raw.TensorScatterAdd(tensor=x, indices=[[0]], updates=tf.ones([1, 4, 4, 3])),
        lambda x: raw.SegmentMax(data=x, segment_ids=tf.zeros([tf.shape(x)[0]], tf.int32)),
    ],
    ids=[
        "quantize-dequantize-range-over-rows",
        "bincount-of-rows",
        "reverse-sequence-over-rows",
        "tensor-scatter-into-rows",
        "segment-of-rows",
    ],
)
def test_later_long_tail_row_mixing_graph_is_refused(build: Any, tmp_path: Any) -> None:
    import fourier
    from fourier.errors import FourierError

    pb = _freeze_x(build, tmp_path / "mix.pb")
    with pytest.raises(
        FourierError, match="padding a request to a bucket would change|known at compile time"
    ):
        fourier.compile(pb, tmp_path / "out", [4, 8], require_padding_proof=True)


# (end of the long-tail / quant / random block)

# Known divergences from TensorFlow, by case id: each fails today (strict), with the reason.
XFAIL: dict[str, str] = {}


def _param(case: Case) -> Any:
    reason = XFAIL.get(case_id(case))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case_id(case), marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_op_matches_tensorflow(case: Case) -> None:
    check(case)


def test_training_batch_norm_is_refused_naming_the_node() -> None:
    """is_training=true normalizes with the batch's own statistics (rows mix): a stated refusal."""
    from fourier.errors import FourierError
    from fourier.importer.graphdef import import_graphdef

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 3, 4], name="x")
        s = tf.constant(np.ones(4, np.float32))
        e = tf.constant(np.zeros(0, np.float32))
        y = raw.FusedBatchNormV3(x=x, scale=s, offset=s, mean=e, variance=e, is_training=True, name="bn")
        tf.identity(y[0], name="out")
    with pytest.raises(FourierError, match="bn.*is_training=true"):
        import_graphdef(g.as_graph_def(), "<case>", ["out"])


def test_batched_gather_over_an_unknown_batch_compiles_to_buckets_and_matches_tensorflow(
    tmp_path: Any,
) -> None:
    """Before: x [N, 5, 3] and ids [N, 4] fed, y = GatherV2(x, ids, axis=1, batch_dims=1).
    Expected: rows stay rows (padding is proven), and the compiled model equals TensorFlow."""
    import fourier
    from fourier.testing.oracle import TFGraph

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 5, 3], name="x")
        ids = tf.compat.v1.placeholder(tf.int32, [None, 4], name="ids")
        tf.identity(tf.gather(x, ids, axis=1, batch_dims=1) * 2.0, name="y")
    pb = tmp_path / "batched_gather.pb"
    pb.write_bytes(g.as_graph_def().SerializeToString())
    fourier.compile(pb, tmp_path / "out", [4, 8], require_padding_proof=True)
    model, oracle = fourier.load(tmp_path / "out"), TFGraph(pb, ["y"])
    for batch in (1, 3, 9):
        feeds = {"x": f32(batch, 5, 3), "ids": rand(I32, batch, 4, lo=0, hi=5)}
        np.testing.assert_allclose(model(feeds)["y"], oracle(feeds)["y"], rtol=1e-5, atol=1e-6)


def test_every_registered_op_has_a_tensorflow_case() -> None:
    """Walks the registry: an op of a family that is not exempt with no case here or in
    tests/test_ops_longtail.py fails this test, named."""
    from tests.test_ops_longtail import CASES as LONGTAIL

    covered = {c.op for c in CASES} | {c.op for c in LONGTAIL}
    missing = sorted(n for n, op in all_ops().items() if exemption(op) is None and n not in covered)
    assert not missing, f"registered ops with no TensorFlow case: {missing}"
    stale = sorted(covered - set(all_ops()))
    assert not stale, f"cases for ops that are not registered: {stale}"
    assert set(XFAIL) <= {case_id(c) for c in CASES}, "an XFAIL entry names no case"


def test_the_completeness_check_names_an_uncovered_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: an op registered with no case is named."""
    from fourier.ops import registry

    fake = registry.OpDef("NoSuchTFOp", lambda ctx: [], lambda a: None, lambda a: None, family="math")
    monkeypatch.setitem(registry._REGISTRY, "NoSuchTFOp", fake)
    with pytest.raises(AssertionError, match="NoSuchTFOp"):
        test_every_registered_op_has_a_tensorflow_case()


def test_exemptions_are_the_ones_stated() -> None:
    """Exemptions are explicit: Fourier's own fused ops and the ops the host runs (their lowering
    refuses them), nothing else; an exempt op really is one of those."""
    assert set(EXEMPT) == {"fused", "host"}
    for name, op in all_ops().items():
        if exemption(op) == "host":
            assert "host" in op.traits, name
        elif exemption(op) == "fused":
            assert op.family == "fused", name
    assert {exemption(op) for op in all_ops().values()} == {None, "fused", "host"}


def test_docs_ops_md_ends_with_the_coverage_it_states() -> None:
    """The coverage section of docs/ops.md is what the classifier says of this TensorFlow."""
    from pathlib import Path

    from fourier.ops.doc import COVERAGE_HEADING

    text = (Path(__file__).parent.parent / "docs" / "ops.md").read_text()
    section = COVERAGE_HEADING + text.partition("\n" + COVERAGE_HEADING)[2]
    assert section == markdown(coverage()), f"docs/ops.md's coverage is stale: run {COMMAND}"


def test_every_registered_op_but_the_fused_is_supported_in_the_coverage() -> None:
    cov = coverage()
    fused = {n for n, op in all_ops().items() if op.family == "fused"}
    assert set(cov.supported) == set(all_ops()) - fused
    assert not set(cov.unsupported) & set(all_ops())
