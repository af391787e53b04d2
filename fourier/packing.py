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

Padded rows repeat the last real row, as unpacked serving does. Request-level inputs of one row
(``[1, ...]``, `fourier.passes.hoist`) are packed the same way into a second buffer,
``uint32[F / 4, 1]`` (the *fixed* block: a layout of its own at batch 1), when there are two or
more. Other inputs without a batch dimension, or with a symbolic non-batch dimension (a sequence
length), stay separate arguments ("loose").
Row offsets are multiples of 4 bytes (8 for 8-byte dtypes), so every segment is aligned for its
dtype; the planner orders inputs by dtype and shape, so inputs alike sit side by side as one *run*
(DeepFM's 26 int32 ``[N, 1]`` inputs are one ``int32[26 * N, 1]`` block) and the host fills a run
with one ``np.concatenate`` when no row needs padding. Byte order is the
host's and the device's (little-endian on every platform XLA serves).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.errors import ArtifactError
from fourier.ir.types import BATCH, numpy_dtype
from fourier.signature import Signature

__all__ = [
    "PackLayout",
    "Segment",
    "plan_packing",
    "pad_rows",
    "fill_rows",
    "executable_arg_shapes",
    "LAYOUT_KIND",
]

LAYOUT_KIND = "segments-v1"
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
    def align(self) -> int:
        """Row offsets of this segment are multiples of this many bytes."""
        return max(_WORD, self.itemsize)

    @property
    def stride(self) -> int:
        """Bytes between two rows of the segment: the row rounded up to whole 4-byte words."""
        return -(-self.row_bytes // _WORD) * _WORD


@dataclass(frozen=True)
class _Run:
    """Consecutive segments of one dtype and row size: one block of the packed buffer."""

    row_offset: int
    dtype: str
    row_bytes: int  # of each member
    stride: int
    members: tuple[int, ...]  # input indices, in block order
    padded: bool  # rows padded to whole words (a lone 1- or 2-byte segment)


@dataclass(frozen=True)
class PackLayout:
    """How a signature's inputs map to executable arguments: one packed byte buffer, then loose inputs."""

    segments: tuple[Segment, ...]
    row_bytes: int  # R: bytes of one row of every packed input, padding included
    loose: tuple[int, ...]  # input indices passed as they are
    # One-row (request-level) inputs packed into a second buffer, laid out as at batch 1.
    fixed: tuple[Segment, ...] = ()
    fixed_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": LAYOUT_KIND,
            "row_bytes": self.row_bytes,
            "segments": [[s.index, s.dtype, s.row_offset, s.row_bytes] for s in self.segments],
            "loose": list(self.loose),
        }
        if self.fixed:
            out["fixed"] = [[s.index, s.dtype, s.row_offset, s.row_bytes] for s in self.fixed]
            out["fixed_bytes"] = self.fixed_bytes
        return out

    @functools.cached_property
    def fixed_layout(self) -> PackLayout | None:
        """The fixed block as a layout of its own (written and read at batch 1)."""
        return PackLayout(self.fixed, self.fixed_bytes, ()) if self.fixed else None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PackLayout:
        if d.get("kind") != LAYOUT_KIND:
            raise ArtifactError(
                f"packing layout {d.get('kind', 'per-dtype groups')!r} is not {LAYOUT_KIND!r}: the artifact "
                "was compiled by an older Fourier; compile the model again"
            )
        segments = tuple(Segment(int(i), str(t), int(o), int(w)) for i, t, o, w in d["segments"])
        fixed = tuple(Segment(int(i), str(t), int(o), int(w)) for i, t, o, w in d.get("fixed", ()))
        return cls(
            segments,
            int(d["row_bytes"]),
            tuple(int(i) for i in d["loose"]),
            fixed,
            int(d.get("fixed_bytes", 0)),
        )

    def check(self, signature: Signature) -> str | None:
        """What is wrong with this layout for ``signature`` (None: it fits): every input is
        packed or loose exactly once, and each segment's dtype and size match its input."""
        seen = [s.index for s in (*self.segments, *self.fixed)] + list(self.loose)
        if sorted(seen) != list(range(len(signature.inputs))):
            return f"packs inputs {sorted(seen)}, the signature has {len(signature.inputs)}"
        for s in self.fixed:
            spec = signature.inputs[s.index]
            if not _one_row(spec.shape):
                return f"packs input {spec.name!r} as one row, but its shape is {list(spec.shape)}"
        if self.fixed_layout is not None:
            problem = self.fixed_layout._check_segments(signature)
            if problem:
                return problem
        return self._check_segments(signature, batched=True)

    def _check_segments(self, signature: Signature, batched: bool = False) -> str | None:
        end = 0
        for s in self.segments:
            spec = signature.inputs[s.index]
            if batched and (not spec.batched or spec.symbols):
                return f"packs input {spec.name!r}, whose shape {list(spec.shape)} cannot be packed"
            want = math.prod(int(d) for d in spec.shape[1:]) * np.dtype(numpy_dtype(spec.dtype)).itemsize
            if s.dtype != spec.dtype or s.row_bytes != want:
                return (
                    f"segment of {spec.name!r} is {s.dtype} with {s.row_bytes} bytes a row, the signature "
                    f"says {spec.dtype}{list(spec.shape)} ({want} bytes a row)"
                )
            if s.row_offset < end or s.row_offset % s.align:
                return f"segment of {spec.name!r} starts at row byte {s.row_offset}, overlapping or unaligned"
            end = s.row_offset + s.stride
        if self.row_bytes % 8:
            return f"the row size {self.row_bytes} is not a multiple of 8 bytes"
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
        if self.fixed:
            out.append(((self.fixed_bytes // _WORD, 1), "uint32"))
        for i in self.loose:
            spec = signature.inputs[i]
            shape = spec.shape if batch is None else spec.concrete(batch, dims or {})
            out.append((shape, spec.dtype))
        return out

    @functools.cached_property
    def runs(self) -> tuple[_Run, ...]:
        """Segments side by side with one dtype and row shape, none word-padded: one block each."""
        runs: list[_Run] = []
        for s in sorted(self.segments, key=lambda s: s.row_offset):
            last = runs[-1] if runs else None
            if (
                last is not None
                and last.padded is False
                and s.stride == s.row_bytes
                and s.dtype == last.dtype
                and s.row_bytes == last.row_bytes
                and s.row_offset == last.row_offset + len(last.members) * last.row_bytes
            ):
                runs[-1] = dataclasses.replace(last, members=(*last.members, s.index))
            else:
                runs.append(
                    _Run(s.row_offset, s.dtype, s.row_bytes, s.stride, (s.index,), s.stride != s.row_bytes)
                )
        return tuple(runs)

    def views(self, signature: Signature, buf: np.ndarray, bucket: int) -> list[tuple[_Run, Any, list[Any]]]:
        """Per run, views of the flat uint8 ``buf`` laid out for ``bucket`` rows: the whole block
        (``[members, bucket, *row shape]``) and each member (``[bucket, *row shape]``). Made once
        per staging buffer; `write` fills them."""
        out = []
        for run in self.runs:
            k = len(run.members)
            lo = bucket * run.row_offset
            raw = buf[lo : lo + k * bucket * run.stride].reshape(k, bucket, run.stride)
            if run.padded:
                raw = raw[:, :, : run.row_bytes]
            dtype = numpy_dtype(run.dtype)
            shape = tuple(int(d) for d in signature.inputs[run.members[0]].shape[1:])
            if run.padded or any(
                tuple(int(d) for d in signature.inputs[i].shape[1:]) != shape for i in run.members
            ):
                shape = (run.row_bytes // np.dtype(dtype).itemsize,)
            block = raw.view(dtype).reshape(k, bucket, *shape)
            out.append((run, block, [block[j] for j in range(k)]))
        return out

    def write(
        self,
        views: list[tuple[_Run, Any, list[Any]]],
        arrays: Sequence[np.ndarray],
        start: int,
        rows: int,
        bucket: int,
    ) -> None:
        """Rows ``start:start+rows`` of the caller's arrays into ``views`` (from `views`); rows
        past ``rows`` repeat the last real row."""
        for view in views:
            write_run(view, arrays, start, rows, bucket)

    def pack_into(
        self,
        buf: np.ndarray,
        arrays: Sequence[np.ndarray],
        start: int,
        rows: int,
        bucket: int,
        signature: Signature,
    ) -> None:
        """Write rows ``start:start+rows`` of the caller's arrays into the flat uint8 ``buf`` (at
        least ``nbytes(bucket)`` long) laid out for ``bucket`` rows; rows past ``rows`` repeat the
        last real row."""
        self.write(self.views(signature, buf, bucket), arrays, start, rows, bucket)

    def pack(
        self, signature: Signature, arrays: Sequence[np.ndarray], start: int, rows: int, bucket: int
    ) -> list[np.ndarray]:
        """Rows ``start:start+rows`` of the caller's arrays as executable arguments for ``bucket``
        rows (a new packed buffer, then the loose inputs)."""
        args = []
        if self.segments:
            buf = np.empty(self.nbytes(bucket), dtype=np.uint8)
            self.pack_into(buf, arrays, start, rows, bucket, signature)
            args.append(buf.view(np.uint32).reshape(self.row_bytes // _WORD, bucket))
        if self.fixed_layout is not None:
            fixed = np.empty(self.fixed_bytes, dtype=np.uint8)
            self.fixed_layout.pack_into(fixed, arrays, 0, 1, 1, signature)
            args.append(fixed.view(np.uint32).reshape(self.fixed_bytes // _WORD, 1))
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
        if self.fixed:
            buf = loose.pop(0)
            for s in self.fixed:
                spec = signature.inputs[s.index]
                inputs[s.index] = _unpack_segment(buf, s).reshape(tuple(int(d) for d in spec.shape))
        for i, x in zip(self.loose, loose):
            inputs[i] = x
        return inputs


def write_run(
    view: tuple[_Run, Any, list[Any]], arrays: Sequence[np.ndarray], start: int, rows: int, bucket: int
) -> None:
    """One run of `PackLayout.write`: its members' rows into its block (one of `PackLayout.views`)."""
    run, block, members = view
    xs = [arrays[i] for i in run.members]
    if start == 0 and rows == bucket and len(xs) > 1 and xs[0].shape[1:] == block.shape[2:]:
        try:  # one C loop for the whole run: block[j] = xs[j]
            np.concatenate(xs, axis=0, out=block.reshape(-1, *block.shape[2:]))
            return
        except ValueError:  # a member's shape differs (refused later by its own copy)
            pass
    for member, x in zip(members, xs):
        part = x if start == 0 and x.shape[0] == rows else x[start : start + rows]
        member[:rows] = part if part.ndim == member.ndim else part.reshape(rows, *member.shape[1:])
    if rows < bucket:
        block[:, rows:] = block[:, rows - 1 : rows] if rows else 0


def fill_rows(out: np.ndarray, x: np.ndarray, start: int, rows: int) -> None:
    """Rows ``start:start+rows`` of ``x`` into ``out``'s first rows; ``out``'s other rows repeat
    the last real row (values the graph already accepts, so padding cannot fault or make NaN)."""
    out[:rows] = x[start : start + rows]
    if rows < out.shape[0]:
        out[rows:] = out[rows - 1] if rows else 0


def pad_rows(x: np.ndarray, start: int, rows: int, bucket: int) -> np.ndarray:
    """Rows ``start:start+rows`` of ``x`` as a new array of ``bucket`` rows (`fill_rows`)."""
    if rows == bucket:
        return np.ascontiguousarray(x[start : start + rows])
    out = np.empty((bucket, *x.shape[1:]), dtype=x.dtype)
    fill_rows(out, x, start, rows)
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
    """Pack every batched input whose other dimensions are static, ordered by dtype and row shape
    so that alike inputs form runs; None when fewer than two can be packed (nothing to gain)."""
    packable = []
    one_row = []
    loose = []
    for i, spec in enumerate(signature.inputs):
        if spec.batched and all(isinstance(d, int) for d in spec.shape[1:]):
            packable.append(i)
        elif _one_row(spec.shape):
            one_row.append(i)
        else:
            loose.append(i)
    if len(one_row) < 2:
        loose, one_row = sorted(loose + one_row), []
    if len(packable) < 2:
        if not one_row:
            return None
        loose, packable = sorted(loose + packable), []
    rows = _place(signature, packable)
    fixed = _place(signature, one_row)
    return PackLayout(
        rows.segments, rows.row_bytes, tuple(loose), fixed.segments, fixed.row_bytes if one_row else 0
    )


def _one_row(shape: tuple[Any, ...]) -> bool:
    """A request-level input: one row, every dimension static."""
    return bool(shape) and shape[0] == 1 and all(isinstance(d, int) for d in shape)


def _place(signature: Signature, packable: list[int]) -> PackLayout:
    """Segments for ``packable``, each input's row (its dimensions after the first) side by side."""
    itemsize = {i: np.dtype(numpy_dtype(signature.inputs[i].dtype)).itemsize for i in packable}
    # Wider dtypes first (their alignment then costs nothing), then by dtype and row shape.
    order = sorted(
        packable,
        key=lambda i: (-itemsize[i], signature.inputs[i].dtype, tuple(signature.inputs[i].shape[1:]), i),
    )
    segments = []
    offset = 0
    for i in order:
        spec = signature.inputs[i]
        width = math.prod(int(d) for d in spec.shape[1:]) * itemsize[i]
        segment = Segment(i, spec.dtype, 0, width)
        offset = -(-offset // segment.align) * segment.align
        segments.append(dataclasses.replace(segment, row_offset=offset))
        offset += segment.stride
    return PackLayout(tuple(segments), -(-offset // 8) * 8, ())
