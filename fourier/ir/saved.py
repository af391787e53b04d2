"""A graph at rest: its IR text plus the constants the text only names by digest.

The IR text prints constants of more than ``INLINE_CONST_ELEMENTS`` elements as a digest, so
text alone does not carry a graph. :class:`SavedGraph` is the one serialized form both places
that store a graph use: reproducers (``input.fir`` + ``constants.safetensors``) and artifacts
(``graph.fir``, its large constants kept in the weights file under the keys the manifest's
``ir_constants`` names, so a constant that is also a parameter is stored once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fourier.ir.core import Graph
from fourier.ir.parser import parse_graph
from fourier.ir.printer import INLINE_CONST_ELEMENTS, print_graph

__all__ = ["SavedGraph", "save_graph"]


@dataclass(frozen=True)
class SavedGraph:
    """``text`` (the IR as printed) and ``constants`` (node name -> value) for every constant the
    text prints only as a digest."""

    text: str
    constants: Mapping[str, np.ndarray]

    def load(self) -> Graph:
        """The graph back (the op registry must be installed: ``import fourier.ops``)."""
        return parse_graph(self.text, self.constants)


def save_graph(graph: Graph) -> SavedGraph:
    """``graph`` as it is now, unaffected by later rewrites."""
    constants = {
        n.name: n.attrs["value"]
        for n in graph.nodes
        if n.op == "Const" and n.attrs["value"].size > INLINE_CONST_ELEMENTS
    }
    return SavedGraph(print_graph(graph), constants)
