"""Quantization simulation: TensorFlow's fake-quant and quantize-dequantize ops, bit for bit.

Quantization-aware models freeze with these ops in place: each maps a float tensor to the floats a
quantized tensor would represent, so it stays a float op. The arithmetic is TensorFlow's CPU
kernels', in their order and in their dtype, so the answer is the same bits:

- ``FakeQuantWithMinMax*`` (float32): the range [min, max] is *nudged* so that zero is exactly
  representable: scale = (max - min) / (quant_max - quant_min) with quant range [0, 2^bits - 1]
  ([1, ...] when ``narrow_range``); the zero point quant_min - min / scale is rounded half away
  from zero and clamped to the quant range; the nudged range is (quant_min - zero point) * scale
  and (quant_max - zero point) * scale. The input is clamped to it and rounded half up:
  floor((x - nudged_min) / scale + 0.5) * scale + nudged_min. A channel whose min and max are
  both 0 gives zeros (``Vars`` forms).
- ``QuantizeAndDequantizeV2/V3/V4``: the range is the input's min and max (per slice along
  ``axis``, -1: whole tensor) unless ``range_given``; the quant range is [-2^(bits-1), 2^(bits-1)
  - 1] (``narrow_range``: lowest + 1) when ``signed_input``, else [0, 2^bits - 1]. The scale is the
  larger one that keeps zero fixed and neither side out of range, taken from the side that limits
  it (the other side of the range is moved to match); x * scale is rounded (``round_mode``
  HALF_TO_EVEN or HALF_UP; V3 always half to even) and multiplied by the inverse scale. With
  ``range_given`` the input is first clamped to the adjusted range.

TensorFlow's kernels refuse min > max (and, for V2-V4 with ``range_given``, raise at run time);
Fourier checks what it knows at compile time and otherwise computes as the formulas say.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import TensorType
from fourier.ops.padding import State, elementwise_rule, mixed
from fourier.ops.registry import Attr, InferContext, register

__all__: list[str] = []

_FLOATS = ("float16", "bfloat16", "float32", "float64")

# -- FakeQuantWithMinMax* ------------------------------------------------------------------------


def _round_half_away(xp: Any, x: Any) -> Any:
    """std::round: half away from zero (exact: the fraction of a float is exact)."""
    a = xp.abs(x)
    r = xp.floor(a)
    r = r + (a - r >= np.float32(0.5)).astype(x.dtype)
    return xp.where(x < 0, -r, r)


def _div(xp: Any, a: Any, const: Any) -> Any:
    """``a / const``, divided: XLA rewrites a division by a constant or by a broadcast scalar into
    a product with its rounded reciprocal, an ulp off, and a nudged zero point or a scale would
    then differ from TensorFlow's. A divisor of ``a``'s shape behind a barrier stays a division."""
    if xp is np:
        return a / const
    import jax

    return a / jax.lax.optimization_barrier(xp.full(xp.shape(a), const, dtype=a.dtype))


def _kept(xp: Any, v: Any) -> Any:
    """``v`` as computed: XLA would fold ``a / (b / c)`` into ``a * c / b``, rounded otherwise."""
    if xp is np:
        return v
    import jax

    return jax.lax.optimization_barrier(v)


def _nudge(xp: Any, lo: Any, hi: Any, qmin: int, qmax: int) -> tuple[Any, Any, Any, Any]:
    """TensorFlow's Nudge in float32: (nudged min, nudged max, scale, inverse scale)."""
    fmin, fmax = np.float32(qmin), np.float32(qmax)
    scale = _kept(xp, _div(xp, hi - lo, fmax - fmin))
    inv = (fmax - fmin) / (hi - lo)
    zp_from_min = fmin - lo / scale
    zp = _round_half_away(xp, zp_from_min)
    zp = xp.where(zp_from_min < fmin, fmin, xp.where(zp_from_min > fmax, fmax, zp))
    return (fmin - zp) * scale, (fmax - zp) * scale, scale, inv


