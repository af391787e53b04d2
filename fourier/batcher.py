"""Dynamic batching: many small concurrent requests become one bucket-sized run.

``Batcher(model, max_batch=128, max_delay_ms=2)`` takes requests from any number of threads. One
collector thread takes the oldest request, then keeps taking more until the rows reach
``max_batch`` or ``max_delay_ms`` has passed since the first, and hands the batch to one of
``workers`` runner threads, which concatenates it, runs the model once, and hands each caller
exactly its own rows. With several runners (the default: one per request the model can have in
flight, e.g. its GPU copy slots times its replicas) batches pipeline: while one computes, the next
is collected, packed and copied; the collector waits for a free runner, so a busy model makes
larger batches instead of a longer queue. A request larger than ``max_batch`` runs alone. Inputs
are checked in the caller's thread, so a bad request fails alone and never reaches a batch; a
model's host part (`fourier.host`) runs there too, so callers' host parts overlap the runners'
device calls, and outputs computed on the host rejoin each caller's device outputs.

The queue is bounded: when ``max_queue`` requests wait, `submit` raises `QueueFullError` at once.
A request that waits longer than its timeout fails with `RequestTimeoutError` (and is dropped
from the batch if it has not started).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fourier.errors import FourierError

__all__ = ["Batcher", "QueueFullError", "RequestTimeoutError", "BatcherClosedError"]


class QueueFullError(FourierError):
    """The batcher's queue is full; the request was not accepted."""


class RequestTimeoutError(FourierError, TimeoutError):
    """A request did not finish within its timeout."""


class BatcherClosedError(FourierError):
    """The batcher was closed before the request ran."""


@dataclass
class _Request:
    arrays: list[np.ndarray]
    rows: int
    deadline: float | None
    enqueued: float
    future: Future[dict[str, np.ndarray]] = field(default_factory=Future)
    host: dict[str, np.ndarray] = field(default_factory=dict)  # outputs its host part computed


def _default_workers(model: Any) -> int:
    """Batches the model can usefully run at once: its GPU copy slots per replica (2 at most,
    enough to overlap one batch's copies with another's compute), else 1 per replica."""
    replicas = getattr(model, "replicas", ()) or ()
    per = [min(2, r.copy.max_slots) if getattr(r, "copy", None) is not None else 1 for r in replicas]
    return max(1, sum(per))


