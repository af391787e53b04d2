"""Random valid TensorFlow inference graphs, for differential testing against TensorFlow.

`random_graph(seed)` builds, with TensorFlow, a frozen graph of 4-14 ops drawn from the op set
Fourier supports: elementwise math, dense layers and einsums, reductions, softmax, layer norm,
reshapes and transposes, slices, concat, tile, pad, gathers from embedding tables, select, cumsum,
top-k, casts. Shapes are tracked so every op is valid; values are kept in ranges where float32
results are well conditioned (squashing before exp, divisors bounded away from 0). Ops whose
result is discrete (floor, comparisons, argmax, casts to int, top-k indices) are only applied to
values computed exactly (inputs and +, -, *, max, min, abs of them), so that a last-bit difference
in, say, a matmul can never flip them, and argmax gets distinct values (TensorFlow does not
specify which of tied maxima it returns): a mismatch is a real bug.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RandomGraph", "random_graph", "random_feeds"]


@dataclass
class RandomGraph:
    graph_def: bytes
    inputs: dict[str, tuple[str, tuple[int, ...], float, float]]  # name -> dtype, shape, low, high
    outputs: list[str]
    ops: list[str]  # what was drawn, for failure messages


@dataclass
class _T:
    t: Any
    width: int  # the tensor is [N, width] (float32 unless ids)
    exact: bool


def random_feeds(g: RandomGraph, batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, (dtype, shape, low, high) in g.inputs.items():
        full = (batch, *shape)
        if dtype.startswith("int"):
            feeds[name] = rng.integers(int(low), int(high), full).astype(dtype)
        else:
            feeds[name] = rng.uniform(low, high, full).astype(dtype)
    return feeds


def random_graph(seed: int, steps: tuple[int, int] = (4, 14)) -> RandomGraph:
    """A random row-local graph over a float input ``x [N, F]`` and an id input ``ids [N, K]``."""
    import tensorflow as tf

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    width, bag, vocab = rng.randint(2, 8), rng.randint(1, 4), rng.randint(5, 50)
    graph = tf.Graph()
    drawn: list[str] = []
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, width], name="x")
        ids = tf.compat.v1.placeholder(tf.int32, [None, bag], name="ids")
        pool = [_T(x, width, True)]

        def const(*shape: int, scale: float = 1.0) -> Any:
            return tf.constant(nrng.uniform(-scale, scale, shape).astype(np.float32))

        def pick(exact: bool = False) -> _T:
            candidates = [p for p in pool if p.exact] if exact else pool
            return rng.choice(candidates or pool)

        def smooth(a: _T) -> _T:
            fn = rng.choice(
                [
                    ("tanh", tf.tanh),
                    ("sigmoid", tf.sigmoid),
                    ("sin", tf.sin),
                    ("cos", tf.cos),
                    ("erf", tf.math.erf),
                    ("softsign", tf.math.softsign),
                    ("softplus", lambda v: tf.nn.softplus(tf.tanh(v))),
                    ("elu", tf.nn.elu),
                    ("selu", tf.nn.selu),
                    ("exp", lambda v: tf.exp(tf.tanh(v))),
                    ("log1p", lambda v: tf.math.log1p(tf.abs(v))),
                    ("sqrt", lambda v: tf.sqrt(tf.abs(v) + 1.0)),
                    ("rsqrt", lambda v: tf.math.rsqrt(tf.abs(v) + 1.0)),
                    ("reciprocal", lambda v: tf.math.reciprocal(tf.abs(v) + 1.0)),
                    ("leaky_relu", lambda v: tf.nn.leaky_relu(v, 0.1)),
                    ("relu6", tf.nn.relu6),
                    ("square", lambda v: tf.square(tf.tanh(v))),
                    ("gelu", lambda v: tf.nn.gelu(v, approximate=rng.random() < 0.5)),
                ]
            )
            drawn.append(fn[0])
            return _T(fn[1](a.t), a.width, False)

        def exact_unary(a: _T) -> _T:
            name, fn = rng.choice(
                [
                    ("abs", tf.abs),
                    ("neg", tf.negative),
                    ("relu", tf.nn.relu),
                    ("scale", lambda v: v * 2.0 - 0.5),
                ]
            )
            drawn.append(name)
            return _T(fn(a.t), a.width, a.exact)

        def binary(a: _T) -> _T:
            b = rng.choice([p for p in pool if p.width == a.width] + [None])
            other = b.t if b is not None else const(a.width)
            exact = a.exact and (b is None or b.exact)
            name, fn, keeps = rng.choice(
                [
                    ("add", tf.add, True),
                    ("sub", tf.subtract, True),
                    ("mul", tf.multiply, True),
                    ("maximum", tf.maximum, True),
                    ("minimum", tf.minimum, True),
                    ("div", lambda u, v: u / (tf.abs(v) + 1.0), False),
                    (
                        "squared_difference",
                        lambda u, v: tf.math.squared_difference(tf.tanh(u), tf.tanh(v)),
                        False,
                    ),
                    ("pow", lambda u, v: tf.pow(tf.abs(u) + 0.5, tf.tanh(v)), False),
                ]
            )
            drawn.append(name)
            return _T(fn(a.t, other), a.width, exact and keeps)

        def dense(a: _T) -> _T:
            out = rng.randint(1, 8)
            w, b = const(a.width, out, scale=1.0 / np.sqrt(a.width)), const(out, scale=0.1)
            kind = rng.choice(["matmul", "einsum", "matmul_bias_relu"])
            drawn.append(kind)
            if kind == "einsum":
                return _T(tf.einsum("nf,fo->no", a.t, w), out, False)
            y = tf.matmul(a.t, w)
            return _T(tf.nn.relu(tf.nn.bias_add(y, b)) if kind == "matmul_bias_relu" else y, out, False)

        def reduce(a: _T) -> _T:
            name, fn = rng.choice(
                [
                    ("sum", tf.reduce_sum),
                    ("mean", tf.reduce_mean),
                    ("max", tf.reduce_max),
                    ("min", tf.reduce_min),
                    ("prod", lambda v, **k: tf.reduce_prod(tf.tanh(v), **k)),
                ]
            )
            drawn.append(f"reduce_{name}")
            return _T(fn(a.t, axis=1, keepdims=True), 1, a.exact and name in ("max", "min"))

        def normalize(a: _T) -> _T:
            kind = rng.choice(["softmax", "log_softmax", "layer_norm"])
            drawn.append(kind)
            if kind == "softmax":
                return _T(tf.nn.softmax(a.t), a.width, False)
            if kind == "log_softmax":
                return _T(tf.nn.log_softmax(a.t), a.width, False)
            mean, var = tf.nn.moments(a.t, axes=[1], keepdims=True)
            return _T((a.t - mean) * tf.math.rsqrt(var + 1e-3), a.width, False)

        def reshape(a: _T) -> _T:
            if a.width < 2 or a.width % 2:
                return exact_unary(a)
            half = a.width // 2
            kind = rng.choice(["reshape_transpose", "reshape_softmax_axis1", "expand_squeeze"])
            drawn.append(kind)
            r = tf.reshape(a.t, [-1, 2, half])
            if kind == "reshape_transpose":
                r = tf.transpose(r, [0, 2, 1])
            elif kind == "reshape_softmax_axis1":
                r = tf.nn.softmax(r, axis=1)
                return _T(tf.reshape(r, [-1, a.width]), a.width, False)
            else:
                r = tf.squeeze(tf.expand_dims(r, 1), axis=1)
            return _T(tf.reshape(r, [-1, a.width]), a.width, a.exact)

        def slice_concat(a: _T) -> _T:
            kind = rng.choice(["slice", "concat", "tile", "pad", "reverse_features"])
            drawn.append(kind)
            if kind == "slice" and a.width > 1:
                lo = rng.randrange(a.width - 1)
                hi = rng.randrange(lo + 1, a.width + 1)
                return _T(a.t[:, lo:hi], hi - lo, a.exact)
            if kind == "concat":
                b = pick()
                return _T(tf.concat([a.t, b.t], axis=1), a.width + b.width, a.exact and b.exact)
            if kind == "tile":
                return _T(tf.tile(a.t, [1, 2]), 2 * a.width, a.exact)
            if kind == "pad":
                return _T(tf.pad(a.t, [[0, 0], [1, 2]], constant_values=0.5), a.width + 3, a.exact)
            return _T(a.t[:, ::-1], a.width, a.exact)

        def discrete(a: _T) -> _T:
            src = pick(exact=True)
            kind = rng.choice(
                ["floor", "ceil", "sign", "greater_select", "argmax", "cast_int", "top_k", "cumsum"]
            )
            drawn.append(kind)
            v = src.t
            if kind == "floor":
                return _T(tf.floor(v * 1.5), src.width, True)
            if kind == "ceil":
                return _T(tf.math.ceil(v * 1.5), src.width, True)
            if kind == "sign":
                return _T(tf.sign(v), src.width, True)
            if kind == "greater_select":
                other = a.t if a.width == src.width else tf.zeros_like(v)
                return _T(
                    tf.where(v > 0.25, v, other), src.width, src.exact and (a.width != src.width or a.exact)
                )
            if kind == "argmax":  # TF leaves the index of tied maxima unspecified: break ties
                tie_break = tf.constant(np.arange(src.width, dtype=np.float32) * 1e-3)
                return _T(tf.cast(tf.expand_dims(tf.argmax(v + tie_break, axis=1), 1), tf.float32), 1, True)
            if kind == "cast_int":
                return _T(tf.cast(tf.cast(v * 3.0, tf.int32), tf.float32), src.width, True)
            if kind == "top_k":
                k = rng.randint(1, src.width)
                return _T(tf.math.top_k(v, k).values, k, True)
            return _T(tf.cumsum(v, axis=1, reverse=rng.random() < 0.5), src.width, False)

        def embed(a: _T) -> _T:
            dim = rng.randint(1, 6)
            table = const(vocab, dim)
            kind = rng.choice(["gather_sum", "gather_mean", "gather_flat", "one_hot"])
            drawn.append(kind)
            if kind == "one_hot":
                return _T(tf.reduce_sum(tf.one_hot(ids, vocab), axis=1), vocab, True)
            e = tf.gather(table, ids)  # [N, bag, dim]
            if kind == "gather_flat":
                return _T(tf.reshape(e, [-1, bag * dim]), bag * dim, True)
            fn = tf.reduce_sum if kind == "gather_sum" else tf.reduce_mean
            return _T(fn(e, axis=1), dim, False)

        makers = [
            smooth,
            exact_unary,
            binary,
            dense,
            reduce,
            normalize,
            reshape,
            slice_concat,
            discrete,
            embed,
        ]
        for _ in range(rng.randint(*steps)):
            pool.append(rng.choice(makers)(pick()))
        chosen = [pool[-1]] + ([rng.choice(pool[1:-1])] if len(pool) > 2 and rng.random() < 0.4 else [])
        outputs = []
        for i, o in enumerate(chosen):
            tf.identity(o.t, name=f"out{i}")
            outputs.append(f"out{i}")
    return RandomGraph(
        graph.as_graph_def().SerializeToString(),
        {"x": ("float32", (width,), -2.0, 2.0), "ids": ("int32", (bag,), 0, vocab)},
        outputs,
        drawn,
    )
