"""Long-tail shapes: compiled in the background, kept in a persistent cache.

A shape is a key ``(batch, *values of the signature's symbols)``. A request no executable covers is
answered at once by a fallback -- a batch larger than every bucket runs in chunks of the largest;
a sequence length with no executable runs on the reference interpreter -- while `LongTail` decides
whether that shape is worth its own executable: once a shape (batch rounded by
`LongTailPolicy.round`, symbol values exact) has been seen ``min_seen`` times, one background
worker compiles the artifact's polymorphic StableHLO for it. One compile per shape however many
requests ask; at most ``max_pending`` wait; a failed compile is logged, counted and not retried,
and the fallback keeps serving. Finished executables go to the `ExecutableCache`, so a restarted
server loads them instead of compiling.

Cache entries are keyed by the polymorphic module's sha256, the shape, the platform and device
kind, and the Fourier, JAX and jaxlib versions; each entry's bytes are hashed, and an entry whose
key fields or hash do not match is deleted and rebuilt, never deserialized.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Key = tuple[int, ...]  # (batch, *symbol values in the signature's sorted symbol order)

__all__ = ["Key", "LongTailPolicy", "LongTail", "ExecutableCache", "default_cache_dir"]

log = logging.getLogger("fourier.longtail")


def default_cache_dir() -> Path:
    """``$FOURIER_CACHE_DIR``, else ``~/.cache/fourier/executables``."""
    env = os.environ.get("FOURIER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "fourier" / "executables"


@dataclass(frozen=True)
class LongTailPolicy:
    """When a long-tail shape gets its own executable, and which shape that is.

    A batch above the largest bucket rounds up to the next power of two (300 -> 512); sizes above
    ``max_batch`` always run chunked. A symbol value (a sequence length) is compiled exactly, since
    padding that dimension could change the answer; values above ``max_dim`` are never compiled and
    always take the reference path.
    """

    min_seen: int = 2
    max_batch: int = 4096
    max_dim: int = 4096
    max_pending: int = 4
    workers: int = 1
    enabled: bool = True

    def round(self, batch: int) -> int | None:
        """The size to compile for ``batch`` rows, or None when it should stay chunked."""
        if batch > self.max_batch:
            return None
        size = 1
        while size < batch:
            size *= 2
        return min(size, self.max_batch)


class ExecutableCache:
    """Serialized executables on disk, one ``.xla`` and one ``.json`` per (module, batch, env)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self._env_tag = hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:12]

    def _paths(self, module: str, key: Key) -> tuple[Path, Path]:
        stem = f"{module[:16]}-b{'-'.join(map(str, key))}-{self._env_tag}"
        return self.root / f"{stem}.xla", self.root / f"{stem}.json"

    def store(self, module: str, key: Key, data: bytes) -> None:
        blob, meta = self._paths(module, key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = blob.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, blob)  # atomic: a reader sees the old entry or the whole new one
            info = {
                **self.env,
                "module": module,
                "key": list(key),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            tmp = meta.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(info, indent=1))
            os.replace(tmp, meta)
        except OSError as e:  # a read-only or full disk costs the cache, never the request
            log.warning("fourier: could not write cache entry %s: %s", blob, e)

    def keys(self, module: str) -> list[Key]:
        """Shapes with an entry for ``module`` in this environment (not yet verified)."""
        if not self.root.is_dir():
            return []
        out = []
        for meta in self.root.glob(f"{module[:16]}-b*-{self._env_tag}.json"):
            try:
                out.append(tuple(int(x) for x in meta.name[len(module[:16]) + 2 :].split("-")[:-1]))
            except ValueError:
                continue
        return sorted(out)

    def load(self, module: str, key: Key) -> bytes | None:
        """The entry's bytes if its key fields and hash check out; else delete it and return None."""
        blob, meta = self._paths(module, key)
        if not meta.exists() and not blob.exists():
            return None
        try:
            info = json.loads(meta.read_text())
            want = {**self.env, "module": module, "key": list(key)}
            bad = [k for k, v in want.items() if info.get(k) != v]
            data = blob.read_bytes()
            if bad:
                raise ValueError(f"key fields differ: {', '.join(bad)}")
            if hashlib.sha256(data).hexdigest() != info.get("sha256"):
                raise ValueError("content hash differs (corrupt or tampered)")
            return data
        except (OSError, ValueError) as e:
            log.warning("fourier: dropping cache entry %s: %s", blob, e)
            for p in (blob, meta):
                p.unlink(missing_ok=True)
            return None


class LongTail:
    """Decides, schedules and runs background compiles of long-tail shapes."""

    def __init__(
        self,
        policy: LongTailPolicy,
        compile_fn: Callable[[Key], Any],
        install: Callable[[Key, Any], None],
        on_compiled: Callable[[float, bool], None],
    ) -> None:
        self.policy = policy
        self._compile = compile_fn
        self._install = install
        self._on_compiled = on_compiled
        self._lock = threading.Lock()
        self._seen: Counter[Key] = Counter()
        self._pending: set[Key] = set()
        self._done: set[Key] = set()
        self.failed: dict[Key, str] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._events: dict[Key, threading.Event] = {}

    def mark_ready(self, key: Key) -> None:
        with self._lock:
            self._done.add(key)

    def saw(self, key: Key) -> Key | None:
        """Note a request that no executable covers, whose shape would be compiled as ``key``
        (already rounded); maybe start that compile. Returns ``key`` if it is being compiled."""
        if not self.policy.enabled or any(v > self.policy.max_dim for v in key[1:]):
            return None
        with self._lock:
            if key in self._done or key in self.failed:
                return None
            self._seen[key] += 1
            if key in self._pending:
                return key
            if self._seen[key] < self.policy.min_seen or len(self._pending) >= self.policy.max_pending:
                return None
            self._pending.add(key)
            self._events[key] = threading.Event()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.policy.workers, thread_name_prefix="fourier-compile")
            self._pool.submit(self._run, key)
            return key

    def _run(self, key: Key) -> None:
        t0 = time.perf_counter()
        ok = False
        try:
            exe = self._compile(key)
            self._install(key, exe)
            ok = True
        except Exception as e:  # serving goes on with the fallback
            log.warning("fourier: background compile for shape %s failed: %s: %s", key, type(e).__name__, e)
            with self._lock:
                self.failed[key] = f"{type(e).__name__}: {e}"
        finally:
            with self._lock:
                self._pending.discard(key)
                if ok:
                    self._done.add(key)
                event = self._events.pop(key, None)
            self._on_compiled(time.perf_counter() - t0, ok)
            if event is not None:
                event.set()

    def wait(self, key: Key, timeout: float | None = None) -> bool:
        """Block until the compile of ``key`` has finished (True) or ``timeout`` passes."""
        with self._lock:
            event = self._events.get(key)
            if event is None:
                return key in self._done or key in self.failed
        return event.wait(timeout)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