def _fake_quant(xp: Any, x: Any, lo: Any, hi: Any, bits: int, narrow: bool, zero_check: bool) -> Any:
    qmin, qmax = (1 if narrow else 0), (1 << bits) - 1
    lo = xp.asarray(lo, dtype=np.float32)
    hi = xp.asarray(hi, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        nmin, nmax, scale, inv = _nudge(xp, lo, hi, qmin, qmax)
        quant_zero = xp.floor(-nmin * inv + np.float32(0.5))
        shifted = xp.minimum(xp.maximum(x, nmin), nmax) - nmin
        out = (xp.floor(shifted * inv - quant_zero + np.float32(0.5)) * scale).astype(np.float32)
    if zero_check:  # a channel with min = max = 0 is all zeros
        out = xp.where((lo == 0) & (hi == 0), np.float32(0.0), out)
    return out


def _bits_check(ctx: InferContext) -> None:
    bits = ctx.attrs["num_bits"]
    if not 2 <= bits <= 16:
        raise ctx.fail(f"num_bits must be in [2, 16], got {bits}")
    if ctx.types[0].dtype != "float32":
        raise ctx.fail(f"inputs must be float32, got {ctx.types[0].dtype}")


def _fq_args_infer(ctx: InferContext) -> list[TensorType]:
    _bits_check(ctx)
    if not ctx.attrs["min"] < ctx.attrs["max"]:
        raise ctx.fail(f"min {ctx.attrs['min']} must be below max {ctx.attrs['max']}")
    return [ctx.types[0]]


_FQ_ATTRS = [Attr("num_bits", "int", 8), Attr("narrow_range", "bool", False)]

register(
    "FakeQuantWithMinMaxArgs",
    inputs=1,
    attrs=[Attr("min", "float", -6.0), Attr("max", "float", 6.0), *_FQ_ATTRS],
    infer=_fq_args_infer,
    xp_fn=lambda xp, a, x: _fake_quant(xp, x, a["min"], a["max"], a["num_bits"], a["narrow_range"], False),
    traits=("pure", "elementwise"),
    doc="x clamped to the nudged [min, max] (zero exact) and rounded to one of 2^num_bits levels",
)


def _fq_vars_infer(ctx: InferContext) -> list[TensorType]:
    _bits_check(ctx)
    x, lo, hi = ctx.types
    per_channel = ctx.op.endswith("PerChannel")
    for t, what in ((lo, "min"), (hi, "max")):
        if t.dtype != "float32":
            raise ctx.fail(f"{what} must be float32, got {t.dtype}")
        if t.shape is None:
            continue
        if not per_channel and t.shape != ():
            raise ctx.fail(f"{what} must be a scalar, got {t}")
        if per_channel:
            last = x.shape[-1] if x.shape else None
            if len(t.shape) != 1 or (isinstance(last, int) and t.shape[0] not in (last,)):
                raise ctx.fail(f"{what} {t} must be a vector as long as the last dimension of {x}")
    for i in (1, 2):
        v = ctx.known(i)
        w = ctx.known(3 - i)
        if v is not None and w is not None and v.dtype != object and w.dtype != object:
            lo_v, hi_v = (v, w) if i == 1 else (w, v)
            if (np.asarray(lo_v) > np.asarray(hi_v)).any():
                raise ctx.fail(f"min {lo_v.tolist()} must not be above max {hi_v.tolist()}")
    return [x]


for _op, _what in (
    ("FakeQuantWithMinMaxVars", "scalar min and max tensors"),
    ("FakeQuantWithMinMaxVarsPerChannel", "min and max per channel (the last dimension)"),
):
    register(
        _op,
        inputs=3,
        attrs=_FQ_ATTRS,
        infer=_fq_vars_infer,
        xp_fn=lambda xp, a, x, lo, hi: _fake_quant(xp, x, lo, hi, a["num_bits"], a["narrow_range"], True),
        doc=f"FakeQuantWithMinMaxArgs with {_what} (min = max = 0: zeros)",
        padding_rule=elementwise_rule,
    )

# -- QuantizeAndDequantizeV2/V3/V4 ---------------------------------------------------------------


def _qdq(
    xp: Any,
    x: Any,
    lo_in: Any,
    hi_in: Any,
    bits: int,
    signed: bool,
    range_given: bool,
    narrow: bool,
    axis: int,
    half_up: bool,
) -> Any:
    dt = x.dtype
    ax = axis % x.ndim if axis != -1 else -1
    if ax == -1:
        shape: tuple[int, ...] = ()
    else:
        shape = tuple(x.shape[ax] if i == ax else 1 for i in range(x.ndim))
    if range_given:
        lo = xp.asarray(lo_in, dtype=dt).reshape(shape)
        hi = xp.asarray(hi_in, dtype=dt).reshape(shape)
    elif x.size == 0:
        return x
    else:
        axes = None if ax == -1 else tuple(i for i in range(x.ndim) if i != ax)
        lo = xp.min(x, axis=axes).reshape(shape)
        hi = xp.max(x, axis=axes).reshape(shape)
    if signed:
        qmin = -(1 << (bits - 1)) + (1 if narrow else 0)
        qmax = (1 << (bits - 1)) - 1
    else:
        qmin, qmax = 0, (1 << bits) - 1
    fqmin, fqmax, big = np.asarray(qmin, dt), np.asarray(qmax, dt), np.asarray(np.finfo(dt).max, dt)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        from_min = xp.where(fqmin * lo > 0, fqmin / lo, big)
        from_max = xp.where(fqmax * hi > 0, fqmax / hi, big)
        use_min = from_min < from_max
        scale = _kept(xp, xp.where(use_min, from_min, from_max))
        inv = _kept(xp, xp.where(use_min, _div(xp, lo, fqmin), _div(xp, hi, fqmax)))
        if range_given:
            lo2 = xp.where(use_min, lo, fqmin * inv)
            hi2 = xp.where(use_min, fqmax * inv, hi)
            x = xp.maximum(xp.minimum(x, hi2), lo2)
        y = x * scale
        r = xp.floor(y + np.asarray(0.5, dt)) if half_up else xp.round(y)
        return (r * inv).astype(dt)


def _qdq_infer(ctx: InferContext) -> list[TensorType]:
    x = ctx.types[0]
    if x.dtype not in _FLOATS:
        raise ctx.fail(f"input must be a float, got {x.dtype}")
    axis = ctx.attrs["axis"]
    if axis != -1 and ctx.attrs["range_given"] and ctx.op != "QuantizeAndDequantizeV3":
        raise ctx.fail(
            "range_given with an axis: TensorFlow's kernel runs this in no form (its checks want "
            "input_min both a scalar and a vector); QuantizeAndDequantizeV3 accepts it"
        )
    if x.shape is not None and axis != -1 and not -len(x.shape) <= axis < len(x.shape):
        raise ctx.fail(f"axis {axis} out of range for {x}")
    if ctx.op == "QuantizeAndDequantizeV3":
        bits = ctx.ints(3)
        if bits is None:
            raise ctx.fail("num_bits (input 3) must be known at compile time")
        b = bits[0]
    else:
        b = ctx.attrs["num_bits"]
        if ctx.attrs.get("round_mode", "HALF_TO_EVEN") not in ("HALF_TO_EVEN", "HALF_UP"):
            raise ctx.fail(f"round_mode {ctx.attrs['round_mode']!r} is not HALF_TO_EVEN or HALF_UP")
    lo_bits = 1 if ctx.attrs["signed_input"] else 0
    if not lo_bits < b <= (63 if x.dtype == "float64" else 31):
        raise ctx.fail(f"num_bits {b} is out of range")
    return [x]


def _qdq_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Scales by a range: given (range_given), elementwise with it; else the input's min and max,
    over the whole tensor (rows mix) or per slice along ``axis`` (rows stay when that is their axis)"""
    x, rng = ins[0], ins[1:3]
    if node.attrs["range_given"]:
        if any(s.kind != "free" for s in rng):
            return [mixed(node, f"its quantization range depends on {symbol}")]
        return [x]
    if x.kind != "rows":
        return [x]
    rank = len(node.inputs[0].type.shape or ())
    axis = node.attrs["axis"]
    if axis != -1 and rank and axis % rank == x.axis and x.plain:
        return [x]
    return [mixed(node, f"its range is the min and max over {symbol}-indexed elements")]


_QDQ_ATTRS = [
    Attr("signed_input", "bool", True),
    Attr("range_given", "bool", False),
    Attr("narrow_range", "bool", False),
    Attr("axis", "int", -1),
]
_QDQ_DOC = (
    "x scaled to a signed or unsigned num_bits grid that keeps 0 exact, rounded ({}), scaled back; "
    "range from the input (per axis slice) unless range_given"
)


def _qdq_v2(xp: Any, a: dict[str, Any], x: Any, lo: Any, hi: Any) -> Any:
    half_up = a["round_mode"] == "HALF_UP"
    return _qdq(
        xp,
        x,
        lo,
        hi,
        a["num_bits"],
        a["signed_input"],
        a["range_given"],
        a["narrow_range"],
        a["axis"],
        half_up,
    )


for _op in ("QuantizeAndDequantizeV2", "QuantizeAndDequantizeV4"):
    register(
        _op,
        inputs=3,
        attrs=[*_QDQ_ATTRS, Attr("num_bits", "int", 8), Attr("round_mode", "str", "HALF_TO_EVEN")],
        infer=_qdq_infer,
        xp_fn=_qdq_v2,
        doc=_QDQ_DOC.format("round_mode: half to even or half up"),
        padding_rule=_qdq_padding,
    )


def _qdq_v3(xp: Any, a: dict[str, Any], x: Any, lo: Any, hi: Any, bits: Any) -> Any:
    if not isinstance(bits, (np.ndarray, np.generic)):
        raise ValueError("QuantizeAndDequantizeV3's num_bits must be known at compile time")
    b = int(np.asarray(bits))
    return _qdq(xp, x, lo, hi, b, a["signed_input"], a["range_given"], a["narrow_range"], a["axis"], False)


register(
    "QuantizeAndDequantizeV3",
    inputs=4,
    attrs=_QDQ_ATTRS,
    infer=_qdq_infer,
    xp_fn=_qdq_v3,
    doc=_QDQ_DOC.format("half to even; num_bits an input, known at compile time"),
    padding_rule=_qdq_padding,
)
