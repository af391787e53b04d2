"""Lower an IR graph to a JAX function by walking the op registry.

The lowered function takes ``(params, inputs)``: ``params`` are the graph's large constants, passed
as arguments so that they are stored once and shared by every bucket's executable instead of being
baked into each one; ``inputs`` are the graph inputs in signature order.

Values known at trace time stay numpy arrays: an op whose operands are all numpy is evaluated with
its numpy reference, so shape arithmetic (``Shape`` -> ``StridedSlice`` -> ``Pack`` -> ``Reshape``)
resolves to static shapes for each bucket instead of becoming run-time computation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourier.errors import CompileError, FourierError
from fourier.ir.core import Graph
from fourier.ops.registry import get_op

__all__ = ["LoweredGraph", "lower_graph", "PARAM_MIN_BYTES"]

# Constants of at least this many bytes become parameters (weights); smaller ones are inlined.
SHAPE_LIKE_MAX_BYTES = 1 << 20
PARAM_MIN_BYTES = 1024


@dataclass
class LoweredGraph:
    """A graph as a JAX-traceable function plus the weights it takes as parameters."""

    fn: Callable[[list[Any], list[Any]], tuple[Any, ...]]
    param_names: list[str]
    param_values: list[np.ndarray]
    input_names: list[str]
    output_names: list[str]
    const_params: dict[str, int]  # Const node name -> its parameter's position


def _param_key(name: str, used: set[str]) -> str:
    key = name.replace(":", "_")
    base, i = key, 1
    while key in used:
        key, i = f"{base}_{i}", i + 1
    return key


def _shape_like(value: np.ndarray) -> bool:
    """An integer vector that an op may need as a compile-time value (split sizes, a shape, a
    permutation, offsets): kept in the program, never made a traced parameter. ONN's fused table
    lookup splits 676 ways, and its sizes (5.4 KB) once became a parameter XLA could not use."""
    return value.ndim <= 1 and value.dtype.kind in "iub" and value.nbytes < SHAPE_LIKE_MAX_BYTES


def lower_graph(graph: Graph, param_min_bytes: int = PARAM_MIN_BYTES) -> LoweredGraph:
    """Build the JAX function of ``graph``; identical large constants share one parameter."""
    params: list[np.ndarray] = []
    names: list[str] = []
    by_digest: dict[str, int] = {}
    param_index: dict[int, int] = {}  # id(node) -> parameter position
    for node in graph.nodes:
        if node.op != "Const":
            continue
        value: np.ndarray = node.attrs["value"]
        if value.nbytes < param_min_bytes or _shape_like(value):
            continue
        digest = hashlib.sha256(
            value.dtype.str.encode() + str(value.shape).encode() + np.ascontiguousarray(value).tobytes()
        ).hexdigest()
        if digest not in by_digest:
            by_digest[digest] = len(params)
            params.append(np.ascontiguousarray(value))
            names.append(_param_key(node.name, set(names)))
        param_index[id(node)] = by_digest[digest]

    inputs = graph.inputs
    input_pos = {id(n): i for i, n in enumerate(inputs)}
    outputs = list(graph.outputs)
    nodes = list(graph.nodes)

    def fn(param_args: list[Any], input_args: list[Any]) -> tuple[Any, ...]:
        env: dict[int, Any] = {}
        for node in nodes:
            if id(node) in input_pos:
                env[id(node.output)] = input_args[input_pos[id(node)]]
                continue
            if id(node) in param_index:
                env[id(node.output)] = param_args[param_index[id(node)]]
                continue
            opdef = get_op(node.op)
            args = [env[id(v)] for v in node.inputs]
            concrete = all(isinstance(a, (np.ndarray, np.generic)) for a in args)
            try:
                if concrete and "pure" in opdef.traits:
                    out = opdef.reference(node.attrs, *args)
                else:
                    out = opdef.lower(node.attrs, *args)
            except FourierError as e:
                raise CompileError(f"node {node.name!r} ({node.op}): {e}") from e
            except (TypeError, ValueError, IndexError, ArithmeticError) as e:
                # Inference left a dimension unknown that the concrete shapes now contradict.
                shapes = [tuple(getattr(a, "shape", ())) for a in args]
                raise CompileError(
                    f"node {node.name!r} ({node.op}) cannot run on inputs of shapes {shapes}: {e}"
                ) from e
            outs = out if isinstance(out, (tuple, list)) else (out,)
            for v, o in zip(node.outputs, outs):
                if isinstance(o, (np.ndarray, np.generic)):
                    o = np.asarray(o)
                if o.dtype.name != v.type.dtype:
                    raise CompileError(
                        f"node {node.name!r} ({node.op}): lowering produced {o.dtype.name}, "
                        f"the IR says {v.type.dtype} (a registry bug)"
                    )
                env[id(v)] = o
        return tuple(env[id(v)] for _, v in outputs)

    return LoweredGraph(
        fn=fn,
        param_names=names,
        param_values=params,
        input_names=[n.name for n in inputs],
        output_names=[name for name, _ in outputs],
        const_params={n.name: param_index[id(n)] for n in graph.nodes if id(n) in param_index},
    )
