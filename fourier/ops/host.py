"""Feature-preprocessing ops: string hashing, hash-table lookups, number formatting, bucketizing.

Ops with the ``host`` trait work on strings or hash tables, which XLA cannot hold: their numpy
reference is the implementation the host executor runs (`fourier.host`), bit-exact with
TensorFlow, and their lowering raises an error that says to partition the graph
(`fourier.host.partition`). ``Bucketize`` is numeric and lowers to XLA like any op.

A ``HashTableV2`` node names its table (``shared_name``); the table's contents are not in the IR
but beside it (`fourier.host.tables.HostTable`), bound by the host executor as a Placeholder is
bound by the caller. The table value reaching ``LookupTableFindV2`` is a 0-d object array holding
that `HostTable`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fourier.errors import CompileError
from fourier.host.hashing import hash_bucket_fast, hash_bucket_legacy, hash_bucket_strong
from fourier.host.tables import HostTable
from fourier.ir.types import TensorType
from fourier.ops.padding import always_free, elementwise_rule
from fourier.ops.registry import Attr, InferContext, register

HOST = ("host",)  # the trait the partitioner reads: the op runs on the host only
# A host op is pure (CSE may merge two) but never folded: its outputs are strings or come from
# tables, which constants cannot hold.
_HOST_PURE = ("pure", "no_fold", "host")


def host_lowering(op: str, why: str) -> Any:
    """The lowering of an op that runs on the host only: it refuses, saying ``why``."""

    def lower(attrs: dict[str, Any], *args: Any) -> Any:
        raise CompileError(
            f"{op} runs on the host only ({why}): partition the graph with fourier.host.partition "
            "and compile its device part"
        )

    return lower


def _host_only(op: str) -> Any:
    return host_lowering(op, "strings and hash tables have no XLA form")


def expect_input(
    ctx: InferContext, i: int, dtypes: tuple[str, ...] | None, what: str, rank: int | None = None
) -> TensorType:
    """Input ``i``'s type, checked against ``dtypes`` and ``rank`` (None: any)."""
    t = ctx.types[i]
    if dtypes is not None and t.dtype not in dtypes:
        raise ctx.fail(f"{what} (input {i}) must be {' or '.join(dtypes)}, got {t}")
    if rank is not None and t.shape is not None and len(t.shape) != rank:
        raise ctx.fail(f"{what} (input {i}) must have rank {rank}, got {t}")
    return t


# -- hash tables ---------------------------------------------------------------------------------


def _table_infer(ctx: InferContext) -> list[TensorType]:
    if not ctx.attrs["shared_name"]:
        raise ctx.fail("a table needs a shared_name: the name its contents are stored under")
    return [TensorType("resource", ())]


def _unbound_table(attrs: dict[str, Any]) -> Any:
    raise RuntimeError(
        f"table {attrs['shared_name']!r} is bound by the host executor from the model's tables, "
        "never evaluated"
    )


register(
    "HashTableV2",
    attrs=[
        Attr("key_dtype", "type"),
        Attr("value_dtype", "type"),
        Attr("shared_name", "str", ""),
        Attr("container", "str", ""),
        Attr("use_node_name_sharing", "bool", False),
    ],
    infer=_table_infer,
    reference=_unbound_table,
    lower=_host_only("HashTableV2"),
    traits=HOST,
    doc="A hash table, by name (shared_name); its contents are stored beside the graph.",
    padding_rule=always_free,
)


def _find_infer(ctx: InferContext) -> list[TensorType]:
    expect_input(ctx, 0, ("resource",), "the table")
    keys = expect_input(ctx, 1, (ctx.attrs["Tin"],), "keys")
    default = expect_input(ctx, 2, (ctx.attrs["Tout"],), "the default value")
    if default.shape is not None and default.shape not in ((), (1,)):
        raise ctx.fail(f"only a scalar default value is supported, got {default}")
    return [TensorType(ctx.attrs["Tout"], keys.shape)]


