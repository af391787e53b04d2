"""Packed inputs: one host buffer (and one host-to-device transfer) per dtype instead of one per input.

A model with many small batched inputs (DeepFM has 26 int32 and 13 float32 ones) pays a dispatch
and a transfer for each. With a `PackLayout` the executable takes, per dtype, one ``[batch, width]``
buffer whose columns are the inputs flattened row-wise side by side, and slices them apart inside
(free for XLA). The host writes each caller array into its columns of a buffer of the bucket's size,
which also pads the batch in the same copy (padded rows repeat the last real row, as unpacked
serving does). Inputs without a batch dimension stay separate arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.ir.types import BATCH
from fourier.signature import Signature

__all__ = ["PackLayout", "PackGroup", "plan_packing"]


@dataclass(frozen=True)
class PackGroup:
    """One packed buffer: a dtype and, per member input, (input index, first column, width)."""

    dtype: str
    members: tuple[tuple[int, int, int], ...]

    @property
    def width(self) -> int:
        return sum(w for _, _, w in self.members)


@dataclass(frozen=True)
class PackLayout:
    """How a signature's inputs map to executable arguments: packed groups, then loose inputs."""

    groups: tuple[PackGroup, ...]
    loose: tuple[int, ...]  # input indices passed as they are (no batch dimension)

    def to_json(self) -> dict[str, Any]:
        return {
            "groups": [{"dtype": g.dtype, "members": [list(m) for m in g.members]} for g in self.groups],
            "loose": list(self.loose),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PackLayout:
        groups = tuple(
            PackGroup(str(g["dtype"]), tuple((int(i), int(o), int(w)) for i, o, w in g["members"]))
            for g in d["groups"]
        )
        return cls(groups, tuple(int(i) for i in d["loose"]))

    def arg_shapes(
        self, signature: Signature, batch: int | None, dims: Mapping[str, int] | None = None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """(shape, dtype) of each executable input argument at ``batch`` rows and symbol values
        ``dims``; ``batch=None``: symbolic (``N`` and the signature's symbols)."""
        rows: int | str = BATCH if batch is None else batch
        out: list[tuple[tuple[int | str, ...], str]] = [((rows, g.width), g.dtype) for g in self.groups]
        for i in self.loose:
            spec = signature.inputs[i]
            shape = spec.shape if batch is None else spec.concrete(batch, dims or {})
            out.append((shape, spec.dtype))
        return out

    def pack(
        self, signature: Signature, arrays: Sequence[np.ndarray], start: int, rows: int, bucket: int
    ) -> list[np.ndarray]:
        """Rows ``start:start+rows`` of the caller's arrays as executable arguments for ``bucket``
        rows; rows past ``rows`` repeat the last real row."""
        args = []
        for g in self.groups:
            buf = np.empty((bucket, g.width), dtype=g.dtype)
            for i, off, w in g.members:
                buf[:rows, off : off + w] = arrays[i][start : start + rows].reshape(rows, w)
            if rows < bucket:
                buf[rows:] = buf[rows - 1] if rows else 0
            args.append(buf)
        args += [arrays[i] for i in self.loose]
        return args

    def unpack(self, signature: Signature, args: Sequence[Any]) -> list[Any]:
        """Inside the traced function: the packed arguments back as the signature's inputs."""
        inputs: list[Any] = [None] * len(signature.inputs)
        for g, buf in zip(self.groups, args):
            batch = buf.shape[0]
            for i, off, w in g.members:
                shape = (batch, *signature.inputs[i].with_batch(0)[1:])
                inputs[i] = buf[:, off : off + w].reshape(shape)
        for i, x in zip(self.loose, args[len(self.groups) :]):
            inputs[i] = x
        return inputs


def plan_packing(signature: Signature) -> PackLayout | None:
    """Group batched inputs by dtype; None when no dtype has two or more (nothing to gain)."""
    by_dtype: dict[str, list[int]] = {}
    loose = []
    for i, spec in enumerate(signature.inputs):
        if spec.batched and all(isinstance(d, int) or str(d).isdigit() for d in spec.shape[1:]):
            by_dtype.setdefault(spec.dtype, []).append(i)
        else:
            loose.append(i)
    if not any(len(v) > 1 for v in by_dtype.values()):
        return None
    groups = []
    for dtype, members in by_dtype.items():
        off, cols = 0, []
        for i in members:
            w = math.prod(int(d) for d in signature.inputs[i].shape[1:])
            cols.append((i, off, w))
            off += w
        groups.append(PackGroup(dtype, tuple(cols)))
    return PackLayout(tuple(groups), tuple(loose))
