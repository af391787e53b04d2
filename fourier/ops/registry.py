"""The op registry: every op the IR can hold, defined once.

An `OpDef` holds an op's attributes (with TensorFlow's names and defaults), its type/shape
inference (with a symbolic batch dimension), its numpy reference evaluation, its lowering to JAX,
its traits, and how it treats a padded dimension (its padding rule, `fourier.ops.padding`; an op
that registers none gets the one its traits imply). The importer, the verifier, the reference
interpreter, shape-value propagation, the JAX backend and the independence analysis all read the
same entry; adding an op touches one family module.

The IR sits below the registry: importing this module installs the registry as the IR's
`fourier.ir.core.OpProvider` (input counts, attribute defaults, inference), and importing the
package `fourier.ops` loads every family.

Traits say what passes may assume: ``pure`` (no state; foldable unless ``no_fold``),
``elementwise``, ``commutative``, ``identity``, ``reduction``, ``constant``, ``input``,
``host`` (runs only on the host: strings, tables; an op may name attributes under which a node
of it runs on the device after all, ``device_if``), and ``compute`` (its work per output element
grows with an input dimension: a contraction, a convolution or pooling window, a normalization;
what request-level hoisting computes once).

Calling conventions: ``reference(attrs, *numpy_arrays)`` and ``lower(attrs, *jax_arrays)`` each
return one array or a tuple of arrays. Ops whose numpy and JAX forms are the same expression are
written once as ``xp_fn(xp, attrs, *arrays)`` and called with ``numpy`` or ``jax.numpy``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from fourier.errors import VerificationError
from fourier.ir.core import OpSignature, set_op_provider
from fourier.ir.types import Dim, Sym, TensorType, dim_to_sym, sym_to_dim

if TYPE_CHECKING:  # the padding module reads the registry; an OpDef only holds its rule
    from fourier.ops.padding import PaddingRule

__all__ = [
    "REQUIRED",
    "Attr",
    "OpDef",
    "InferContext",
    "register",
    "get_op",
    "has_op",
    "all_ops",
    "infer_outputs",
    "shape_value",
    "KNOWN_VALUE_MAX_ELEMENTS",
    "MAX_RANK",
    "MAX_TENSOR_ELEMENTS",
    "static_elements",
    "node_traits",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# Values up to this many elements are propagated at inference time (shape arithmetic).
KNOWN_VALUE_MAX_ELEMENTS = 4096
# Limits on what inference accepts: a hostile graph is refused before anything is allocated.
MAX_RANK = 32
MAX_TENSOR_ELEMENTS = 1 << 31  # per tensor, symbolic dimensions counted as 1

ATTR_KINDS = ("int", "float", "bool", "str", "type", "shape", "tensor", "ints", "floats", "types")


@dataclass(frozen=True)
class Attr:
    """An attribute an op reads: name, kind (one of `ATTR_KINDS`), default or `REQUIRED`."""

    name: str
    kind: str
    default: Any = REQUIRED

    def __post_init__(self) -> None:
        if self.kind not in ATTR_KINDS:
            raise ValueError(f"attribute {self.name}: unknown kind {self.kind!r}")


Infer = Callable[["InferContext"], Sequence[TensorType]]


@dataclass(frozen=True)
class OpDef:
    """One registry entry."""

    name: str
    infer: Infer
    reference: Callable[..., Any]
    lower: Callable[..., Any]
    attrs: tuple[Attr, ...] = ()
    min_inputs: int = 0
    max_inputs: int | None = None
    traits: frozenset[str] = field(default_factory=frozenset)
    doc: str = ""
    known: Callable[[InferContext], list[np.ndarray] | None] | None = None
    family: str = ""  # the module under fourier/ops that defines it
    padding_rule: PaddingRule | None = None  # None: the rule its traits imply (fourier.ops.padding)
    # a host op whose nodes with these attributes have a static shape and a device lowering
    device_if: Callable[[Mapping[str, Any]], bool] | None = None

    @cached_property
    def signature(self) -> OpSignature:
        """What the IR checks of a node of this op: input count, attribute defaults, required ones."""
        return OpSignature(
            self.min_inputs,
            self.max_inputs,
            MappingProxyType({a.name: a.default for a in self.attrs if a.default is not REQUIRED}),
            tuple(a.name for a in self.attrs if a.default is REQUIRED),
        )


_REGISTRY: dict[str, OpDef] = {}


def register(
    name: str,
    *,
    infer: Infer,
    reference: Callable[..., Any] | None = None,
    lower: Callable[..., Any] | None = None,
    xp_fn: Callable[..., Any] | None = None,
    attrs: Sequence[Attr] = (),
    inputs: int | tuple[int, int | None] = 0,
    traits: Sequence[str] = ("pure",),
    doc: str = "",
    known: Callable[[InferContext], list[np.ndarray] | None] | None = None,
    padding_rule: PaddingRule | None = None,
    device_if: Callable[[Mapping[str, Any]], bool] | None = None,
) -> OpDef:
    """Define an op. Give ``xp_fn`` when numpy and JAX share one expression, else both forms;
    give ``padding_rule`` when the op's traits do not imply how it treats a padded dimension."""
    if name in _REGISTRY:
        raise ValueError(f"op {name} registered twice")
    if xp_fn is not None:
        fn = xp_fn
        if reference is None:
            reference = lambda attrs, *a: fn(np, attrs, *a)

        if lower is None:

            def lower(attrs: dict[str, Any], *a: Any) -> Any:
                import jax.numpy as jnp

                return fn(jnp, attrs, *a)

    if reference is None or lower is None:
        raise ValueError(f"op {name}: needs a reference and a lowering (or xp_fn)")
    lo, hi = (inputs, inputs) if isinstance(inputs, int) else inputs
    family = sys._getframe(1).f_globals.get("__name__", "").rsplit(".", 1)[-1]
    opdef = OpDef(
        name,
        infer,
        reference,
        lower,
        tuple(attrs),
        lo,
        hi,
        frozenset(traits),
        doc.strip(),
        known,
        family,
        padding_rule=padding_rule,
        device_if=device_if,
    )
    _REGISTRY[name] = opdef
    return opdef


