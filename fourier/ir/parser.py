"""Parse the IR text form back into a graph: ``parse_graph(print_graph(g))`` rebuilds ``g``.

Constants too large to print inline appear as ``dense<float32[64x16] sha256:...>``; their values
come from ``constants`` (by node name), which reproducers store beside the text. Every node's
types are re-inferred from the registry and must equal the printed ones, so a hand-edited test
graph with a wrong type is refused with the line that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from fourier.errors import FourierError
from fourier.ir.core import Graph, Value, op_provider
from fourier.ir.types import Dim, TensorType, numpy_dtype

__all__ = ["ParseError", "parse_graph", "parse_type"]


class ParseError(FourierError, ValueError):
    """The IR text is malformed; names the line."""


_TYPE = re.compile(r"([a-z0-9]+)\[([^\]]*)\]")
_VALUE = re.compile(r"%([^\s,(){}]+?)(?::(\d+))?(?=[\s,()]|$)")


def parse_type(text: str) -> TensorType:
    """``float32[N,64]`` -> TensorType; ``float32[*]`` is unknown rank."""
    m = _TYPE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a type: {text!r}")
    dtype, body = m.groups()
    if body == "*":
        return TensorType(dtype, None)
    dims: list[Dim] = []
    for d in body.split(",") if body else []:
        dims.append(int(d) if d.lstrip("-").isdigit() else d)
    return TensorType(dtype, tuple(dims))


class _Cursor:
    def __init__(self, text: str, line: int) -> None:
        self.s, self.i, self.line = text, 0, line

    def fail(self, what: str) -> ParseError:
        return ParseError(
            f"line {self.line}: {what} at column {self.i + 1}: {self.s[self.i : self.i + 30]!r}"
        )

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def eat(self, token: str) -> bool:
        self.ws()
        if self.s.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.eat(token):
            raise self.fail(f"expected {token!r}")

    def until(self, stop: str) -> str:
        j = self.s.find(stop, self.i)
        if j < 0:
            raise self.fail(f"expected {stop!r}")
        out, self.i = self.s[self.i : j], j
        return out

    def value_ref(self) -> tuple[str, int]:
        self.ws()
        m = _VALUE.match(self.s, self.i)
        if not m:
            raise self.fail("expected a value like %name or %name:1")
        self.i = m.end()
        return m.group(1), int(m.group(2) or 0)

    def attr(self, constants: Mapping[str, np.ndarray], node: str) -> Any:
        self.ws()
        s = self.s
        if self.eat("dense<"):
            head = self.until(" ")
            m = re.fullmatch(r"([a-z0-9]+)\[([0-9x]*)\]", head)
            if not m:
                raise self.fail("expected dtype[shape] in a dense constant")
            dtype = numpy_dtype(m.group(1))
            shape = tuple(int(d) for d in m.group(2).split("x")) if m.group(2) else ()
            self.ws()
            if self.eat("sha256:"):
                self.until(">")
                self.expect(">")
                if node not in constants:
                    raise ParseError(f"line {self.line}: the value of constant {node!r} is not given")
                value = np.asarray(constants[node])
                if value.dtype != dtype or value.shape != shape:
                    raise ParseError(
                        f"line {self.line}: constant {node!r} is {value.dtype}{list(value.shape)}, "
                        f"the text says {dtype}{list(shape)}"
                    )
                return value
            items = self.attr(constants, node)
            self.expect(">")
            flat = [_number(x) for x in items]
            return np.array(flat, dtype=dtype).reshape(shape)
        if self.eat("["):
            out: list[Any] = []
            if self.eat("]"):
                return out
            while True:
                out.append(self.attr(constants, node))
                if self.eat("]"):
                    return out
                self.expect(",")
        if self.i < len(s) and s[self.i] == '"':
            j, buf = self.i + 1, []
            while j < len(s) and s[j] != '"':
                if s[j] == "\\":
                    j += 1
                buf.append(s[j])
                j += 1
            self.i = j + 1
            return "".join(buf)
        m = re.compile(r"[-+]?(?:inf|nan|[0-9][0-9.e+\-]*)|true|false|none").match(s, self.i)
        if not m:
            raise self.fail("expected an attribute value")
        self.i = m.end()
        word = m.group(0)
        if word in ("true", "false"):
            return word == "true"
        if word == "none":
            return None
        return _number(word)


def _number(x: Any) -> Any:
    if isinstance(x, str):
        if re.fullmatch(r"[-+]?[0-9]+", x):
            return int(x)
        return float(x)
    return x


def parse_graph(text: str, constants: Mapping[str, np.ndarray] | None = None) -> Graph:
    """Build a graph from its text form; ``constants`` gives large constants by node name."""
    consts = constants or {}
    lines = text.splitlines()
    if not lines:
        raise ParseError("empty IR text")
    head = re.fullmatch(r"graph @(\S+)\((.*)\) -> \((.*)\) \{", lines[0].strip())
    if not head:
        raise ParseError("line 1: expected 'graph @name(%input: type, ...) -> (types) {'")
    graph = Graph(head.group(1))
    values: dict[tuple[str, int], Value] = {}
    params = head.group(2)
    for part in re.findall(r"%(\S+?): ([a-z0-9]+\[[^\]]*\])", params):
        name, ty = part
        t = parse_type(ty)
        node = graph.add_node("Placeholder", [], {"dtype": t.dtype, "shape": t.shape}, name=name)
        values[(name, 0)] = node.output
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line or line == "}":
            continue
        cur = _Cursor(line, number)
        if cur.eat("return"):
            outs = []
            while True:
                cur.ws()
                if cur.i >= len(line):
                    break
                if line[cur.i] != '"':
                    raise cur.fail("expected an output name")
                name = cur.attr(consts, "")
                cur.expect("=")
                ref = cur.value_ref()
                if ref not in values:
                    raise ParseError(f"line {number}: output {name!r} names unknown value %{ref[0]}")
                outs.append((name, values[ref]))
                if not cur.eat(","):
                    break
            graph.set_outputs(outs)
            continue
        results = [cur.value_ref()]
        while cur.eat(","):
            results.append(cur.value_ref())
        node_name = results[0][0]
        cur.expect("=")
        cur.ws()
        m = re.compile(r"[A-Za-z0-9_]+").match(line, cur.i)
        if not m:
            raise cur.fail("expected an op name")
        op = m.group(0)
        cur.i = m.end()
        cur.expect("(")
        inputs: list[Value] = []
        if not cur.eat(")"):
            while True:
                ref = cur.value_ref()
                if ref not in values:
                    raise ParseError(
                        f"line {number}: node {node_name!r} reads unknown value %{ref[0]}:{ref[1]}"
                    )
                inputs.append(values[ref])
                if cur.eat(")"):
                    break
                cur.expect(",")
        attrs: dict[str, Any] = {}
        if cur.eat("{"):
            while not cur.eat("}"):
                cur.ws()
                key = re.compile(r"[A-Za-z0-9_]+").match(line, cur.i)
                if not key:
                    raise cur.fail("expected an attribute name")
                cur.i = key.end()
                cur.expect("=")
                attrs[key.group(0)] = cur.attr(consts, node_name)
                cur.eat(",")
        cur.expect(":")
        rest = line[cur.i :]
        type_text, _, comment = rest.partition("  #")
        comment = "#" + comment if comment else ""
        origin: tuple[str, ...] = (node_name,)
        rule = None
        for piece in re.split(r"\s+#\s", " " + comment):
            piece = piece.strip().lstrip("#").strip()
            if piece.startswith("from "):
                origin = tuple(x.strip() for x in piece[5:].split(","))
            elif piece.startswith("rule "):
                rule = piece[5:].strip()
        if not op_provider().has_op(op):
            raise ParseError(f"line {number}: unknown op {op!r}")
        try:
            node = graph.add_node(op, inputs, attrs, name=node_name, origin=origin, rule=rule)
        except FourierError as e:
            raise ParseError(f"line {number}: {e}") from e
        if node.name != node_name:
            raise ParseError(f"line {number}: node name {node_name!r} is used twice")
        printed = [parse_type(t) for t in re.findall(r"[a-z0-9]+\[[^\]]*\]", type_text)]
        inferred = [v.type for v in node.outputs]
        if printed != inferred:
            shown = ", ".join(str(t) for t in inferred)
            raise ParseError(
                f"line {number}: node {node_name!r} is typed {type_text.strip()}, inference says {shown}"
            )
        for i, v in enumerate(node.outputs):
            values[(node_name, i)] = v
    return graph