def _find(attrs: dict[str, Any], table: np.ndarray, keys: np.ndarray, default: np.ndarray) -> np.ndarray:
    held = table.item() if isinstance(table, np.ndarray) else table
    if not isinstance(held, HostTable):
        raise TypeError(f"expected a bound table, got {type(held).__name__}")
    if (held.key_dtype, held.value_dtype) != (attrs["Tin"], attrs["Tout"]):
        raise TypeError(
            f"table {held.name!r} maps {held.key_dtype} to {held.value_dtype}, "
            f"the lookup expects {attrs['Tin']} to {attrs['Tout']}"
        )
    return held.lookup(keys, default)


register(
    "LookupTableFindV2",
    inputs=3,
    attrs=[Attr("Tin", "type"), Attr("Tout", "type")],
    infer=_find_infer,
    reference=_find,
    lower=_host_only("LookupTableFindV2"),
    traits=_HOST_PURE,
    doc="Each key's value in a table, the default value (a scalar) where the key is missing.",
    padding_rule=elementwise_rule,
)


def _size_infer(ctx: InferContext) -> list[TensorType]:
    expect_input(ctx, 0, ("resource",), "the table")
    return [TensorType("int64", ())]


def _size(attrs: dict[str, Any], table: np.ndarray) -> np.ndarray:
    held = table.item() if isinstance(table, np.ndarray) else table
    if not isinstance(held, HostTable):
        raise TypeError(f"expected a bound table, got {type(held).__name__}")
    return np.array(len(held), dtype=np.int64)


register(
    "LookupTableSizeV2",
    inputs=1,
    infer=_size_infer,
    reference=_size,
    lower=_host_only("LookupTableSizeV2"),
    traits=_HOST_PURE,
    doc="How many keys a table holds (a vocabulary with hashed out-of-vocabulary buckets after it).",
    padding_rule=always_free,
)


# -- string hashing ------------------------------------------------------------------------------


def _hash_infer(ctx: InferContext) -> list[TensorType]:
    t = expect_input(ctx, 0, ("string",), "input")
    if ctx.attrs["num_buckets"] < 1:
        raise ctx.fail(f"num_buckets must be at least 1, got {ctx.attrs['num_buckets']}")
    return [TensorType("int64", t.shape)]


def _strong_infer(ctx: InferContext) -> list[TensorType]:
    if len(ctx.attrs["key"]) != 2:
        raise ctx.fail(f"key must hold 2 integers, got {ctx.attrs['key']}")
    return _hash_infer(ctx)


register(
    "StringToHashBucketFast",
    inputs=1,
    attrs=[Attr("num_buckets", "int")],
    infer=_hash_infer,
    reference=lambda attrs, x: hash_bucket_fast(x, attrs["num_buckets"]),
    lower=_host_only("StringToHashBucketFast"),
    traits=_HOST_PURE,
    doc="FarmHash Fingerprint64 of each string modulo num_buckets (the Keras Hashing layer).",
    padding_rule=elementwise_rule,
)
register(
    "StringToHashBucketStrong",
    inputs=1,
    attrs=[Attr("num_buckets", "int"), Attr("key", "ints")],
    infer=_strong_infer,
    reference=lambda attrs, x: hash_bucket_strong(x, attrs["num_buckets"], attrs["key"]),
    lower=_host_only("StringToHashBucketStrong"),
    traits=_HOST_PURE,
    doc="SipHash-2-4 of each string with key, modulo num_buckets (a salted Hashing layer).",
    padding_rule=elementwise_rule,
)
register(
    "StringToHashBucket",
    inputs=1,
    attrs=[Attr("num_buckets", "int")],
    infer=_hash_infer,
    reference=lambda attrs, x: hash_bucket_legacy(x, attrs["num_buckets"]),
    lower=_host_only("StringToHashBucket"),
    traits=_HOST_PURE,
    doc="TensorFlow's Hash64 of each string modulo num_buckets (deprecated form).",
    padding_rule=elementwise_rule,
)


