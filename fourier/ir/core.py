"""The graph IR: nodes that produce typed values, kept in topological order.

A `Graph` owns a list of `Node` s. A node has an op name (a registry entry), input `Value` s,
attributes (plain Python values and numpy arrays), and output values whose types come from the
op's shape inference. Graph inputs are ``Placeholder`` nodes; graph outputs are named values.
Every node records the TensorFlow nodes it came from (``origin``) and the rule that made it.

The IR sits below the op registry: it knows ops only through the `OpProvider` interface, which
`fourier.ops` installs when it is imported (`set_op_provider`). Import `fourier.ops` (the importer,
the pass manager and the interpreter do) before building a graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fourier.ir.printer import print_graph
from fourier.ir.types import TensorType

__all__ = [
    "Value",
    "Node",
    "Graph",
    "count_ops",
    "OpSignature",
    "OpProvider",
    "set_op_provider",
    "op_provider",
]


@dataclass(frozen=True)
class OpSignature:
    """What the IR checks of a node against its op: how many inputs, which attributes."""

    min_inputs: int
    max_inputs: int | None
    defaults: Mapping[str, Any]  # the optional attributes, with the value an unset one takes
    required: tuple[str, ...]  # the attributes every node of the op sets, in declaration order


class OpProvider(Protocol):
    """The IR's view of the op registry: which ops exist, their signatures, their inference."""

    def has_op(self, op: str) -> bool:
        """Whether ``op`` is a known op."""
        ...

    def signature(self, op: str) -> OpSignature:
        """The input count and attributes of a known op (KeyError if unknown)."""
        ...

    def infer(
        self,
        op: str,
        name: str,
        attrs: Mapping[str, Any],
        types: Sequence[TensorType],
        known: Sequence[np.ndarray | None],
    ) -> tuple[list[TensorType], list[np.ndarray] | None]:
        """Output types of node ``name`` (for errors), and its output values where known statically."""
        ...


_PROVIDER: OpProvider | None = None


def set_op_provider(provider: OpProvider) -> None:
    """Install the op knowledge graphs are built with (`fourier.ops` calls this when imported)."""
    global _PROVIDER
    _PROVIDER = provider


def op_provider() -> OpProvider:
    """The installed op knowledge; an error that says what to import if there is none."""
    if _PROVIDER is None:
        raise RuntimeError("no op registry is installed: import fourier.ops before building a graph")
    return _PROVIDER


def infer_node(node: Node) -> tuple[list[TensorType], list[np.ndarray] | None]:
    """Run the op's inference on a node's attributes, input types and known input values."""
    return op_provider().infer(
        node.op,
        node.name,
        node.attrs,
        [v.type for v in node.inputs],
        [v.known for v in node.inputs],
    )


def count_ops(op_counts: Mapping[str, int]) -> int:
    """Operations in an op histogram, not counting graph inputs and constants."""
    return sum(c for op, c in op_counts.items() if op not in ("Placeholder", "Const"))


@dataclass(eq=False)
class Value:
    """One output of a node."""

    producer: Node
    index: int
    type: TensorType
    known: np.ndarray | None = field(default=None, repr=False)  # value if known statically

    @property
    def name(self) -> str:
        """``%node`` for a node's only/first output, ``%node:i`` for the others."""
        if self.index == 0:
            return f"%{self.producer.name}"
        return f"%{self.producer.name}:{self.index}"

    def __repr__(self) -> str:
        return f"<Value {self.name}: {self.type}>"


@dataclass(eq=False)
class Node:
    """One operation: ``op`` applied to ``inputs`` with ``attrs``, producing ``outputs``."""

    op: str
    name: str
    inputs: list[Value]
    attrs: dict[str, Any]
    outputs: list[Value] = field(default_factory=list)
    origin: tuple[str, ...] = ()
    rule: str | None = None
    # Every rule that rewrote this node or the nodes it replaced, oldest first (``rule`` is the
    # last); kept in memory for explanations, not printed.
    lineage: tuple[str, ...] = ()

    @property
    def output(self) -> Value:
        return self.outputs[0]

    def __repr__(self) -> str:
        return f"<Node {self.name} = {self.op}>"


class Graph:
    """A dataflow graph: nodes in topological order, Placeholder inputs, named outputs."""

    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.source = ""  # where the graph was imported from
        self.source_sha256 = ""  # hash of the bytes it was imported from
        self.nodes: list[Node] = []
        self.outputs: list[tuple[str, Value]] = []
        # From the importer, for the signature: inputs the model declares that no output reads
        # (name, dtype, shape), and the defaults of inputs a caller may omit (by input name).
        self.unused_inputs: list[tuple[str, str, tuple[Any, ...]]] = []
        self.input_defaults: dict[str, Any] = {}
        # Inputs bound to constants at import (``--const NAME=VALUE``), by name.
        self.bound_inputs: dict[str, np.ndarray] = {}
        self._names: set[str] = set()

    # -- construction -------------------------------------------------------------------------

    def unique_name(self, base: str) -> str:
        if base not in self._names:
            return base
        i = 1
        while f"{base}_{i}" in self._names:
            i += 1
        return f"{base}_{i}"

    def add_node(
        self,
        op: str,
        inputs: Sequence[Value],
        attrs: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        origin: tuple[str, ...] = (),
        rule: str | None = None,
        types: Sequence[TensorType] | None = None,
    ) -> Node:
        """Append a node; its output types come from the op's inference unless ``types`` given."""
        node = self.make_node(op, inputs, attrs, name=name, origin=origin, rule=rule, types=types)
        self.nodes.append(node)
        return node

    def make_node(
        self,
        op: str,
        inputs: Sequence[Value],
        attrs: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        origin: tuple[str, ...] = (),
        rule: str | None = None,
        types: Sequence[TensorType] | None = None,
    ) -> Node:
        """Build a node with a fresh name and inferred types, without placing it in the graph."""
        given = dict(attrs or {})
        for key, default in op_provider().signature(op).defaults.items():  # unset: the op's default
            if key not in given:
                given[key] = list(default) if isinstance(default, list) else default
        node = Node(op, self.unique_name(name or op), list(inputs), given)
        node.origin, node.rule = origin, rule
        out_types, known = infer_node(node)
        if types is not None:
            out_types = list(types)
        node.outputs = [
            Value(node, i, t, None if known is None or i >= len(known) else known[i])
            for i, t in enumerate(out_types)
        ]
        self._names.add(node.name)
        return node

    def release_name(self, name: str) -> None:
        """Let a later node take ``name`` (its node was removed)."""
        self._names.discard(name)

    def rename(self, node: Node, name: str) -> None:
        """Give ``node`` the free name ``name``."""
        if name in self._names:
            raise ValueError(f"node name {name!r} is taken")
        self._names.discard(node.name)
        node.name = name
        self._names.add(name)

    def set_outputs(self, outputs: Sequence[tuple[str, Value]]) -> None:
        self.outputs = list(outputs)

    # -- queries ------------------------------------------------------------------------------

    @property
    def inputs(self) -> list[Node]:
        """The graph's Placeholder nodes, in graph order."""
        return [n for n in self.nodes if n.op == "Placeholder"]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def num_ops(self) -> int:
        """Nodes that compute something (not Placeholder or Const)."""
        return count_ops(self.op_counts())

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return dict(sorted(counts.items()))

    def __str__(self) -> str:
        return print_graph(self)
