"""The graph IR: values, nodes, graphs, types, the printer and the verifier."""

from fourier.ir.core import Graph, Node, OpProvider, OpSignature, Value, set_op_provider
from fourier.ir.printer import print_graph
from fourier.ir.types import BATCH, UNKNOWN, Dim, TensorType
from fourier.ir.verifier import verify

__all__ = [
    "BATCH",
    "UNKNOWN",
    "Dim",
    "Graph",
    "Node",
    "OpProvider",
    "OpSignature",
    "TensorType",
    "Value",
    "print_graph",
    "set_op_provider",
    "verify",
]
