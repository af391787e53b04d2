"""A compiled model's signature: names, dtypes and shapes (``N`` marks the batch dimension)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fourier.ir.types import BATCH, Dim

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

    def with_batch(self, n: int) -> tuple[int, ...]:
        """The concrete shape at batch size ``n``."""
        return tuple(n if d == BATCH else int(d) for d in self.shape)

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