# -- numbers to strings --------------------------------------------------------------------------

_AS_STRING_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_AS_STRING_FLOATS = ("float16", "float32", "float64")


def _as_string_format(attrs: dict[str, Any], dtype: str) -> str:
    """The printf format TensorFlow's AsString kernel builds from its attributes."""
    fill, width, precision = attrs["fill"], attrs["width"], attrs["precision"]
    if len(fill) > 1:
        raise ValueError(f"fill must be at most one character, got {fill!r}")
    if fill and fill not in " +-#0":
        raise ValueError(f"fill {fill!r} is not a printf flag TensorFlow accepts")
    fmt = "%" + fill + (str(width) if width > -1 else "")
    if dtype in _AS_STRING_FLOATS:
        if precision > -1:
            fmt += f".{precision}"
        return fmt + ("e" if attrs["scientific"] else "g" if attrs["shortest"] else "f")
    if precision > -1 or attrs["scientific"] or attrs["shortest"]:
        raise ValueError(f"precision, scientific and shortest apply to floats, not {dtype}")
    return fmt + "d"


def _as_string_infer(ctx: InferContext) -> list[TensorType]:
    t = expect_input(ctx, 0, (*_AS_STRING_TYPES, *_AS_STRING_FLOATS, "bool"), "input")
    if t.dtype != "bool":
        try:
            _as_string_format(dict(ctx.attrs), t.dtype)
        except ValueError as e:
            raise ctx.fail(str(e)) from e
    return [TensorType("string", t.shape)]


def _as_string(attrs: dict[str, Any], x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    flat = x.reshape(-1).tolist()
    if x.dtype == bool:
        items = [b"true" if v else b"false" for v in flat]
    else:
        fmt = _as_string_format(attrs, x.dtype.name)
        items = [(fmt % v).encode("ascii") for v in flat]
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(x.shape)


register(
    "AsString",
    inputs=1,
    attrs=[
        Attr("T", "type", None),
        Attr("precision", "int", -1),
        Attr("scientific", "bool", False),
        Attr("shortest", "bool", False),
        Attr("width", "int", -1),
        Attr("fill", "str", ""),
    ],
    infer=_as_string_infer,
    reference=_as_string,
    lower=_host_only("AsString"),
    traits=_HOST_PURE,
    doc="Each number as its decimal string, printf-formatted (the Hashing layer on integers).",
    padding_rule=elementwise_rule,
)


# -- bucketizing (numeric: lowers to XLA too) ----------------------------------------------------


def _bucketize_infer(ctx: InferContext) -> list[TensorType]:
    t = expect_input(ctx, 0, ("int32", "int64", "float32", "float64"), "input")
    bounds = ctx.attrs["boundaries"]
    if any(b > a for a, b in zip(bounds[1:], bounds[:-1])):
        raise ctx.fail(f"boundaries must be sorted, got {bounds}")
    return [TensorType("int32", t.shape)]


def _bucketize(xp: Any, attrs: dict[str, Any], x: Any) -> Any:
    # TensorFlow's kernel: upper_bound over float boundaries, each value compared as C++ compares
    # it with a float (an integer converts to float, a double compares in double).
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    bounds = xp.asarray(np.asarray(attrs["boundaries"], dtype=np.float32).astype(dtype))
    flat = xp.reshape(x.astype(dtype), (-1,))
    out = xp.searchsorted(bounds, flat, side="right").astype(np.int32)
    return xp.reshape(out, x.shape)


register(
    "Bucketize",
    inputs=1,
    attrs=[Attr("boundaries", "floats"), Attr("T", "type", None)],
    infer=_bucketize_infer,
    xp_fn=_bucketize,
    # Not traited elementwise: that would let a fusion take it, and its required boundaries
    # are not an elementwise step's attributes; its padding rule is the elementwise one.
    traits=("pure",),
    doc="The index of each value's bucket: how many boundaries are <= it (Discretization).",
    padding_rule=elementwise_rule,
)
