"""Where the test model builders cache what they freeze, and the TensorFlow settings they freeze
under (shared by the zoo, the real Keras graphs, the recurrent and the preprocessing models).

A builder's cache directory is keyed by its own source file and the installed TensorFlow, so a
change to either rebuilds it; an environment variable moves it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["tf_env", "cache_key", "cache_dir", "atomic_write"]


def tf_env() -> None:
    """TensorFlow as the builders need it: Keras 2 (tf-keras: deepctr needs it), and oneDNN off
    (its LayerNorm fusion uses epsilon 1e-3 instead of the model's and moved a transformer's
    outputs by 2.6 %)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _tensorflow_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return ""


def cache_key(source: str | Path) -> str:
    """12 hex digits of the builder's source file and TensorFlow's version."""
    h = hashlib.sha256(Path(source).read_bytes())
    h.update(_tensorflow_version().encode())
    return h.hexdigest()[:12]


def cache_dir(kind: str, env: str, source: str | Path) -> Path:
    """``$env`` if set, else ``~/.cache/fourier/<kind>/<cache_key(source)>``."""
    where = os.environ.get(env)
    if where:
        return Path(where)
    return Path.home() / ".cache" / "fourier" / kind / cache_key(source)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a cache another test process may be reading)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
