"""The numpy reference interpreter: runs any IR graph with each op's registry reference.

It is the oracle for the per-op tests (reference vs JAX lowering) and the engine constant folding
uses; it is not meant to be fast.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fourier.errors import InputDtypeError, InputShapeError, MissingInputError
from fourier.ir.core import Graph
from fourier.ops.registry import get_op

__all__ = ["run_reference"]


def run_reference(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate ``graph`` on ``feeds`` (by input name); returns outputs by name."""
    env: dict[int, np.ndarray] = {}
    for node in graph.nodes:
        if node.op == "Placeholder":
            if node.name not in feeds:
                raise MissingInputError(f"missing input {node.name!r} ({node.output.type})")
            value = np.asarray(feeds[node.name])
            want = node.output.type
            if value.dtype.name != want.dtype:
                raise InputDtypeError(f"input {node.name!r}: expected {want.dtype}, got {value.dtype.name}")
            shape = want.shape or ()
            if value.ndim != len(shape) or any(
                isinstance(d, int) and d != s for d, s in zip(shape, value.shape)
            ):
                raise InputShapeError(f"input {node.name!r}: expected {want}, got shape {value.shape}")
            env[id(node.output)] = value
            continue
        args = [env[id(v)] for v in node.inputs]
        out = get_op(node.op).reference(node.attrs, *args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for v, o in zip(node.outputs, outs):
            env[id(v)] = np.asarray(o)
    return {name: env[id(v)] for name, v in graph.outputs}