def get_op(name: str) -> OpDef:
    """The registry entry for an op name (KeyError if none)."""
    return _REGISTRY[name]


def node_traits(op: str, attrs: Mapping[str, Any]) -> frozenset[str]:
    """The traits of one node: its op's, less ``host`` and ``value_sized`` where the op's
    ``device_if`` says that these attributes give it a device form (a padded NonMaxSuppressionV4)."""
    opdef = get_op(op)
    if opdef.device_if is not None and opdef.device_if(attrs):
        return opdef.traits - {"host", "value_sized"}
    return opdef.traits


def has_op(name: str) -> bool:
    return name in _REGISTRY


def all_ops() -> dict[str, OpDef]:
    """Every registered op, by name."""
    return dict(sorted(_REGISTRY.items()))


class InferContext:
    """What an op's inference sees: the op, the node's name (for errors), its attributes, its input
    types and the input values known at compile time."""

    def __init__(
        self,
        op: str,
        name: str,
        attrs: Mapping[str, Any],
        types: Sequence[TensorType],
        known: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        self.op = op
        self.name = name
        self.attrs = attrs
        self.types = list(types)
        self.known_values = list(known) if known is not None else [None] * len(self.types)

    def first(self, n: int) -> InferContext:
        """The same context showing only the first ``n`` inputs (to reuse a base op's rule)."""
        return InferContext(self.op, self.name, self.attrs, self.types[:n], self.known_values[:n])

    def known(self, i: int) -> np.ndarray | None:
        """The value of input ``i`` if known at compile time (object arrays hold `Sym` dims)."""
        return self.known_values[i]

    def ints(self, i: int) -> list[int] | None:
        """Input ``i`` as a list of static ints, or None if not known statically."""
        v = self.known(i)
        if v is None or v.dtype == object:
            return None
        return [int(x) for x in np.asarray(v).reshape(-1)]

    def dims(self, i: int) -> list[Dim] | None:
        """Input ``i`` (a shape vector) as dimensions; symbolic entries stay symbolic."""
        v = self.known(i)
        if v is None:
            return None
        out: list[Dim] = []
        for x in np.asarray(v).reshape(-1).tolist():
            out.append(int(x) if isinstance(x, (int, np.integer)) else sym_to_dim(x))
        return out

    def fail(self, message: str) -> Exception:
        return VerificationError(f"node {self.name!r} ({self.op}): {message}")


def static_elements(t: TensorType) -> int | None:
    """Element count of a type with static shape (exact, in Python ints); None otherwise."""
    if not t.is_static:
        return None
    assert t.shape is not None
    count = 1
    for d in t.shape:
        count *= int(d)
    return count


def _check_limits(ctx: InferContext, types: Sequence[TensorType]) -> None:
    for i, t in enumerate(types):
        if t.shape is None:
            continue
        if len(t.shape) > MAX_RANK:
            raise ctx.fail(f"output {i} has rank {len(t.shape)}, more than {MAX_RANK}")
        count = 1
        for d in t.shape:
            s = dim_to_sym(d)
            size = s if isinstance(s, int) else (s.coef if s is not None else 1)
            if size > MAX_TENSOR_ELEMENTS:
                raise ctx.fail(f"output {i} of type {t} has a dimension over {MAX_TENSOR_ELEMENTS}")
            count *= max(size, 1)
        if count > MAX_TENSOR_ELEMENTS:
            raise ctx.fail(
                f"output {i} of type {t} would hold {count} elements, more than {MAX_TENSOR_ELEMENTS}"
            )


def _known_value(opdef: OpDef, ctx: InferContext, types: Sequence[TensorType]) -> list[np.ndarray] | None:
    """Evaluate a node on known small inputs (constant and shape propagation)."""
    if ctx.op != "Const" and any(
        (n := static_elements(t)) is None or n > KNOWN_VALUE_MAX_ELEMENTS for t in types
    ):
        return None  # never evaluate what would be large (or of unknown size)
    if opdef.known is not None:
        return opdef.known(ctx)
    if ctx.op == "Const":
        value = ctx.attrs["value"]
        return [value] if value.size <= KNOWN_VALUE_MAX_ELEMENTS else None
    if "pure" not in opdef.traits or "no_fold" in opdef.traits:
        return None
    args = []
    for k in ctx.known_values:
        if k is None or k.size > KNOWN_VALUE_MAX_ELEMENTS:
            return None
        args.append(k)
    try:
        out = opdef.reference(ctx.attrs, *args)
    except Exception:
        return None
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    result = []
    for o in outs:
        arr = np.asarray(o)
        if arr.size > KNOWN_VALUE_MAX_ELEMENTS:
            return None
        if arr.dtype == object and not all(isinstance(x, (int, Sym)) for x in arr.reshape(-1)):
            return None
        result.append(arr)
    return result


def infer_outputs(
    op: str,
    name: str,
    attrs: Mapping[str, Any],
    types: Sequence[TensorType],
    known: Sequence[np.ndarray | None],
) -> tuple[list[TensorType], list[np.ndarray] | None]:
    """Run ``op``'s inference for node ``name``: output types, and output values where known."""
    opdef = get_op(op)
    ctx = InferContext(op, name, attrs, types, known)
    out = list(opdef.infer(ctx))
    _check_limits(ctx, out)
    return out, _known_value(opdef, ctx, out)


def shape_value(t: TensorType) -> np.ndarray | None:
    """The value ``Shape(x)`` has for a value of type ``t``: ints, or objects with `Sym` dims."""
    if t.shape is None:
        return None
    syms = [dim_to_sym(d) for d in t.shape]
    if any(s is None for s in syms):
        return None
    if all(isinstance(s, int) for s in syms):
        return np.array(syms, dtype=np.int64)
    arr = np.empty(len(syms), dtype=object)
    arr[:] = syms
    return arr


class _RegistryProvider:
    """The registry as the IR sees it (`fourier.ir.core.OpProvider`)."""

    def has_op(self, op: str) -> bool:
        return has_op(op)

    def signature(self, op: str) -> OpSignature:
        return get_op(op).signature

    def infer(
        self,
        op: str,
        name: str,
        attrs: Mapping[str, Any],
        types: Sequence[TensorType],
        known: Sequence[np.ndarray | None],
    ) -> tuple[list[TensorType], list[np.ndarray] | None]:
        return infer_outputs(op, name, attrs, types, known)


set_op_provider(_RegistryProvider())
