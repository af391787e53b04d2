"""Run the host part of a partitioned graph on numpy, and feed its outputs to the device part.

`HostExecutor` runs a plan's host graph (`fourier.host.partition.Plan.host`) with each op's
registry reference, the host ops included (`fourier.ops.host`), its tables bound from
`HostTable` s by name: no TensorFlow, no JAX. A `HostPart` is what serving needs of a plan (the
host graph, its tables, the names that connect it to the device part; `fourier.host.saved` stores
it); `PartitionedModel` is the whole model: the host part, then the device part (any callable from
a dict of arrays to a dict of arrays: a model `fourier.load` returns, or the reference
interpreter), outputs in the graph's order. Nothing here imports the compiler or the importer.

String inputs may be numpy arrays of ``bytes`` or ``str`` objects (dtype object, ``S`` or
``U``) or nested lists; they are hashed and looked up as bytes (``str`` as UTF-8).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fourier.errors import FourierError, InputDtypeError, InputShapeError, MissingInputError
from fourier.host.hashing import to_bytes
from fourier.host.tables import HostTable
from fourier.ir.core import Graph, Node
from fourier.ir.types import TensorType
from fourier.ops.registry import get_op

if TYPE_CHECKING:  # a plan is made at compile time; serving reads a HostPart
    from fourier.host.partition import Plan

__all__ = ["HostExecutor", "HostPart", "PartitionedModel", "HostRunError", "check_tables"]

DeviceFn = Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]]


class HostRunError(FourierError):
    """A host op failed on a request; names the node and its op."""


def check_tables(graph: Graph, tables: Mapping[str, HostTable]) -> None:
    """Every table ``graph`` reads is in ``tables`` with the key and value types its node says."""
    for n in graph.nodes:
        if n.op != "HashTableV2":
            continue
        name = n.attrs["shared_name"]
        table = tables.get(name)
        if table is None:
            have = ", ".join(sorted(tables)) or "none"
            raise FourierError(
                f"node {n.name!r} (HashTableV2) reads table {name!r}, which is not given (have: {have})"
            )
        want = (n.attrs["key_dtype"], n.attrs["value_dtype"])
        if (table.key_dtype, table.value_dtype) != want:
            raise FourierError(
                f"node {n.name!r} (HashTableV2): table {name!r} maps {want[0]} to {want[1]}, the table "
                f"given maps {table.key_dtype} to {table.value_dtype}"
            )


def _check_input(node: Node, value: Any) -> np.ndarray:
    want = node.output.type
    if want.dtype == "string":
        try:
            arr = to_bytes(value if isinstance(value, np.ndarray) else np.asarray(value, dtype=object))
        except TypeError as e:
            raise InputDtypeError(f"input {node.name!r}: expected strings, {e}") from None
    else:
        arr = np.asarray(value)
        if arr.dtype.name != want.dtype:
            raise InputDtypeError(f"input {node.name!r}: expected {want.dtype}, got {arr.dtype.name}")
    _check_shape(node.name, want, arr)
    return arr


def _check_shape(name: str, want: TensorType, arr: np.ndarray) -> None:
    shape = want.shape or ()
    if arr.ndim != len(shape) or any(isinstance(d, int) and d != s for d, s in zip(shape, arr.shape)):
        raise InputShapeError(f"input {name!r}: expected {want}, got shape {arr.shape}")


class HostExecutor:
    """Runs a host graph on numpy with its tables bound by name (checked when constructed)."""

    def __init__(self, graph: Graph, tables: Mapping[str, HostTable]) -> None:
        check_tables(graph, tables)
        self.graph = graph
        self._tables = dict(tables)
        self._nodes = list(graph.nodes)
        self.inputs: dict[str, TensorType] = {n.name: n.output.type for n in graph.inputs}

    def __call__(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The host graph's outputs by name, from ``feeds`` by input name."""
        env: dict[int, Any] = {}
        for node in self._nodes:
            if node.op == "Placeholder":
                if node.name not in feeds:
                    raise MissingInputError(f"missing input {node.name!r} ({node.output.type})")
                env[id(node.output)] = _check_input(node, feeds[node.name])
                continue
            if node.op == "HashTableV2":
                holder = np.empty((), dtype=object)
                holder[()] = self._tables[node.attrs["shared_name"]]
                env[id(node.output)] = holder
                continue
            args = [env[id(v)] for v in node.inputs]
            try:
                out = get_op(node.op).reference(node.attrs, *args)
            except FourierError:
                raise
            except (TypeError, ValueError, IndexError, KeyError, ArithmeticError) as e:
                shapes = [tuple(np.shape(a)) for a in args]
                raise HostRunError(f"node {node.name!r} ({node.op}) on inputs of shapes {shapes}: {e}") from e
            outs = out if isinstance(out, (tuple, list)) else (out,)
            for v, o in zip(node.outputs, outs):
                env[id(v)] = np.asarray(o)
        return {name: env[id(v)] for name, v in self.graph.outputs}


