"""A compiled model's signature: names, dtypes and shapes.

``N`` marks the batch dimension; other names (``S``, ``S2``, ...) mark dimensions the graph leaves
unknown, such as a sequence length. Output dimensions may be products of them (``4*S``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fourier.ir.types import BATCH, Dim, Sym, dim_to_sym

__all__ = ["TensorSpec", "Signature"]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, dtype name, shape (``"N"`` first when batched)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]

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

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TensorSpec:
        return cls(str(d["name"]), str(d["dtype"]), tuple(d["shape"]))


@dataclass(frozen=True)
class Signature:
    """Inputs and outputs of a model, in the order its executables take and return them."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

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
        return {
            "inputs": [s.to_json() for s in self.inputs],
            "outputs": [s.to_json() for s in self.outputs],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Signature:
        return cls(
            tuple(TensorSpec.from_json(x) for x in d["inputs"]),
            tuple(TensorSpec.from_json(x) for x in d["outputs"]),
        )
