"""The deterministic text form of the IR (see docs/ir.md).

Names come from the graph, attributes print sorted by name, large constants print as their dtype,
shape and a content hash: the same graph always prints the same text, which is what text tests and
the diff viewer compare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the printer reads graphs; `Graph.__str__` prints with it
    from fourier.ir.core import Graph, Node

__all__ = [
    "print_graph",
    "format_attr",
    "format_attrs",
    "format_node",
    "digest_cache",
    "INLINE_CONST_ELEMENTS",
]

INLINE_CONST_ELEMENTS = 16


def _format_scalar(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return repr(x)


_DIGESTS: ContextVar[dict[int, tuple[np.ndarray, str]] | None] = ContextVar("fourier_digests", default=None)


def _digest(value: np.ndarray) -> str:
    cache = _DIGESTS.get()
    hit = cache.get(id(value)) if cache is not None else None
    if hit is not None and hit[0] is value:
        return hit[1]
    digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:12]
    if cache is not None:
        cache[id(value)] = (value, digest)  # holding the array keeps its id from being reused
    return digest


@contextmanager
def digest_cache() -> Iterator[None]:
    """Within this block a large constant's content hash is computed once per array object.

    For printing the same graph many times (a pipeline's snapshots); arrays must not be changed
    in place meanwhile, which IR constants never are."""
    token = _DIGESTS.set({}) if _DIGESTS.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _DIGESTS.reset(token)


def format_attr(value: Any) -> str:
    """Render one attribute value deterministically."""
    if isinstance(value, np.ndarray):
        shape = "x".join(str(d) for d in value.shape)
        head = f"{value.dtype.name}[{shape}]"
        if value.size <= INLINE_CONST_ELEMENTS:
            body = ", ".join(_format_scalar(x) for x in value.reshape(-1).tolist())
            return f"dense<{head} [{body}]>"
        return f"dense<{head} sha256:{_digest(value)}>"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_attr(v) for v in value) + "]"
    if value is None:
        return "none"
    return _format_scalar(value)


def format_attrs(node: Node) -> str:
    """A node's attributes as `` {name = value, ...}`` sorted by name ('' when it has none)."""
    if not node.attrs:
        return ""
    return " {" + ", ".join(f"{k} = {format_attr(node.attrs[k])}" for k in sorted(node.attrs)) + "}"


def format_node(node: Node, attrs: str | None = None) -> str:
    """One node's line (without indentation); ``attrs`` is `format_attrs` if already computed."""
    results = ", ".join(v.name for v in node.outputs)
    args = ", ".join(v.name for v in node.inputs)
    text = f"{results} = {node.op}({args})"
    text += format_attrs(node) if attrs is None else attrs
    text += " : " + ", ".join(str(v.type) for v in node.outputs)
    if node.origin and node.origin != (node.name,):
        text += "  # from " + ", ".join(node.origin)
    if node.rule:
        text += f"  # rule {node.rule}"
    return text


def format_header(graph: Graph) -> str:
    params = ", ".join(f"%{n.name}: {n.outputs[0].type}" for n in graph.inputs)
    results = ", ".join(f"{v.type}" for _, v in graph.outputs)
    return f"graph @{graph.name}({params}) -> ({results}) {{"


def format_return(graph: Graph) -> str:
    return "  return " + ", ".join(f'"{name}" = {v.name}' for name, v in graph.outputs)


def join_lines(header: str, node_lines: list[str], ret: str) -> str:
    """The text form from its parts: header, indented node lines, return, closing brace."""
    return "\n".join([header, *("  " + line for line in node_lines), ret, "}"]) + "\n"


def print_graph(graph: Graph) -> str:
    """The text form of a graph: header with inputs and outputs, one line per node."""
    lines = [format_node(n) for n in graph.nodes if n.op != "Placeholder"]
    return join_lines(format_header(graph), lines, format_return(graph))