class Batcher:
    """Coalesces concurrent requests to ``model`` into batches of up to ``max_batch`` rows."""

    def __init__(
        self,
        model: Any,
        max_batch: int | None = None,
        max_delay_ms: float = 2.0,
        max_queue: int = 1024,
        timeout_ms: float | None = None,
        workers: int | None = None,
    ) -> None:
        buckets = model.buckets
        if not buckets:
            raise FourierError(f"{model.path}: a model with static shapes cannot be batched")
        self.model = model
        self.max_batch = max_batch or max(buckets)
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be positive, got {self.max_batch}")
        self.max_delay = max_delay_ms / 1e3
        self.timeout = None if timeout_ms is None else timeout_ms / 1e3
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_queue)
        self._closed = False
        self._carry: _Request | None = None
        self.workers = workers or _default_workers(model)
        if self.workers < 1:
            raise ValueError(f"workers must be positive, got {self.workers}")
        self._runners = ThreadPoolExecutor(self.workers, thread_name_prefix="fourier-batch-run")
        self._free = threading.Semaphore(self.workers)
        self._worker = threading.Thread(target=self._loop, name="fourier-batcher", daemon=True)
        self._worker.start()

    # -- callers ------------------------------------------------------------------------------

    def submit(
        self, inputs: Mapping[str, Any], timeout_ms: float | None = None
    ) -> Future[dict[str, np.ndarray]]:
        """Queue one request; the future gives its outputs (its rows only)."""
        if self._closed:
            raise BatcherClosedError("the batcher is closed")
        arrays, batch, host = self.model.check_request(inputs)  # the host part runs here
        timeout = self.timeout if timeout_ms is None else timeout_ms / 1e3
        now = time.perf_counter()
        req = _Request(arrays, batch or 0, None if timeout is None else now + timeout, now, host=host)
        try:
            self._queue.put_nowait(req)
        except queue.Full:
            self.model.metrics.error("QueueFullError")
            raise QueueFullError(
                f"batcher queue is full ({self._queue.maxsize} requests waiting); try again later or raise max_queue"
            ) from None
        self.model.metrics.set_queue_depth(self._queue.qsize())
        return req.future

    def __call__(self, inputs: Mapping[str, Any], timeout_ms: float | None = None) -> dict[str, np.ndarray]:
        """Run one request through the batcher and wait for its outputs."""
        fut = self.submit(inputs, timeout_ms)
        timeout = self.timeout if timeout_ms is None else timeout_ms / 1e3
        try:
            # A little grace past the deadline: the worker fails late requests itself.
            out = fut.result(None if timeout is None else timeout + 1.0)
        except FutureTimeout:
            self.model.metrics.error("RequestTimeoutError")
            raise RequestTimeoutError(
                f"request did not finish within {(timeout or 0) * 1e3:.0f} ms"
            ) from None
        return out

    def close(self) -> None:
        """Stop the worker; requests still queued fail with `BatcherClosedError`."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._worker.join(timeout=30)
        self._runners.shutdown(wait=True)
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req is not None and not req.future.done():
                req.future.set_exception(BatcherClosedError("the batcher was closed before the request ran"))

    def __enter__(self) -> Batcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- worker -------------------------------------------------------------------------------

    def _next(self, timeout: float | None) -> _Request | None:
        if self._carry is not None:
            req, self._carry = self._carry, None
            return req
        try:
            return (
                self._queue.get(timeout=timeout)
                if timeout is None or timeout > 0
                else self._queue.get_nowait()
            )
        except queue.Empty:
            return None

    def _loop(self) -> None:
        while True:
            first = self._next(None)
            if first is None:  # close()
                return
            batch, rows = [first], first.rows
            deadline = first.enqueued + self.max_delay
            stop = False
            while rows < self.max_batch:
                req = self._next(deadline - time.perf_counter())
                if req is None:
                    if self._closed:
                        stop = True
                    break
                if rows + req.rows > self.max_batch or not self._mergeable(first, req):
                    self._carry = req  # starts the next batch
                    break
                batch.append(req)
                rows += req.rows
            self.model.metrics.set_queue_depth(self._queue.qsize())
            self._free.acquire()  # a runner is free: hand the batch over, collect the next
            self._runners.submit(self._run_and_release, batch)
            if stop:
                return

    def _run_and_release(self, batch: list[_Request]) -> None:
        try:
            self._run(batch)
        finally:
            self._free.release()

    def _mergeable(self, a: _Request, b: _Request) -> bool:
        """Requests share a run only if their inputs without a batch dimension are equal and
        their batched inputs agree on every other dimension (a sequence length), and never for a
        model whose rows may mix (padding the batch not proven safe: merged requests would see
        each other's rows)."""
        if not getattr(self.model, "batch_paddable", True):
            return False
        return all(
            x.shape[1:] == y.shape[1:] if spec.batched else np.array_equal(x, y)
            for spec, x, y in zip(self.model.signature.inputs, a.arrays, b.arrays)
        )

    def _run(self, batch: list[_Request]) -> None:
        now = time.perf_counter()
        live = []
        for req in batch:
            if req.deadline is not None and now > req.deadline:
                self.model.metrics.error("RequestTimeoutError")
                req.future.set_exception(
                    RequestTimeoutError(
                        f"request waited {(now - req.enqueued) * 1e3:.0f} ms, past its timeout"
                    )
                )
            elif req.future.set_running_or_notify_cancel():
                live.append(req)
                self.model.metrics.observe("batcher_wait", now - req.enqueued)
        if not live:
            return
        try:
            if len(live) == 1:
                arrays = live[0].arrays
            else:
                arrays = [
                    np.concatenate([r.arrays[i] for r in live], axis=0) if spec.batched else live[0].arrays[i]
                    for i, spec in enumerate(self.model.signature.inputs)
                ]
            outs = self.model.run_checked(arrays, sum(r.rows for r in live))
        except Exception as e:  # every caller of the batch learns why
            for r in live:
                r.future.set_exception(e)
            return
        start, done = 0, time.perf_counter()
        for r in live:
            self.model.metrics.request(r.rows, done - r.enqueued)
            mine = {
                s.name: (outs[s.name][start : start + r.rows] if s.batched else outs[s.name])
                for s in self.model.signature.outputs
            }
            r.future.set_result(self.model.merge_host(mine, r.host) if r.host else mine)
            start += r.rows