@dataclass(frozen=True)
class HostPart:
    """What serving needs of a plan: the host graph and its tables; ``crossings``, the host
    outputs the device part reads (its inputs of those names); ``device_inputs``, the model's own
    inputs the device part reads; ``outputs``, the model's outputs in order; ``host_outputs``,
    those the host part computes; ``device``, whether there is a device part."""

    graph: Graph
    tables: Mapping[str, HostTable]
    crossings: tuple[str, ...]
    device_inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    host_outputs: tuple[str, ...]
    device: bool

    @staticmethod
    def from_plan(plan: Plan, tables: Mapping[str, HostTable]) -> HostPart:
        """The host side of ``plan`` with the tables it reads (all checked present)."""
        crossings = tuple(c.name for c in plan.crossings)
        device_inputs = tuple(
            n.name for n in (plan.device.inputs if plan.device else []) if n.name not in set(crossings)
        )
        used = {n.attrs["shared_name"] for n in plan.host.nodes if n.op == "HashTableV2"}
        part = HostPart(
            plan.host,
            {k: v for k, v in tables.items() if k in used},
            crossings,
            device_inputs,
            tuple(name for name, _ in plan.graph.outputs),
            tuple(plan.host_outputs),
            plan.device is not None,
        )
        check_tables(part.graph, part.tables)
        return part


class PartitionedModel:
    """A partitioned model: the host part on numpy, then ``device`` (a callable on the device
    part's inputs, such as a `fourier.load` model); returns the model's outputs by name."""

    def __init__(self, part: HostPart, device: DeviceFn | None) -> None:
        if part.device and device is None:
            raise ValueError(f"@{part.graph.name} has a device part: give the callable that runs it")
        self.part = part
        self.host = HostExecutor(part.graph, part.tables)
        self.device = device if part.device else None

    @staticmethod
    def from_plan(plan: Plan, tables: Mapping[str, HostTable], device: DeviceFn | None) -> PartitionedModel:
        return PartitionedModel(HostPart.from_plan(plan, tables), device)

    @property
    def input_names(self) -> list[str]:
        """Every input the model reads (the host part's and the device part's)."""
        return sorted(set(self.host.inputs) | set(self.part.device_inputs))

    def __call__(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        host_out = self.host({k: feeds[k] for k in self.host.inputs if k in feeds})
        results = dict(host_out)
        if self.device is not None:
            dev_feeds: dict[str, np.ndarray] = {}
            for name in self.part.device_inputs:
                if name not in feeds:
                    raise MissingInputError(f"missing input {name!r}")
                dev_feeds[name] = np.asarray(feeds[name])
            for name in self.part.crossings:
                dev_feeds[name] = host_out[name]
            results.update(self.device(dev_feeds))
        return {name: results[name] for name in self.part.outputs}
