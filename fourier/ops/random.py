"""Random numbers: TensorFlow's counter-based generator (Philox4x32-10), bit for bit.

The stateless ops (``StatelessRandomUniformV2`` and its kin, alg = Philox; the V1 forms and
``StatelessRandomGetKeyCounter``, which derive key and counter from a seed pair as
``tf.random.stateless_*`` graphs do) are functions of their key, counter and shape: their reference and lowering compute TensorFlow's CPU kernels' values, the
same Philox blocks laid out the same way and converted to floats with the same bit tricks (23
random mantissa bits for float32; Box-Muller for normals; truncated normals by rejection, each
group of outputs starting where TensorFlow reserves its words: 256 per output).

The stateful ops (``RandomUniform``, ``RandomStandardNormal``, ``TruncatedNormal``,
``RandomUniformInt``) draw new values on every call by design, so no answer can equal TensorFlow's
on every call. Fourier's strategy: **each is the stateless op keyed by its seed pair**. TensorFlow
keys such an op's generator with (``seed``, ``seed2``) and starts its counter at zero, so Fourier's
values equal the values the TensorFlow op gives on its *first* call in a fresh session, and then
the same values on every call (a served model is deterministic). Both seeds zero means
"nondeterministic" in TensorFlow: such a node is refused at import, naming it, since no seeded
answer could be the one TensorFlow would give (set a seed, or freeze with the op removed).

Uniform floats and integers are bit-exact (reference and lowering). Normals take float32 ``log``,
``sin`` and ``cos`` in Box-Muller, which glibc, numpy and XLA round differently in the last bit now
and then: measured on 37,000 values, float32 normals within 4 ulps of TensorFlow's (the lowering 2),
float64 within 2, float16 exact. A candidate within those ulps of the truncation bound 2 could be
rejected on one side and not the other, shifting its group. A truncated-normal group that rejects
more than 60 of its first 64 candidates (probability below 1e-70) is not reproduced: the lowering
looks no further.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import TensorType
from fourier.ops.padding import FREE, State, mixed
from fourier.ops.registry import Attr, InferContext, register

__all__ = ["philox"]

_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # Philox4x32 multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # key schedule (golden ratio, sqrt(3) - 1)
_MASK16 = 0xFFFF
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_PHILOX, _AUTO = 1, 3  # TensorFlow's Algorithm enum: auto-select is Philox on the CPU
_TRUNC_BLOCKS = 16  # Philox blocks the lowering draws per truncated-normal group (64 candidates)


def _u32(xp: Any, v: Any) -> Any:
    return xp.asarray(v, dtype=np.uint32)


def _mulhilo(xp: Any, a: int, b: Any) -> tuple[Any, Any]:
    """The high and low 32 bits of ``a * b`` in uint32 arithmetic only (16-bit limbs), so the
    lowering needs no 64-bit integers."""
    a0, a1 = _u32(xp, a & _MASK16), _u32(xp, a >> 16)
    b0, b1 = b & _u32(xp, _MASK16), b >> _u32(xp, 16)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    s16, m16 = _u32(xp, 16), _u32(xp, _MASK16)
    mid = (p00 >> s16) + (p01 & m16) + (p10 & m16)
    hi = p11 + (p01 >> s16) + (p10 >> s16) + (mid >> s16)
    return hi, b * _u32(xp, a)


def philox(xp: Any, key: tuple[Any, Any], counter: list[Any]) -> list[Any]:
    """Philox4x32-10 of counter words (uint32 arrays of one shape) under a key: four words."""
    c = list(counter)
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = k0 + _u32(xp, _W0), k1 + _u32(xp, _W1)
        hi0, lo0 = _mulhilo(xp, _M0, c[0])
        hi1, lo1 = _mulhilo(xp, _M1, c[2])
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return c


def _blocks(xp: Any, key: tuple[Any, Any], base: list[Any], lo: Any, hi: Any) -> list[Any]:
    """Philox of the counters ``base + (hi << 32 | lo)`` (128-bit addition)."""
    one, zero = _u32(xp, 1), _u32(xp, 0)
    w0 = base[0] + lo
    c0 = xp.where(w0 < lo, one, zero)
    t = hi + c0
    w1 = base[1] + t
    c1 = xp.where(w1 < t, one, zero)
    w2 = base[2] + c1
    c2 = xp.where(w2 < c1, one, zero)
    w3 = base[3] + c2
    return philox(xp, key, [w0, w1, w2, w3])


def _stream(xp: Any, key: tuple[Any, Any], base: list[Any], n_blocks: int) -> Any:
    """The words of ``n_blocks`` consecutive Philox blocks, in order: [n_blocks * 4] uint32."""
    idx = xp.arange(n_blocks, dtype=np.uint32)
    words = _blocks(xp, key, base, idx, xp.zeros_like(idx))
    return xp.stack(words, axis=-1).reshape(-1)


def _bitcast(xp: Any, x: Any, dtype: Any) -> Any:
    if xp is np:
        return np.asarray(x).view(dtype)
    import jax

    return jax.lax.bitcast_convert_type(x, dtype)


def _unit(xp: Any, words: Any, dtype: str) -> Any:
    """TensorFlow's conversion of random words to [0, 1): a mantissa of random bits under the
    exponent of 1.0, minus 1.0. float64 takes two words per value (the first gives the high 20
    mantissa bits), the 16-bit types the low bits of one word."""
    if dtype == "float32":
        bits = (words & _u32(xp, 0x7FFFFF)) | _u32(xp, 0x3F800000)
        return _bitcast(xp, bits, np.float32) - np.float32(1.0)
    if dtype == "float64":
        w = words.reshape(-1, 2)
        hi = (w[:, 0] & _u32(xp, 0xFFFFF)) | _u32(xp, 0x3FF00000)
        pair = xp.stack([w[:, 1], hi], axis=-1)  # little-endian: low word first
        return _bitcast(xp, pair, np.float64).reshape(-1) - np.float64(1.0)
    if dtype == "float16":
        bits = ((words & _u32(xp, 0x3FF)) | _u32(xp, 15 << 10)).astype(np.uint16)
        return _bitcast(xp, bits, np.float16) - np.float16(1.0)
    import ml_dtypes

    bits = ((words & _u32(xp, 0x7F)) | _u32(xp, 127 << 7)).astype(np.uint16)
    return _bitcast(xp, bits, ml_dtypes.bfloat16) - ml_dtypes.bfloat16(1.0)


def _box_muller(xp: Any, words: Any, wide: bool) -> tuple[Any, Any]:
    """Pairs of normals from pairs (float64: quadruples) of words, as TensorFlow computes them:
    u1 clamped to 1e-7, v1 = 2 pi u2 (product in double), f0 = sin(v1) r, f1 = cos(v1) r."""
    if wide:
        w = words.reshape(-1, 4)
        u1 = _unit(xp, w[:, :2].reshape(-1), "float64")
        u2 = _unit(xp, w[:, 2:].reshape(-1), "float64")
        u1 = xp.maximum(u1, np.float64(1e-7))
        v1 = np.float64(2 * np.pi) * u2
        r = xp.sqrt(np.float64(-2.0) * xp.log(u1))
        return xp.sin(v1) * r, xp.cos(v1) * r
    w = words.reshape(-1, 2)
    u1 = xp.maximum(_unit(xp, w[:, 0], "float32"), np.float32(1e-7))
    u2 = _unit(xp, w[:, 1], "float32")
    v1 = (np.float64(2 * np.pi) * u2.astype(np.float64)).astype(np.float32)
    r = xp.sqrt(np.float32(-2.0) * xp.log(u1))
    return xp.sin(v1) * r, xp.cos(v1) * r


def _interleave(xp: Any, a: Any, b: Any) -> Any:
    return xp.stack([a, b], axis=-1).reshape(-1)


def _sample(xp: Any, kind: str, dtype: str, n: int, key: tuple[Any, Any], base: list[Any], lohi: Any) -> Any:
    """``n`` values of a distribution, flat, as TensorFlow's CPU kernels lay them out."""
    wide = dtype == "float64"
    if n == 0:
        return xp.zeros((0,), dtype=dtype if kind != "int" else ("int64" if lohi[2] else "int32"))
    if kind == "uniform":
        per = 2 if wide else 4
        words = _stream(xp, key, base, -(-n // per))
        return _unit(xp, words, dtype)[:n]
    if kind == "normal":
        per = 2 if wide else 4
        f0, f1 = _box_muller(xp, _stream(xp, key, base, -(-n // per)), wide)
        return _interleave(xp, f0, f1)[:n].astype(dtype)
    if kind == "truncated":
        return _truncated(xp, dtype, n, key, base)
    lo, span, int64 = lohi  # uniform integers: lo + bits % span
    if int64:
        words = _stream(xp, key, base, -(-n // 2)).reshape(-1, 2)
        bits = _bitcast(xp, xp.stack([words[:, 0], words[:, 1]], axis=-1), np.uint64).reshape(-1)
        return (lo + (bits[:n] % span).astype(np.int64)).astype(np.int64)
    words = _stream(xp, key, base, -(-n // 4))[:n]
    return (lo.astype(np.uint32) + words % span).astype(np.int32)


def _truncated(xp: Any, dtype: str, n: int, key: tuple[Any, Any], base: list[Any]) -> Any:
    """Truncated normals: each group of outputs (4, float64: 2) starts 256 (float64: 128) Philox
    blocks after the last and takes the first normals of magnitude under 2, in the order Box-Muller makes them."""
    wide = dtype == "float64"
    group = 2 if wide else 4
    groups = -(-n // group)
    g = xp.arange(groups, dtype=np.uint32)
    j = xp.arange(_TRUNC_BLOCKS, dtype=np.uint32)
    shift = 7 if wide else 8  # TensorFlow reserves 256 words per output: 128 or 256 blocks a group
    lo = (g[:, None] << _u32(xp, shift)) + j[None, :]  # j < 128: no carry
    hi = xp.broadcast_to(g[:, None] >> _u32(xp, 32 - shift), lo.shape)
    words = xp.stack(_blocks(xp, key, base, lo, hi), axis=-1).reshape(groups, -1)
    f0, f1 = _box_muller(xp, words.reshape(-1), wide)
    cand = _interleave(xp, f0, f1).reshape(groups, -1)
    ok = xp.abs(cand) < (np.float64(2.0) if wide else np.float32(2.0))
    # the k-th accepted candidate of each group: rank accepted ones, pick rank k
    rank = xp.cumsum(ok.astype(np.int32), axis=1) - 1
    picks = []
    for k in range(group):
        hit = ok & (rank == k)
        pos = xp.argmax(hit, axis=1)
        picks.append(xp.take_along_axis(cand, pos[:, None], axis=1)[:, 0])
    return xp.stack(picks, axis=-1).reshape(-1)[:n].astype(dtype)


# -- operands -----------------------------------------------------------------------------------


def _split64(xp: Any, v: Any) -> tuple[Any, Any]:
    v = v.astype(np.uint64)
    return (v & np.uint64(0xFFFFFFFF)).astype(np.uint32), (v >> np.uint64(32)).astype(np.uint32)


def _key_counter(xp: Any, key: Any, counter: Any, alg: Any, op: str) -> tuple[tuple[Any, Any], list[Any]]:
    a = int(np.asarray(alg))
    if a not in (_PHILOX, _AUTO):
        raise ValueError(f"{op}: algorithm {a} is not Philox (1) or auto-select (3)")
    k = _split64(xp, xp.reshape(key, (-1,))[0])
    c = xp.reshape(counter, (-1,))
    c0, c1 = _split64(xp, c[0]), _split64(xp, c[1])
    return k, [c0[0], c0[1], c1[0], c1[1]]


def _seeds(attrs: dict[str, Any]) -> tuple[tuple[Any, Any], list[Any]]:
    """TensorFlow's stateful generator: key = seed, counter = (0, 0, seed2)."""
    s, s2 = int(attrs["seed"]) & (2**64 - 1), int(attrs["seed2"]) & (2**64 - 1)
    w = [np.uint32(x) for x in (s & 0xFFFFFFFF, s >> 32, s2 & 0xFFFFFFFF, s2 >> 32)]
    return (w[0], w[1]), [np.uint32(0), np.uint32(0), w[2], w[3]]


def _static_shape(shape: Any, op: str) -> tuple[int, ...]:
    if not isinstance(shape, (np.ndarray, np.generic)):
        raise ValueError(f"{op}'s shape must be known at compile time")
    return tuple(int(d) for d in np.asarray(shape).reshape(-1))


def _shape_type(ctx: InferContext, dtype: str) -> TensorType:
    dims = ctx.dims(0)
    if ctx.types[0].dtype not in ("int32", "int64"):
        raise ctx.fail(f"shape must be int32 or int64, got {ctx.types[0].dtype}")
    if dims is None:
        raise ctx.fail("the output shape must be known at compile time (a constant after folding)")
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise ctx.fail(f"shape {dims} has a negative dimension")
    return TensorType(dtype, tuple(dims))


def _random_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Random values laid out over the output shape: free if the shape and parameters are; a
    size that depends on the symbol moves every later value, so that mixes"""
    if all(s.kind == "free" for s in ins):
        return [FREE]
    return [mixed(node, f"random values over a shape or parameters that depend on {symbol}")]


_DOC_STATEFUL = (
    "; stateful in TensorFlow: Fourier keys Philox by the seed pair, equal to TensorFlow's first "
    "call and the same on every call (both seeds 0 refused)"
)


def _float_infer(ctx: InferContext) -> list[TensorType]:
    if ctx.attrs["dtype"] not in _FLOATS:
        raise ctx.fail(f"dtype must be one of {', '.join(_FLOATS)}, got {ctx.attrs['dtype']}")
    return [_shape_type(ctx, ctx.attrs["dtype"])]


def _stateful_float_infer(ctx: InferContext) -> list[TensorType]:
    _check_seeded(ctx)
    return _float_infer(ctx)


def _check_seeded(ctx: InferContext) -> None:
    if int(ctx.attrs["seed"]) == 0 and int(ctx.attrs["seed2"]) == 0:
        raise ctx.fail(
            "a stateful random op with seed = seed2 = 0 draws different values on every call "
            "(TensorFlow seeds it nondeterministically): Fourier cannot give TensorFlow's answer. "
            "Give the op a seed (Fourier then keys it by the seed pair, equal to TensorFlow's first "
            "call), use a stateless random op, or freeze the graph with the op removed"
        )


def _register_float(op: str, kind: str, what: str) -> None:
    def stateless(xp: Any, a: dict[str, Any], shape: Any, key: Any, counter: Any, alg: Any) -> Any:
        dims = _static_shape(shape, op)
        k, c = _key_counter(xp, key, counter, alg, op)
        n = int(np.prod(dims, dtype=np.int64))
        return _sample(xp, kind, a["dtype"], n, k, c, None).reshape(dims)

    register(
        op,
        inputs=4,
        attrs=[Attr("dtype", "type", "float32"), Attr("Tshape", "type", "int32")],
        infer=_float_infer,
        xp_fn=stateless,
        doc=f"{what} values of the given shape from Philox (key, counter; alg Philox), TensorFlow's bits",
        padding_rule=_random_padding,
    )


def _register_stateful(op: str, kind: str, what: str) -> None:
    def stateful(xp: Any, a: dict[str, Any], shape: Any) -> Any:
        dims = _static_shape(shape, op)
        k, c = _seeds(a)
        key = (_u32(xp, k[0]), _u32(xp, k[1]))
        n = int(np.prod(dims, dtype=np.int64))
        return _sample(xp, kind, a["dtype"], n, key, [_u32(xp, w) for w in c], None).reshape(dims)

    register(
        op,
        inputs=1,
        attrs=[Attr("dtype", "type", "float32"), Attr("seed", "int", 0), Attr("seed2", "int", 0)],
        infer=_stateful_float_infer,
        xp_fn=stateful,
        traits=("pure", "no_fold"),
        doc=f"{what} values of the given shape{_DOC_STATEFUL}",
        padding_rule=_random_padding,
    )


_register_float("StatelessRandomUniformV2", "uniform", "uniform [0, 1)")
_register_float("StatelessRandomNormalV2", "normal", "standard normal (Box-Muller)")
_register_float(
    "StatelessTruncatedNormalV2", "truncated", "standard normal truncated to (-2, 2) by rejection"
)
_register_stateful("RandomUniform", "uniform", "uniform [0, 1)")
_register_stateful("RandomStandardNormal", "normal", "standard normal (Box-Muller)")
_register_stateful("TruncatedNormal", "truncated", "standard normal truncated to (-2, 2)")

# -- uniform integers ---------------------------------------------------------------------------


def _int_infer(ctx: InferContext, first_bound: int) -> list[TensorType]:
    dt = ctx.types[first_bound].dtype
    if dt not in ("int32", "int64"):
        raise ctx.fail(f"bounds must be int32 or int64, got {dt}")
    for i in (first_bound, first_bound + 1):
        t = ctx.types[i]
        if t.dtype != dt or (t.shape is not None and t.shape != ()):
            raise ctx.fail(f"minval and maxval must be {dt} scalars, got {t}")
    lo, hi = ctx.ints(first_bound), ctx.ints(first_bound + 1)
    if lo is not None and hi is not None and lo[0] >= hi[0]:
        raise ctx.fail(f"minval {lo[0]} must be below maxval {hi[0]}")
    return [_shape_type(ctx, dt)]


def _uniform_int(xp: Any, n: int, key: tuple[Any, Any], base: list[Any], lo: Any, hi: Any, dtype: str) -> Any:
    """TensorFlow's UniformDistribution over integers: lo + bits % (hi - lo), the span taken
    unsigned (int64: two words per value, the first the low half)."""
    if dtype == "int64":
        span = (hi.astype(np.int64) - lo.astype(np.int64)).astype(np.uint64)
        return _sample(xp, "int", dtype, n, key, base, (lo.astype(np.int64), span, True))
    span = (hi.astype(np.int32) - lo.astype(np.int32)).astype(np.uint32)
    return _sample(xp, "int", dtype, n, key, base, (lo.astype(np.int32), span, False))


def _stateless_int(
    xp: Any, a: dict[str, Any], shape: Any, key: Any, counter: Any, alg: Any, lo: Any, hi: Any
) -> Any:
    dims = _static_shape(shape, "StatelessRandomUniformIntV2")
    k, c = _key_counter(xp, key, counter, alg, "StatelessRandomUniformIntV2")
    n = int(np.prod(dims, dtype=np.int64))
    return _uniform_int(xp, n, k, c, xp.asarray(lo), xp.asarray(hi), np.dtype(lo.dtype).name).reshape(dims)


register(
    "StatelessRandomUniformIntV2",
    inputs=6,
    attrs=[Attr("dtype", "type", "int32"), Attr("Tshape", "type", "int32")],
    infer=lambda ctx: _int_infer(ctx, 4),
    xp_fn=_stateless_int,
    doc="integers in [minval, maxval) from Philox (key, counter), TensorFlow's bits (lo + bits % span)",
    padding_rule=_random_padding,
)


def _stateful_int_infer(ctx: InferContext) -> list[TensorType]:
    _check_seeded(ctx)
    return _int_infer(ctx, 1)


def _stateful_int(xp: Any, a: dict[str, Any], shape: Any, lo: Any, hi: Any) -> Any:
    dims = _static_shape(shape, "RandomUniformInt")
    k, c = _seeds(a)
    n = int(np.prod(dims, dtype=np.int64))
    key = (_u32(xp, k[0]), _u32(xp, k[1]))
    base = [_u32(xp, w) for w in c]
    return _uniform_int(xp, n, key, base, xp.asarray(lo), xp.asarray(hi), np.dtype(lo.dtype).name).reshape(
        dims
    )


register(
    "RandomUniformInt",
    inputs=3,
    attrs=[Attr("seed", "int", 0), Attr("seed2", "int", 0)],
    infer=_stateful_int_infer,
    xp_fn=_stateful_int,
    traits=("pure", "no_fold"),
    doc=f"integers in [minval, maxval){_DOC_STATEFUL}",
    padding_rule=_random_padding,
)

# -- seeds: StatelessRandomGetKeyCounter and the V1 stateless ops ---------------------------------
# tf.random.stateless_* turn a seed pair into a key and counter by one Philox block under a fixed
# key (TensorFlow's GenerateKey): the seed words are the counter; the block's first two words are
# the key, its last two the counter's high half.

_SEED_MIX = (0x3EC8F720, 0x02461E29)


def _from_seed(xp: Any, seed: Any) -> tuple[tuple[Any, Any], list[Any]]:
    s = xp.reshape(seed, (-1,)).astype(np.int64).astype(np.uint64)  # int32 seeds sign-extend
    s0, s1 = _split64(xp, s[0]), _split64(xp, s[1])
    m = philox(xp, (_u32(xp, _SEED_MIX[0]), _u32(xp, _SEED_MIX[1])), [s0[0], s0[1], s1[0], s1[1]])
    zero = _u32(xp, 0)
    return (m[0], m[1]), [zero, zero, m[2], m[3]]


def _join64(xp: Any, lo: Any, hi: Any) -> Any:
    return lo.astype(np.uint64) | (hi.astype(np.uint64) << np.uint64(32))


def _seed_infer(ctx: InferContext, i: int) -> None:
    t = ctx.types[i]
    if t.dtype not in ("int32", "int64"):
        raise ctx.fail(f"seed must be int32 or int64, got {t.dtype}")
    if t.shape is not None and t.shape != (2,):
        raise ctx.fail(f"seed must have shape [2], got {t}")


def _get_key_counter_infer(ctx: InferContext) -> list[TensorType]:
    _seed_infer(ctx, 0)
    return [TensorType("uint64", (1,)), TensorType("uint64", (2,))]


def _get_key_counter(xp: Any, a: dict[str, Any], seed: Any) -> tuple[Any, Any]:
    key, c = _from_seed(xp, seed)
    k = _join64(xp, key[0], key[1]).reshape(1)
    return k, xp.stack([_join64(xp, c[0], c[1]), _join64(xp, c[2], c[3])])


register(
    "StatelessRandomGetKeyCounter",
    inputs=1,
    attrs=[Attr("Tseed", "type", "int64")],
    infer=_get_key_counter_infer,
    xp_fn=_get_key_counter,
    doc="the Philox key [1] and counter [2] (uint64) TensorFlow derives from a seed pair",
    padding_rule=_random_padding,
)


def _v1_float_infer(ctx: InferContext) -> list[TensorType]:
    _seed_infer(ctx, 1)
    return _float_infer(ctx)


def _register_v1(op: str, kind: str, what: str) -> None:
    def v1(xp: Any, a: dict[str, Any], shape: Any, seed: Any) -> Any:
        dims = _static_shape(shape, op)
        k, c = _from_seed(xp, seed)
        n = int(np.prod(dims, dtype=np.int64))
        return _sample(xp, kind, a["dtype"], n, k, c, None).reshape(dims)

    register(
        op,
        inputs=2,
        attrs=[Attr("dtype", "type", "float32"), Attr("T", "type", "int32"), Attr("Tseed", "type", "int64")],
        infer=_v1_float_infer,
        xp_fn=v1,
        doc=f"{what} values of the given shape from a seed pair (Philox), TensorFlow's bits",
        padding_rule=_random_padding,
    )


_register_v1("StatelessRandomUniform", "uniform", "uniform [0, 1)")
_register_v1("StatelessRandomNormal", "normal", "standard normal (Box-Muller)")
_register_v1("StatelessTruncatedNormal", "truncated", "standard normal truncated to (-2, 2)")


def _v1_int_infer(ctx: InferContext) -> list[TensorType]:
    _seed_infer(ctx, 1)
    return _int_infer(ctx, 2)


def _v1_int(xp: Any, a: dict[str, Any], shape: Any, seed: Any, lo: Any, hi: Any) -> Any:
    dims = _static_shape(shape, "StatelessRandomUniformInt")
    k, c = _from_seed(xp, seed)
    n = int(np.prod(dims, dtype=np.int64))
    return _uniform_int(xp, n, k, c, xp.asarray(lo), xp.asarray(hi), np.dtype(lo.dtype).name).reshape(dims)


register(
    "StatelessRandomUniformInt",
    inputs=4,
    attrs=[Attr("dtype", "type", "int32"), Attr("T", "type", "int32"), Attr("Tseed", "type", "int64")],
    infer=_v1_int_infer,
    xp_fn=_v1_int,
    doc="integers in [minval, maxval) from a seed pair (Philox), TensorFlow's bits",
    padding_rule=_random_padding,
)
