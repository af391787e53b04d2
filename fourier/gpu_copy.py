"""The GPU copy path: pinned host staging, device buffers allocated once, one copy each way.

JAX's own host<->device path costs 120-190 µs per transfer however small (a staging copy through
XLA's pinned pool on every ``device_put`` and ``np.asarray``); a plain ``cudaMemcpyAsync`` from
pinned memory costs 8-12 µs. So on a GPU the runtime owns its copies. Per compiled shape it keeps a
small pool of *slots*; a slot holds

- one pinned host allocation: the packed input buffer (`fourier.packing`), any loose inputs,
  and every output, each 256-byte aligned;
- device input buffers allocated once by JAX (so the executable takes them as its own arguments),
  written in place through their addresses (``jax.Array.unsafe_buffer_pointer``);
- a CUDA stream for its copies.

A request takes a free slot (or waits for one), packs the caller's arrays straight into the pinned
staging, issues one host-to-device copy per argument (one for a fully packed model) on the slot's
stream and waits, runs the executable on the slot's device buffers, waits for its outputs, copies
every output into pinned memory on the same stream, waits once, and copies the rows out to numpy.
Several requests are in flight at once, one per slot; a slot is reused only after its outputs have
been copied back, so no request can overwrite device inputs another is still reading.

The CUDA side uses NVIDIA's ``cuda-bindings`` (``pip install fourier[cuda]``) or, where that is
missing, ``cupy``. Writing into a JAX-owned buffer is checked when a slot is made: a pattern written
through the pointer must read back through JAX; if it does not (or neither library is present) the
runtime keeps JAX's own copy path and says so in ``model.load_info``.

This module never imports TensorFlow, and imports JAX and the CUDA libraries only when used.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.errors import FourierError
from fourier.ir.types import numpy_dtype
from fourier.packing import PackLayout, fill_rows, write_run
from fourier.signature import Signature

__all__ = ["CudaApi", "cuda_api", "CopyPath", "CopyPathError"]

_ALIGN = 256
# A packed buffer at least this large is copied in pieces of about this size, each issued as soon
# as its runs are packed, so packing the rest overlaps the copy of what is done.
_CHUNK = 128 * 1024


class CopyPathError(FourierError):
    """The GPU copy path cannot be used here (no CUDA library, or a failed self-check)."""


class CudaApi:
    """The few CUDA runtime calls the copy path needs, from ``cuda-bindings`` or ``cupy``."""

    name = ""

    def host_alloc(self, nbytes: int) -> int:
        raise NotImplementedError

    def host_free(self, ptr: int) -> None:
        raise NotImplementedError

    def stream(self) -> Any:
        raise NotImplementedError

    def h2d(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        raise NotImplementedError

    def d2h(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        raise NotImplementedError

    def sync(self, stream: Any) -> None:
        raise NotImplementedError

    def set_device(self, ordinal: int) -> None:
        raise NotImplementedError


class _CudaBindings(CudaApi):
    name = "cuda-bindings"

    def __init__(self) -> None:
        from cuda.bindings import runtime as rt

        self._rt = rt
        self._ok = rt.cudaError_t.cudaSuccess
        self._h2d = rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._d2h = rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._memcpy = rt.cudaMemcpyAsync
        self._sync = rt.cudaStreamSynchronize
        self._check(rt.cudaFree(0)[0], "cudaFree(0)")  # makes the runtime pick up JAX's context

    def _check(self, err: Any, what: str) -> None:
        if err != self._ok:
            raise CopyPathError(f"{what} failed: {err}")

    def host_alloc(self, nbytes: int) -> int:
        err, ptr = self._rt.cudaHostAlloc(nbytes, self._rt.cudaHostAllocPortable)
        self._check(err, f"cudaHostAlloc({nbytes})")
        return int(ptr)

    def host_free(self, ptr: int) -> None:
        self._rt.cudaFreeHost(ptr)

    def stream(self) -> Any:
        err, s = self._rt.cudaStreamCreateWithFlags(self._rt.cudaStreamNonBlocking)
        self._check(err, "cudaStreamCreateWithFlags")
        return s

    def h2d(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        (err,) = self._memcpy(dst, src, nbytes, self._h2d, stream)
        if err != self._ok:
            self._check(err, "cudaMemcpyAsync (host to device)")

    def d2h(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        (err,) = self._memcpy(dst, src, nbytes, self._d2h, stream)
        if err != self._ok:
            self._check(err, "cudaMemcpyAsync (device to host)")

    def sync(self, stream: Any) -> None:
        (err,) = self._sync(stream)
        if err != self._ok:
            self._check(err, "cudaStreamSynchronize")

    def set_device(self, ordinal: int) -> None:
        (err,) = self._rt.cudaSetDevice(ordinal)
        self._check(err, f"cudaSetDevice({ordinal})")


class _Cupy(CudaApi):
    name = "cupy"

    def __init__(self) -> None:
        from cupy.cuda import runtime as rt

        self._rt = rt
        self._memcpy = rt.memcpyAsync
        self._sync = rt.streamSynchronize
        self._kind_h2d, self._kind_d2h = rt.memcpyHostToDevice, rt.memcpyDeviceToHost

    def host_alloc(self, nbytes: int) -> int:
        return int(self._rt.hostAlloc(nbytes, 1))  # cudaHostAllocPortable

    def host_free(self, ptr: int) -> None:
        self._rt.freeHost(ptr)

    def stream(self) -> Any:
        return self._rt.streamCreateWithFlags(1)  # cudaStreamNonBlocking

    def h2d(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        self._memcpy(dst, src, nbytes, self._kind_h2d, stream)

    def d2h(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        self._memcpy(dst, src, nbytes, self._kind_d2h, stream)

    def sync(self, stream: Any) -> None:
        self._sync(stream)

    def set_device(self, ordinal: int) -> None:
        self._rt.setDevice(ordinal)


_API: CudaApi | None = None
_CURRENT = threading.local()  # the CUDA device this thread last made current
_API_LOCK = threading.Lock()


def cuda_api(prefer: str | None = None) -> CudaApi:
    """The CUDA runtime through ``cuda-bindings`` or ``cupy`` (``prefer``, default the
    ``FOURIER_CUDA_API`` environment variable, else cuda-bindings first); a `CopyPathError` says
    why neither can be used."""
    global _API
    prefer = prefer or os.environ.get("FOURIER_CUDA_API") or None
    with _API_LOCK:
        if _API is not None and (prefer is None or _API.name == prefer):
            return _API
        errors = []
        kinds = [_CudaBindings, _Cupy] if prefer != "cupy" else [_Cupy, _CudaBindings]
        for kind in kinds:
            try:
                _API = kind()
                return _API
            except Exception as e:  # not installed, or no driver
                errors.append(f"{kind.name}: {type(e).__name__}: {e}")
        raise CopyPathError(
            "the GPU copy path needs cuda-bindings or cupy (pip install 'fourier[cuda]'): "
            + "; ".join(errors)
        )


@dataclass(frozen=True)
class _Arg:
    """The shape and dtype of one staged buffer: an executable argument or an output."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


