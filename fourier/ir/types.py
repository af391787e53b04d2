"""Tensor types with symbolic dimensions.

A dimension is an ``int`` (static), the string ``"N"`` (the batch dimension), a product such as
``"50*N"`` (what a reshape that folds the batch produces), or ``"?"`` (unknown). `Sym` is the
arithmetic form of a symbolic dimension, used while shape values are propagated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

import numpy as np

__all__ = [
    "BATCH",
    "UNKNOWN",
    "Dim",
    "DTYPES",
    "HOST_DTYPES",
    "Sym",
    "TensorType",
    "dim_to_sym",
    "sym_to_dim",
    "dims_product",
    "numpy_dtype",
]

BATCH = "N"
UNKNOWN = "?"
Dim = Union[int, str]

# The dtypes the IR can hold, by numpy name.
DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "string",  # bytes of any length (numpy object arrays of ``bytes``): host values only
    "resource",  # a handle to host state (a hash table): host values only
)

# IR dtypes XLA cannot hold: a value of one of these is computed on the host (`fourier.host`).
HOST_DTYPES = ("string", "resource")


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype for an IR dtype name (bfloat16 through ml_dtypes; strings and resources
    are object arrays)."""
    if name in HOST_DTYPES:
        return np.dtype(object)
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


@dataclass(frozen=True, order=True)
class Sym:
    """A symbolic dimension ``coef * prod(names)``; supports the arithmetic shapes need."""

    coef: int
    names: tuple[str, ...]

    def __mul__(self, other: object) -> Sym:
        if isinstance(other, (int, np.integer)):
            return Sym(self.coef * int(other), self.names)
        if isinstance(other, Sym):
            return Sym(self.coef * other.coef, tuple(sorted(self.names + other.names)))
        return NotImplemented

    __rmul__ = __mul__

    def value(self, sizes: Mapping[str, int], default: int | None = None) -> int:
        """The size with each name bound by ``sizes`` (``default`` for names it lacks)."""
        out = self.coef
        for name in self.names:
            out *= sizes[name] if default is None else sizes.get(name, default)
        return out

    def __str__(self) -> str:
        return str(sym_to_dim(self))


def dim_to_sym(d: Dim) -> int | Sym | None:
    """Parse a dimension into ``int`` or `Sym`; ``None`` when unknown."""
    if isinstance(d, (int, np.integer)):
        return int(d)
    if d == UNKNOWN:
        return None
    coef, names = 1, []
    for part in d.split("*"):
        if part.isdigit():
            coef *= int(part)
        else:
            names.append(part)
    return Sym(coef, tuple(sorted(names))) if names else coef


def sym_to_dim(s: object) -> Dim:
    """Render an ``int`` / `Sym` back into a dimension; anything else is unknown."""
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        return int(s)
    if isinstance(s, Sym):
        if not s.names:
            return s.coef
        body = "*".join(s.names)
        return body if s.coef == 1 else f"{s.coef}*{body}"
    return UNKNOWN


def dims_product(dims: tuple[Dim, ...]) -> Dim:
    """Product of dimensions, symbolic where needed (``?`` if any is unknown)."""
    total: int | Sym = 1
    for d in dims:
        s = dim_to_sym(d)
        if s is None:
            return UNKNOWN
        total = total * s  # type: ignore[operator]
    return sym_to_dim(total)


def dim_divide(total: Dim, part: Dim) -> Dim:
    """``total / part`` for symbolic dims when it divides exactly, else unknown."""
    t, p = dim_to_sym(total), dim_to_sym(part)
    if t is None or p is None:
        return UNKNOWN
    tc, tn = (t, ()) if isinstance(t, int) else (t.coef, t.names)
    pc, pn = (p, ()) if isinstance(p, int) else (p.coef, p.names)
    rest = list(tn)
    for n in pn:
        if n not in rest:
            return UNKNOWN
        rest.remove(n)
    if pc == 0 or tc % pc:
        return UNKNOWN
    return sym_to_dim(Sym(tc // pc, tuple(rest)))


@dataclass(frozen=True)
class TensorType:
    """The type of an IR value: a dtype name and a shape (``None`` for unknown rank)."""

    dtype: str
    shape: tuple[Dim, ...] | None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def __str__(self) -> str:
        if self.shape is None:
            return f"{self.dtype}[*]"
        return f"{self.dtype}[{','.join(str(d) for d in self.shape)}]"
