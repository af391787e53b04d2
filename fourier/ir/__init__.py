"""The graph IR: values, nodes, graphs, types, the printer and the verifier."""

from fourier.ir.core import Graph, Node, Value
from fourier.ir.printer import print_graph
from fourier.ir.types import BATCH, UNKNOWN, Dim, TensorType

__all__ = ["BATCH", "UNKNOWN", "Dim", "Graph", "Node", "TensorType", "Value", "print_graph", "verify"]


def verify(graph: Graph) -> None:
    """Check the graph's invariants; see `fourier.ir.verifier.verify`."""
    from fourier.ir.verifier import verify as _verify  # the verifier needs the op registry

    _verify(graph)
