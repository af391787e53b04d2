"""A compiled model's signature: names, dtypes and shapes.

``N`` marks the batch dimension; other names (``S``, ``S2``, ...) mark dimensions the graph leaves
unknown, such as a sequence length. Output dimensions may be products of them (``4*S``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.ir.types import BATCH, Dim, Sym, dim_to_sym, numpy_dtype

__all__ = ["TensorSpec", "Signature"]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, dtype name, shape (``"N"`` first when batched)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]
    # The value used when a request omits this input (a TF PlaceholderWithDefault), flattened;
    # None: the input is required.
    default: tuple[Any, ...] | None = None

    @property
    def batched(self) -> bool:
        return bool(self.shape) and self.shape[0] == BATCH

    @property
    def symbols(self) -> tuple[str, ...]:
        """The names of the symbolic dimensions other than the batch, in order of appearance."""
        out: list[str] = []
        for d in self.shape:
            s = dim_to_sym(d)
            for name in s.names if isinstance(s, Sym) else ():
                if name != BATCH and name not in out:
                    out.append(name)
        return tuple(out)

    def with_batch(self, n: int) -> tuple[int, ...]:
        """The concrete shape at batch size ``n`` (for a spec with no other symbols)."""
        return self.concrete(n, {})

    def concrete(self, n: int, dims: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete shape at batch size ``n`` and the symbol values ``dims``."""
        values = {BATCH: n, **dims}
        out = []
        for d in self.shape:
            s = dim_to_sym(d)
            if isinstance(s, Sym):
                out.append(s.value(values))
            else:
                out.append(int(d))
        return tuple(out)

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype}[{','.join(str(d) for d in self.shape)}]"

    def default_array(self) -> np.ndarray | None:
        """The default as a numpy array of this spec's (static) shape, or None."""
        if self.default is None:
            return None
        shape = tuple(int(d) for d in self.shape)
        return np.asarray(self.default, dtype=numpy_dtype(self.dtype)).reshape(shape)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        if self.default is not None:
            out["default"] = list(self.default)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TensorSpec:
        default = d.get("default")
        return cls(
            str(d["name"]), str(d["dtype"]), tuple(d["shape"]), None if default is None else tuple(default)
        )


@dataclass(frozen=True)
class Signature:
    """Inputs and outputs of a model, in the order its executables take and return them."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    # Inputs the exported model declares but its outputs never read (deepctr's DIN exports a
    # ``seq_length`` it does not use): not passed to the executables, accepted and ignored in a
    # request, so a client sending the model's full feed is served.
    unused: tuple[TensorSpec, ...] = ()

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbolic dimensions of the inputs other than the batch (sorted): an executable is
        compiled for one value of each."""
        return tuple(sorted({n for s in self.inputs for n in s.symbols}))

    def __str__(self) -> str:
        ins = ", ".join(str(s) for s in self.inputs)
        outs = ", ".join(str(s) for s in self.outputs)
        return f"({ins}) -> ({outs})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "inputs": [s.to_json() for s in self.inputs],
            "outputs": [s.to_json() for s in self.outputs],
        }
        if self.unused:
            out["unused"] = [s.to_json() for s in self.unused]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Signature:
        return cls(
            tuple(TensorSpec.from_json(x) for x in d["inputs"]),
            tuple(TensorSpec.from_json(x) for x in d["outputs"]),
            tuple(TensorSpec.from_json(x) for x in d.get("unused", ())),
        )