class _Slot:
    """Pinned staging, device buffers and a stream for one request in flight at one shape."""

    def __init__(self, api: CudaApi, device: Any, args: Sequence[_Arg], outs: Sequence[_Arg]) -> None:
        import jax
        from jax import numpy as jnp

        sizes = [a.nbytes for a in (*args, *outs)]
        offsets, total = [], 0
        for n in sizes:
            offsets.append(total)
            total += -(-max(n, 1) // _ALIGN) * _ALIGN
        self._api = api
        self.ptr = api.host_alloc(total)
        self._finalizer = weakref.finalize(self, api.host_free, self.ptr)
        memory = np.ctypeslib.as_array((ctypes.c_uint8 * total).from_address(self.ptr))
        views = [
            memory[o : o + n].view(a.dtype).reshape(a.shape)
            for o, n, a in zip(offsets, sizes, (*args, *outs))
        ]
        self.host_in, self.host_out = views[: len(args)], views[len(args) :]
        with jax.enable_x64(True):
            self.device_in = [jnp.zeros(a.shape, a.dtype, device=device) for a in args]
        jax.block_until_ready(self.device_in)
        self.copies_in = [
            (d.unsafe_buffer_pointer(), h.ctypes.data, h.nbytes)
            for d, h in zip(self.device_in, self.host_in)
            if h.nbytes
        ]
        self.stream = api.stream()
        self.pack_views: list[Any] = []  # the packed buffer's views (`PackLayout.views`)
        # (views, copy) pieces of a large packed buffer, each copied once its views are written
        self.pack_chunks: list[tuple[list[Any], tuple[int, int, int]]] = []
        self.copies_after_pack = self.copies_in  # what is copied after packing
        self.fixed_views: list[Any] = []  # the request-level block's views (`PackLayout.fixed`)
        self._check()

    def _check(self) -> None:
        """A pattern written through the device pointers must read back through JAX."""
        for h in self.host_in:
            h.view(np.uint8).reshape(-1)[:] = np.arange(h.nbytes, dtype=np.uint64).astype(np.uint8) ^ 0x5A
        for dst, src, n in self.copies_in:
            self._api.h2d(dst, src, n, self.stream)
        self._api.sync(self.stream)
        for d, h in zip(self.device_in, self.host_in):
            if not np.array_equal(np.asarray(d).view(np.uint8), h.view(np.uint8)):
                raise CopyPathError(
                    "a buffer written through its device pointer did not read back through JAX"
                )

    def close(self) -> None:
        self._finalizer()


def _chunks(
    views: list[Any], flat: np.ndarray, copy: tuple[int, int, int]
) -> list[tuple[list[Any], tuple[int, int, int]]]:
    """A large packed buffer's runs grouped into pieces of about `_CHUNK` bytes, each with the
    copy of its byte range (``copy`` is the whole buffer's); none for a buffer under two pieces."""
    dst, src, total = copy
    if total < 2 * _CHUNK or len(views) < 2:
        return []
    base = flat.ctypes.data
    assert base == src
    pieces: list[tuple[list[Any], tuple[int, int, int]]] = []
    group: list[Any] = []
    lo = hi = 0
    for view in sorted(views, key=lambda v: v[1].ctypes.data):
        start = view[1].ctypes.data - base
        if not group:
            lo = start
        group.append(view)
        hi = start + view[1].nbytes if view[1].flags.c_contiguous else _extent(view[1], base)
        if hi - lo >= _CHUNK:
            pieces.append((group, (dst + lo, src + lo, hi - lo)))
            group = []
    if group:
        pieces.append((group, (dst + lo, src + lo, hi - lo)))
    return pieces if len(pieces) > 1 else []


def _extent(block: np.ndarray, base: int) -> int:
    """The byte offset just past the last byte of a (strided) view, from ``base``."""
    last = block.ctypes.data + sum((d - 1) * st for d, st in zip(block.shape, block.strides)) + block.itemsize
    return last - base


class CopyPath:
    """Pinned, pooled, asynchronous copies around one device's executables (see the module doc)."""

    def __init__(
        self,
        device: Any,
        signature: Signature,
        layout: PackLayout | None,
        slots: int = 4,
        api: CudaApi | None = None,
    ) -> None:
        self.device = device
        self.signature = signature
        self.layout = layout
        self.max_slots = max(1, slots)
        self.api = api or cuda_api()
        self._ordinal = int(getattr(device, "local_hardware_id", None) or getattr(device, "id", 0) or 0)
        self._pools: dict[tuple[int | None, ...], queue.SimpleQueue[_Slot]] = {}
        self._made: dict[tuple[int | None, ...], list[_Slot]] = {}
        self._lock = threading.Lock()

    # -- plans --------------------------------------------------------------------------------

    def _plan(self, key: tuple[int | None, ...]) -> tuple[list[_Arg], list[_Arg]]:
        bucket = key[0] or 0
        dims = dict(zip(self.signature.symbols, key[1:]))
        args: list[_Arg] = []
        loose: Sequence[int] = range(len(self.signature.inputs))
        if self.layout is not None:
            loose = self.layout.loose
            if self.layout.segments:  # as the executable takes it: uint32[R/4, bucket]
                args.append(_Arg((self.layout.row_bytes // 4, bucket), np.dtype(np.uint32)))
            if self.layout.fixed:  # the request-level inputs' block: uint32[F/4, 1]
                args.append(_Arg((self.layout.fixed_bytes // 4, 1), np.dtype(np.uint32)))
        for i in loose:
            spec = self.signature.inputs[i]
            shape = spec.concrete(bucket, dims)  # type: ignore[arg-type]
            args.append(_Arg(shape, np.dtype(numpy_dtype(spec.dtype))))
        outs = [
            _Arg(s.concrete(bucket, dims), np.dtype(numpy_dtype(s.dtype)))  # type: ignore[arg-type]
            for s in self.signature.outputs
        ]
        return args, outs

    def _pool(self, key: tuple[int | None, ...]) -> queue.SimpleQueue[_Slot]:
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                self._made.setdefault(key, [])
                pool = self._pools.setdefault(key, queue.SimpleQueue())
        return pool

    def _acquire(self, key: tuple[int | None, ...]) -> _Slot:
        pool = self._pool(key)
        try:
            return pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            made = self._made[key]
            if len(made) < self.max_slots:
                self.api.set_device(self._ordinal)
                _CURRENT.device = self._ordinal
                slot = _Slot(self.api, self.device, *self._plan(key))
                if self.layout is not None and self.layout.segments:
                    flat = slot.host_in[0].reshape(-1).view(np.uint8)
                    slot.pack_views = self.layout.views(self.signature, flat, key[0] or 0)
                    slot.pack_chunks = _chunks(slot.pack_views, flat, slot.copies_in[0])
                    if slot.pack_chunks:
                        slot.copies_after_pack = slot.copies_in[1:]
                fixed = self.layout.fixed_layout if self.layout is not None else None
                if fixed is not None:
                    at = 1 if self.layout is not None and self.layout.segments else 0
                    flat = slot.host_in[at].reshape(-1).view(np.uint8)
                    slot.fixed_views = fixed.views(self.signature, flat, 1)
                made.append(slot)
                return slot
        return pool.get()

    def prepare(self, key: tuple[int | None, ...]) -> None:
        """Make one slot for ``key`` now (at load), so the first request pays no allocation."""
        slot = self._acquire(key)
        self._pool(key).put(slot)

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        executable: Any,
        key: tuple[int | None, ...],
        arrays: Sequence[np.ndarray],
        start: int,
        rows: int,
    ) -> list[np.ndarray]:
        """Rows ``start:start+rows`` of ``arrays`` through ``executable`` at shape ``key``."""
        bucket = key[0]
        slot = self._acquire(key)
        api, stream = self.api, slot.stream
        try:
            if getattr(_CURRENT, "device", None) != self._ordinal:  # the runtime API's device is per thread
                api.set_device(self._ordinal)
                _CURRENT.device = self._ordinal
            host = slot.host_in
            j = 0
            if slot.pack_chunks:  # pack and copy in pieces: the copies overlap the packing
                for views, (dst, src, n) in slot.pack_chunks:
                    for view in views:
                        write_run(view, arrays, start, rows, bucket or 0)
                    api.h2d(dst, src, n, stream)
                j = 1
            elif self.layout is not None and self.layout.segments:
                self.layout.write(slot.pack_views, arrays, start, rows, bucket or 0)
                j = 1
            if self.layout is not None and self.layout.fixed_layout is not None:
                self.layout.fixed_layout.write(slot.fixed_views, arrays, 0, 1, 1)
                j += 1
            loose = self.layout.loose if self.layout is not None else range(len(arrays))
            for buf, i in zip(host[j:], loose):
                x = arrays[i]
                if self.signature.inputs[i].batched and bucket is not None:
                    fill_rows(buf, x, start, rows)
                else:
                    buf[...] = x
            for dst, src, n in slot.copies_after_pack:
                api.h2d(dst, src, n, stream)
            api.sync(stream)
            outs = executable.execute_resident(slot.device_in)
            for o in outs:
                o.block_until_ready()
            for o, h in zip(outs, slot.host_out):
                if h.nbytes:
                    api.d2h(h.ctypes.data, o.unsafe_buffer_pointer(), h.nbytes, stream)
            api.sync(stream)
            return [h.copy() for h in slot.host_out]
        finally:
            self._pools[key].put(slot)

    def close(self) -> None:
        """Free the pinned memory of every idle slot (call when no request is in flight)."""
        with self._lock:
            for pool in self._pools.values():
                while True:
                    try:
                        pool.get_nowait().close()
                    except queue.Empty:
                        break
            self._made.clear()
            self._pools.clear()
