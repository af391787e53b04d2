"""Packed inputs: every batched input of a request in one buffer, one host-to-device copy.

A model with many small batched inputs (DeepFM has 26 int32 and 13 float32 ones) pays a dispatch
and a transfer for each. With a `PackLayout` the executable takes one ``uint32[R / 4, batch]``
buffer, ``R`` the bytes of one row of every packed input. Its memory, read flat, holds each input as
one contiguous segment: input ``i`` is the caller's C-ordered array, ``batch * stride[i]`` bytes at
byte ``batch * row_offset[i]`` (``stride`` is the row's bytes rounded up to a 4-byte word; only
1- and 2-byte dtypes ever need the round-up). So the host writes each input with one contiguous
copy (no interleaving), and inside the executable segment ``i`` is the static row slice
``buf[row_offset[i] / 4 : ...]``, reshaped to ``[batch, words]`` and bitcast (4-byte dtypes),
joined (8-byte) or split (1-, 2-byte) into the input's dtype. Every slice bound is static and no
bitcast changes an element's width, so the same layout serves the buckets and the batch-polymorphic
module (XLA cannot refine the shapes of a width-changing bitcast).

Padded rows repeat the last real row, as unpacked serving does. Inputs without a batch dimension,
or with a symbolic non-batch dimension (a sequence length), stay separate arguments ("loose").
Row offsets are multiples of 8 bytes, so every segment is aligned for its dtype. Byte order is the
host's and the device's (little-endian on every platform XLA serves).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.errors import ArtifactError
from fourier.ir.types import BATCH, numpy_dtype
from fourier.signature import Signature

__all__ = ["PackLayout", "Segment", "plan_packing", "pad_rows", "executable_arg_shapes", "LAYOUT_KIND"]

LAYOUT_KIND = "segments-v1"
_ALIGN = 8
_WORD = 4


@dataclass(frozen=True)
class Segment:
    """One packed input: its index in the signature, its dtype, and where its rows live."""

    index: int
    dtype: str
    row_offset: int  # in bytes per batch row: the segment starts at byte ``batch * row_offset``
    row_bytes: int  # bytes of one row of this input

    @property
    def itemsize(self) -> int:
        return np.dtype(numpy_dtype(self.dtype)).itemsize

    @property
    def stride(self) -> int:
        """Bytes between two rows of the segment: the row rounded up to whole 4-byte words."""
        return -(-self.row_bytes // _WORD) * _WORD


@dataclass(frozen=True)
class PackLayout:
    """How a signature's inputs map to executable arguments: one packed byte buffer, then loose inputs."""

    segments: tuple[Segment, ...]
    row_bytes: int  # R: bytes of one row of every packed input, padding included
    loose: tuple[int, ...]  # input indices passed as they are

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": LAYOUT_KIND,
            "row_bytes": self.row_bytes,
            "segments": [[s.index, s.dtype, s.row_offset, s.row_bytes] for s in self.segments],
            "loose": list(self.loose),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PackLayout:
        if d.get("kind") != LAYOUT_KIND:
            raise ArtifactError(
                f"packing layout {d.get('kind', 'per-dtype groups')!r} is not {LAYOUT_KIND!r}: the artifact "
                "was compiled by an older Fourier; compile the model again"
            )
        segments = tuple(Segment(int(i), str(t), int(o), int(w)) for i, t, o, w in d["segments"])
        return cls(segments, int(d["row_bytes"]), tuple(int(i) for i in d["loose"]))

    def check(self, signature: Signature) -> str | None:
        """What is wrong with this layout for ``signature`` (None: it fits): every input is
        packed or loose exactly once, and each segment's dtype and size match its input."""
        seen = [s.index for s in self.segments] + list(self.loose)
        if sorted(seen) != list(range(len(signature.inputs))):
            return f"packs inputs {sorted(seen)}, the signature has {len(signature.inputs)}"
        end = 0
        for s in self.segments:
            spec = signature.inputs[s.index]
            if not spec.batched or spec.symbols:
                return f"packs input {spec.name!r}, whose shape {list(spec.shape)} cannot be packed"
            want = math.prod(int(d) for d in spec.shape[1:]) * np.dtype(numpy_dtype(spec.dtype)).itemsize
            if s.dtype != spec.dtype or s.row_bytes != want:
                return (
                    f"segment of {spec.name!r} is {s.dtype} with {s.row_bytes} bytes a row, the signature "
                    f"says {spec.dtype}{list(spec.shape)} ({want} bytes a row)"
                )
            if s.row_offset < end or s.row_offset % _ALIGN:
                return f"segment of {spec.name!r} starts at row byte {s.row_offset}, overlapping or unaligned"
            end = s.row_offset + s.stride
        if end > self.row_bytes:
            return f"segments end at row byte {end}, past the row size {self.row_bytes}"
        return None

    def nbytes(self, batch: int) -> int:
        """Bytes of the packed buffer at ``batch`` rows."""
        return self.row_bytes * batch

    def arg_shapes(
        self, signature: Signature, batch: int | None, dims: Mapping[str, int] | None = None
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """(shape, dtype) of each executable input argument at ``batch`` rows and symbol values
        ``dims``; ``batch=None``: symbolic (``N`` and the signature's symbols)."""
        rows: int | str = BATCH if batch is None else batch
        out: list[tuple[tuple[int | str, ...], str]] = []
        if self.segments:
            out.append(((self.row_bytes // _WORD, rows), "uint32"))
        for i in self.loose:
            spec = signature.inputs[i]
            shape = spec.shape if batch is None else spec.concrete(batch, dims or {})
            out.append((shape, spec.dtype))
        return out

    def pack_into(
        self, buf: np.ndarray, arrays: Sequence[np.ndarray], start: int, rows: int, bucket: int
    ) -> None:
        """Write rows ``start:start+rows`` of the caller's arrays into the flat uint8 ``buf`` (at
        least ``nbytes(bucket)`` long) laid out for ``bucket`` rows; rows past ``rows`` repeat the
        last real row."""
        for s in self.segments:
            if not s.row_bytes:
                continue
            x = arrays[s.index]
            lo = bucket * s.row_offset
            seg = buf[lo : lo + bucket * s.stride].reshape(bucket, s.stride)
            if s.stride != s.row_bytes:
                seg = seg[:, : s.row_bytes]
            seg = seg.view(x.dtype)
            seg[:rows] = x[start : start + rows].reshape(rows, seg.shape[1])
            if rows < bucket:
                seg[rows:] = seg[rows - 1] if rows else 0

    def pack(
        self, signature: Signature, arrays: Sequence[np.ndarray], start: int, rows: int, bucket: int
    ) -> list[np.ndarray]:
        """Rows ``start:start+rows`` of the caller's arrays as executable arguments for ``bucket``
        rows (a new packed buffer, then the loose inputs)."""
        args = []
        if self.segments:
            buf = np.empty(self.nbytes(bucket), dtype=np.uint8)
            self.pack_into(buf, arrays, start, rows, bucket)
            args.append(buf.view(np.uint32).reshape(self.row_bytes // _WORD, bucket))
        for i in self.loose:
            x = arrays[i]
            args.append(pad_rows(x, start, rows, bucket) if signature.inputs[i].batched else x)
        return args

    def unpack(self, signature: Signature, args: Sequence[Any]) -> list[Any]:
        """Inside the traced function: the packed arguments back as the signature's inputs."""
        inputs: list[Any] = [None] * len(signature.inputs)
        loose = list(args)
        if self.segments:
            buf = loose.pop(0)
            for s in self.segments:
                spec = signature.inputs[s.index]
                value = _unpack_segment(buf, s)
                inputs[s.index] = value.reshape((buf.shape[1], *spec.shape[1:]))
        for i, x in zip(self.loose, loose):
            inputs[i] = x
        return inputs


def pad_rows(x: np.ndarray, start: int, rows: int, bucket: int) -> np.ndarray:
    """Rows ``start:start+rows`` of ``x`` as ``bucket`` rows, the rest repeating the last real row
    (values the graph already accepts, so padding cannot fault or make NaN)."""
    part = x[start : start + rows]
    if rows == bucket:
        return np.ascontiguousarray(part)
    out = np.empty((bucket, *x.shape[1:]), dtype=x.dtype)
    out[:rows] = part
    out[rows:] = part[rows - 1] if rows else 0
    return out


def _unpack_segment(buf: Any, s: Segment) -> Any:
    """Segment ``s`` of the traced ``uint32[R/4, batch]`` buffer as ``[batch, elements]`` of its dtype."""
    from jax import lax
    from jax import numpy as jnp

    batch, words = buf.shape[1], s.stride // _WORD
    first = s.row_offset // _WORD
    rows = buf[first : first + words].reshape(batch, words)
    dtype = numpy_dtype(s.dtype)
    n = s.row_bytes // s.itemsize
    if s.itemsize == 4:
        return lax.bitcast_convert_type(rows, dtype)
    if s.itemsize == 8:  # two little-endian words per element
        pairs = rows.reshape(batch, n, 2).astype(jnp.uint64)
        joined = pairs[:, :, 0] | (pairs[:, :, 1] << 32)
        return lax.bitcast_convert_type(joined, dtype)
    width = {1: jnp.uint8, 2: jnp.uint16}[s.itemsize]
    bits = 8 * s.itemsize
    parts = [(rows >> (bits * j)) & ((1 << bits) - 1) for j in range(_WORD // s.itemsize)]
    split = jnp.stack(parts, axis=-1).reshape(batch, words * (_WORD // s.itemsize))[:, :n].astype(width)
    if dtype == np.bool_:
        return split != 0
    return lax.bitcast_convert_type(split, dtype)


def executable_arg_shapes(
    signature: Signature, layout: PackLayout | None, batch: int | None, dims: Mapping[str, int] | None = None
) -> list[tuple[tuple[int | str, ...], str]]:
    """(shape, dtype) of each input argument of the executables at ``batch`` rows and symbol values
    ``dims``: the packed buffer and loose inputs, or one argument per input without a layout.
    ``batch=None``: every symbolic dimension left symbolic."""
    if layout is not None:
        return layout.arg_shapes(signature, batch, dims)
    if batch is None:
        return [(s.shape, s.dtype) for s in signature.inputs]
    return [(s.concrete(batch, dims or {}), s.dtype) for s in signature.inputs]


def plan_packing(signature: Signature) -> PackLayout | None:
    """Pack every batched input whose other dimensions are static; None when fewer than two can
    be packed (nothing to gain)."""
    segments = []
    loose = []
    offset = 0
    for i, spec in enumerate(signature.inputs):
        if spec.batched and all(isinstance(d, int) for d in spec.shape[1:]):
            width = math.prod(int(d) for d in spec.shape[1:]) * np.dtype(numpy_dtype(spec.dtype)).itemsize
            segment = Segment(i, spec.dtype, offset, width)
            segments.append(segment)
            offset += -(-segment.stride // _ALIGN) * _ALIGN
        else:
            loose.append(i)
    if len(segments) < 2:
        return None
    return PackLayout(tuple(segments), offset, tuple(loose))
