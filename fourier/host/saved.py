"""A host part at rest: its graph as JSON, its tables as safetensors. No pickle, no TensorFlow.

The IR's own text form (`fourier.ir.saved`) cannot hold string constants, which host graphs
have (a mask token, a default string), so a host graph is stored as JSON: per node its op, name,
inputs, attributes (arrays as dtype, shape and values; strings as base64) and the types it had,
which loading re-infers and checks. `save_host` writes ``host.json`` and ``host_tables.safetensors``
into a directory (an artifact's, for one); `load_host` reads them back into a
`fourier.host.executor.HostPart`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

import fourier.ops  # noqa: F401  (fills the registry a host graph is rebuilt with)
from fourier.host.executor import HostPart, check_tables
from fourier.host.tables import load_tables, save_tables
from fourier.ir.core import Graph, Value
from fourier.ir.types import numpy_dtype
from fourier.ir.verifier import verify

__all__ = [
    "HOST_FORMAT",
    "HOST_FILE",
    "TABLES_FILE",
    "save_host",
    "load_host",
    "graph_to_json",
    "graph_from_json",
]

HOST_FORMAT = "fourier-host/1"
HOST_FILE = "host.json"
TABLES_FILE = "host_tables.safetensors"
MAX_INLINE_ELEMENTS = 1 << 20  # a host graph's constants are small (defaults, axes, mask tokens)


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, np.ndarray):
        if value.size > MAX_INLINE_ELEMENTS:
            raise ValueError(f"{where}: a constant of {value.size} elements is too large for the host graph")
        if value.dtype == object:
            data = [base64.b64encode(bytes(s)).decode("ascii") for s in value.reshape(-1).tolist()]
            return {"array": "string", "shape": list(value.shape), "data": data}
        if value.dtype.name == "bfloat16":
            raise ValueError(f"{where}: bfloat16 constants are not stored in a host graph")
        return {"array": value.dtype.name, "shape": list(value.shape), "data": value.reshape(-1).tolist()}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"{where}: cannot store an attribute of type {type(value).__name__}")


def _decode(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_decode(v, where) for v in value["tuple"])
        dtype, shape, data = value["array"], tuple(value["shape"]), value["data"]
        if dtype == "string":
            out = np.empty(len(data), dtype=object)
            out[:] = [base64.b64decode(s, validate=True) for s in data]
            return out.reshape(shape)
        return np.asarray(data, dtype=numpy_dtype(dtype)).reshape(shape)
    if isinstance(value, list):
        return [_decode(v, where) for v in value]
    return value


def graph_to_json(graph: Graph) -> dict[str, Any]:
    """``graph`` as JSON-able data (nodes in order, attributes typed, output types recorded)."""
    nodes = []
    for n in graph.nodes:
        where = f"node {n.name!r} ({n.op})"
        nodes.append(
            {
                "name": n.name,
                "op": n.op,
                "inputs": [[v.producer.name, v.index] for v in n.inputs],
                "attrs": {k: _encode(n.attrs[k], f"{where} attribute {k!r}") for k in sorted(n.attrs)},
                "types": [str(v.type) for v in n.outputs],
                "origin": list(n.origin),
            }
        )
    return {
        "name": graph.name,
        "nodes": nodes,
        "outputs": [[name, v.producer.name, v.index] for name, v in graph.outputs],
        "input_defaults": {
            k: _encode(np.asarray(v), f"input {k!r}") for k, v in graph.input_defaults.items()
        },
    }


def graph_from_json(data: dict[str, Any], source: str = "<host graph>") -> Graph:
    """The graph `graph_to_json` described, every node re-inferred and its types checked."""
    graph = Graph(data["name"])
    values: dict[str, list[Value]] = {}
    for entry in data["nodes"]:
        where = f"{source}: node {entry['name']!r} ({entry['op']})"
        try:
            inputs = [values[name][index] for name, index in entry["inputs"]]
        except (KeyError, IndexError):
            raise ValueError(f"{where}: reads {entry['inputs']}, not all made by earlier nodes") from None
        attrs = {k: _decode(v, where) for k, v in entry["attrs"].items()}
        node = graph.add_node(entry["op"], inputs, attrs, name=entry["name"], origin=tuple(entry["origin"]))
        got = [str(v.type) for v in node.outputs]
        if got != entry["types"]:
            raise ValueError(f"{where}: infers {got}, the stored graph says {entry['types']}")
        values[node.name] = node.outputs
    graph.set_outputs([(label, values[name][index]) for label, name, index in data["outputs"]])
    graph.input_defaults = {k: _decode(v, source) for k, v in data["input_defaults"].items()}
    verify(graph)
    return graph


def save_host(part: HostPart, directory: str | Path) -> list[Path]:
    """Write ``part`` into ``directory`` (``host.json``, ``host_tables.safetensors``); returns the
    files written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": HOST_FORMAT,
        "graph": graph_to_json(part.graph),
        "crossings": list(part.crossings),
        "device_inputs": list(part.device_inputs),
        "outputs": list(part.outputs),
        "host_outputs": list(part.host_outputs),
        "device": part.device,
    }
    (out / HOST_FILE).write_text(json.dumps(doc, indent=1))
    save_tables(part.tables, out / TABLES_FILE)
    return [out / HOST_FILE, out / TABLES_FILE]


def load_host(directory: str | Path) -> HostPart:
    """The `HostPart` `save_host` wrote, its graph verified and its tables checked against it."""
    src = Path(directory)
    doc = json.loads((src / HOST_FILE).read_text())
    if doc.get("format") != HOST_FORMAT:
        raise ValueError(f"{src / HOST_FILE}: format {doc.get('format')!r}, expected {HOST_FORMAT!r}")
    graph = graph_from_json(doc["graph"], str(src / HOST_FILE))
    tables = load_tables(src / TABLES_FILE)
    check_tables(graph, tables)
    return HostPart(
        graph,
        tables,
        tuple(doc["crossings"]),
        tuple(doc["device_inputs"]),
        tuple(doc["outputs"]),
        tuple(doc["host_outputs"]),
        bool(doc["device"]),
    )
