"""Reductions over axes given by an operand, arg-reductions and scans."""

from __future__ import annotations

from typing import Any

import numpy as np

from fourier.ir.core import Node
from fourier.ir.types import BATCH, TensorType
from fourier.ops._infer import norm_axis, same_as
from fourier.ops.array import static_ints
from fourier.ops.padding import FREE, State, along_last_axis, mixed, reduction
from fourier.ops.registry import Attr, InferContext, register


def _reduce_infer(bool_out: bool = False):  # type: ignore[no-untyped-def]
    def infer(ctx: InferContext) -> list[TensorType]:
        x, axes = ctx.types[0], ctx.ints(1)
        dtype = "bool" if bool_out else x.dtype
        if x.shape is None or axes is None:
            return [TensorType(dtype, None)]
        rank = len(x.shape)
        norm = {norm_axis(ctx, a, rank) for a in axes}
        if ctx.attrs["keep_dims"]:
            shape = tuple(1 if i in norm else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in norm)
        return [TensorType(dtype, shape)]

    return infer


def _axes(x: Any, axes: Any) -> tuple[int, ...]:
    return tuple(sorted({a % max(x.ndim, 1) for a in static_ints(axes, "the reduction axes")}))


def _reducer(name: str, fn: str, doc: str, bool_out: bool = False) -> None:
    def xp_fn(xp: Any, a: dict[str, Any], x: Any, axes: Any) -> Any:
        ax = _axes(x, axes)
        keep = a["keep_dims"]
        if name == "Mean" and np.issubdtype(x.dtype, np.integer):
            # TensorFlow sums 8- to 32-bit integers in 64 bits (no overflow) and 64-bit ones in
            # their own type (wrapping), then divides as integers, truncating toward zero
            wide = x.dtype if x.dtype.itemsize == 8 else np.int64 if x.dtype.kind == "i" else np.uint64
            total = xp.sum(x, axis=ax, keepdims=keep, dtype=wide)
            count = max(int(np.prod([x.shape[i] for i in ax])) if ax else 1, 1)
            quotient = xp.where(total < 0, -(-total // count), total // count)
            return quotient.astype(x.dtype)
        if fn in ("sum", "prod"):
            return getattr(xp, fn)(x, axis=ax, keepdims=keep, dtype=x.dtype)
        if fn in ("max", "min") and any(x.shape[i] == 0 for i in ax):
            # an empty reduction gives the identity, as in TensorFlow: the lowest value for Max
            # (-inf, or the integer minimum), the highest for Min
            if np.issubdtype(x.dtype, np.floating):
                low, big = -np.inf, np.inf
            else:
                low, big = np.iinfo(x.dtype).min, np.iinfo(x.dtype).max
            out = getattr(xp, fn)(x, axis=ax, keepdims=keep, initial=low if fn == "max" else big)
        else:
            out = getattr(xp, fn)(x, axis=ax, keepdims=keep)
        return out if bool_out else out.astype(x.dtype)

    register(
        name,
        inputs=2,
        attrs=[Attr("keep_dims", "bool", False)],
        infer=_reduce_infer(bool_out),
        xp_fn=xp_fn,
        traits=("pure", "reduction"),
        doc=doc,
    )


_reducer("Sum", "sum", "sum over the axes given by the second input")
_reducer("Mean", "mean", "mean over the axes (integer means truncate, as in TensorFlow)")
_reducer("Prod", "prod", "product over the axes")
_reducer("Max", "max", "maximum over the axes")
_reducer("Min", "min", "minimum over the axes")
_reducer("All", "all", "logical and over the axes", bool_out=True)
_reducer("Any", "any", "logical or over the axes", bool_out=True)


def _arg_infer(ctx: InferContext) -> list[TensorType]:
    x, axis = ctx.types[0], ctx.ints(1)
    dtype = ctx.attrs["output_type"]
    if x.shape is None or axis is None:
        return [TensorType(dtype, None)]
    ax = norm_axis(ctx, axis[0], len(x.shape))
    return [TensorType(dtype, tuple(d for i, d in enumerate(x.shape) if i != ax))]


def _arg(xp: Any, a: dict[str, Any], x: Any, axis: Any, fn: str) -> Any:
    if np.issubdtype(x.dtype, np.floating):
        # TensorFlow's kernel compares with > (or <), so a NaN never wins; numpy and XLA pick it
        x = xp.where(xp.isnan(x), -np.inf if fn == "argmax" else np.inf, x)
    return getattr(xp, fn)(x, axis=static_ints(axis, "the arg-reduction axis")[0]).astype(a["output_type"])


for _name, _fn in [("ArgMax", "argmax"), ("ArgMin", "argmin")]:
    register(
        _name,
        inputs=2,
        attrs=[Attr("output_type", "type", "int64")],
        infer=_arg_infer,
        xp_fn=lambda xp, a, x, axis, fn=_fn: _arg(xp, a, x, axis, fn),
        traits=("pure", "reduction"),
        doc=f"index of the {_fn[3:]} along an axis (first one on ties; NaN never wins)",
    )


def _cumsum(xp: Any, a: dict[str, Any], x: Any, axis: Any) -> Any:
    ax = static_ints(axis, "Cumsum's axis")[0] % x.ndim
    if a["reverse"]:
        x = xp.flip(x, ax)
    if a["exclusive"]:  # shifted by one, as TensorFlow: subtracting x back would turn inf into NaN
        pad = [(0, 0)] * x.ndim
        pad[ax] = (1, 0)
        x = xp.take(xp.pad(x, pad), np.arange(x.shape[ax]), axis=ax)
    out = xp.cumsum(x, axis=ax, dtype=x.dtype)
    return xp.flip(out, ax) if a["reverse"] else out


def _cumsum_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """A scan along an axis: mixes if it runs along the rows; a forward running sum of free
    data over a sequence symbol is free"""
    (st,) = reduction(node, ins, symbol, keep=True)
    # A forward running sum at position i sees positions <= i only, which padding at the end
    # keeps (not over the batch: chunking a large batch renumbers its rows).
    forward = not node.attrs.get("reverse")
    if forward and st.kind == "size" and ins[0].kind == "free" and symbol != BATCH:
        return [FREE]
    return [st]


register(
    "Cumsum",
    inputs=2,
    attrs=[Attr("exclusive", "bool", False), Attr("reverse", "bool", False)],
    infer=same_as(0),
    xp_fn=_cumsum,
    traits=("pure", "reduction"),
    doc="running sum along an axis",
    padding_rule=_cumsum_padding,
)


def _top_k_infer(ctx: InferContext) -> list[TensorType]:
    x, k, kdim = ctx.types[0], ctx.ints(1), ctx.dims(1)
    index_type = ctx.attrs["index_type"]
    if x.shape is None or not x.shape:
        if x.shape is not None:
            raise ctx.fail("TopKV2 needs an input of rank >= 1, got a scalar")
        return [TensorType(x.dtype, None), TensorType(index_type, None)]
    last = x.shape[-1]
    if k is not None and isinstance(last, int) and not 0 <= k[0] <= last:
        raise ctx.fail(f"k = {k[0]} is outside [0, {last}] (the last dimension)")
    shape = (*x.shape[:-1], "?" if kdim is None else kdim[0])  # tf.sort's k is the symbolic size
    return [TensorType(x.dtype, shape), TensorType(index_type, shape)]


def _top_k_ref(a: dict[str, Any], x: np.ndarray, k: Any) -> tuple[np.ndarray, np.ndarray]:
    kk = static_ints(k, "TopKV2's k")[0]
    order = np.argsort(-x, axis=-1, kind="stable")[..., :kk]  # ties: the lower index first, as TF
    return np.take_along_axis(x, order, axis=-1), order.astype(a["index_type"])


def _top_k_lower(a: dict[str, Any], x: Any, k: Any) -> tuple[Any, Any]:
    import jax

    values, indices = jax.lax.top_k(x, static_ints(k, "TopKV2's k")[0])
    return values, indices.astype(a["index_type"])


def _top_k_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Along the last axis: mixes if rows are on it, or if k depends on the size"""
    states = along_last_axis(node, ins, symbol)
    if states[0].kind == "rows" and ins[1].kind != "free":
        return [mixed(node, f"k depends on the size of {symbol}")] * len(node.outputs)
    return states


register(
    "TopKV2",
    inputs=2,
    attrs=[Attr("sorted", "bool", True), Attr("index_type", "type", "int32")],
    infer=_top_k_infer,
    reference=_top_k_ref,
    lower=_top_k_lower,
    traits=("pure", "reduction"),
    doc="the k largest values along the last axis and their indices, largest first (also tf.sort)",
    padding_rule=_top_k_padding,
)
