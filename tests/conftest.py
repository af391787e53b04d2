"""Shared fixtures: the model zoo (built once, cached) and the TensorFlow oracle.

TensorFlow's environment is fixed before anything imports it: Keras 2 for deepctr, and oneDNN's
graph rewrites off so that TensorFlow is a trustworthy oracle (oneDNN's LayerNorm fusion uses the
wrong epsilon: fourier/testing/oracle.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fourier.testing.zoo import ZOO_NAMES, ZooModel, ensure_zoo

# float32 tolerance against TensorFlow (1e-5 relative per pass, 1e-4 where a fusion reorders sums: docs/passes.md).
RTOL, ATOL = 1e-4, 1e-5
BATCHES = (1, 7, 32, 33, 100, 128, 300)


@pytest.fixture(scope="session")
def zoo() -> dict[str, ZooModel]:
    return ensure_zoo(ZOO_NAMES)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@contextmanager
def xla_compiles() -> Iterator[list[str]]:
    """Collect the XLA backend compiles that happen inside the block (JAX's monitoring events)."""
    import jax

    events: list[str] = []

    def listener(event: str, seconds: float, **kwargs: object) -> None:
        if "backend_compile" in event:
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
