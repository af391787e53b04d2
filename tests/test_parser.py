"""The IR text form parses back: every zoo graph round-trips, and bad text fails with its line."""

from __future__ import annotations

import pytest

import fourier
import fourier.ops  # installs the op registry the parser builds nodes with
from fourier.ir.parser import ParseError, parse_graph
from fourier.ir.printer import INLINE_CONST_ELEMENTS
from fourier.testing.zoo import ZOO_NAMES, ZooModel


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_every_zoo_graph_round_trips(name: str, zoo: dict[str, ZooModel]) -> None:
    graph = fourier.import_graph(zoo[name].pb)
    consts = {
        n.name: n.attrs["value"]
        for n in graph.nodes
        if n.op == "Const" and n.attrs["value"].size > INLINE_CONST_ELEMENTS
    }
    again = parse_graph(str(graph), consts)
    assert str(again) == str(graph)


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "  %y = Relu(%x) : float32[N,5]",
            "line 2: node 'y' is typed float32[N,5], inference says float32[N,4]",
        ),
        ("  %y = Relu(%z) : float32[N,4]", "line 2: node 'y' reads unknown value %z"),
        ("  %y = Frobnicate(%x) : float32[N,4]", "line 2: unknown op 'Frobnicate'"),
        (
            "  %y = Const() {value = dense<float32[40] sha256:abc>} : float32[40]",
            "the value of constant 'y' is not given",
        ),
    ],
)
def test_bad_ir_text_names_the_line(line: str, message: str) -> None:
    text = f'graph @t(%x: float32[N,4]) -> (float32[N,4]) {{\n{line}\n  return "y" = %x\n}}\n'
    with pytest.raises(ParseError, match=message.replace("[", r"\[").replace("]", r"\]").replace("%", "%")):
        parse_graph(text)
