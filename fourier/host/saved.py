"""A host part at rest: its graph as JSON, its tables as safetensors. No pickle, no TensorFlow.

The IR's own text form (`fourier.ir.saved`) cannot hold string constants, which host graphs
have (a mask token, a default string), so a host graph is stored as JSON: per node its op, name,
inputs, attributes (arrays as dtype, shape and values; strings as base64) and the types it had,
which loading re-infers and checks. `save_host` writes ``host.json`` and ``host_tables.safetensors``
into a directory (an artifact's, for one); (and ``host_weights.safetensors`` for large numeric constants: embedding tables kept on the host)
`load_host` reads them back into a
`fourier.host.executor.HostPart`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
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
    "WEIGHTS_FILE",
    "save_host",
    "load_host",
    "graph_to_json",
    "graph_from_json",
]

HOST_FORMAT = "fourier-host/1"
HOST_FILE = "host.json"
TABLES_FILE = "host_tables.safetensors"
WEIGHTS_FILE = "host_weights.safetensors"  # large numeric constants (embedding tables kept on the host)
WEIGHT_ELEMENTS = 4096
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


def _decode(value: Any, where: str, weights: Mapping[str, np.ndarray] | None = None) -> Any:
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_decode(v, where, weights) for v in value["tuple"])
        if "weight" in value:
            if weights is None or value["weight"] not in weights:
                raise ValueError(f"{where}: weight {value['weight']!r} is not in {WEIGHTS_FILE}")
            return weights[value["weight"]]
        dtype, shape, data = value["array"], tuple(value["shape"]), value["data"]
        if dtype == "string":
            out = np.empty(len(data), dtype=object)
            out[:] = [base64.b64decode(s, validate=True) for s in data]
            return out.reshape(shape)
        return np.asarray(data, dtype=numpy_dtype(dtype)).reshape(shape)
    if isinstance(value, list):
        return [_decode(v, where, weights) for v in value]
    return value


def _is_weight(node: Any) -> bool:
    """A numeric constant large enough to store as a tensor (an embedding table kept on the
    host with ``host_tables``), not as JSON."""
    value = node.attrs.get("value") if node.op == "Const" else None
    return isinstance(value, np.ndarray) and value.dtype != object and value.size > WEIGHT_ELEMENTS


def graph_to_json(graph: Graph, weights: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """``graph`` as JSON-able data (nodes in order, attributes typed, output types recorded);
    with ``weights``, large numeric constants go there by node name instead."""
    nodes = []
    for n in graph.nodes:
        where = f"node {n.name!r} ({n.op})"
        attrs = {k: n.attrs[k] for k in sorted(n.attrs)}
        stored = weights is not None and _is_weight(n)
        if stored:
            assert weights is not None
            weights[n.name] = attrs.pop("value")
        nodes.append(
            {
                "name": n.name,
                "op": n.op,
                "inputs": [[v.producer.name, v.index] for v in n.inputs],
                "attrs": {k: _encode(v, f"{where} attribute {k!r}") for k, v in attrs.items()}
                | ({"value": {"weight": n.name}} if stored else {}),
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


def graph_from_json(
    data: dict[str, Any], source: str = "<host graph>", weights: Mapping[str, np.ndarray] | None = None
) -> Graph:
    """The graph `graph_to_json` described (its large constants from ``weights``), every node
    re-inferred and its types checked."""
    graph = Graph(data["name"])
    values: dict[str, list[Value]] = {}
    for entry in data["nodes"]:
        where = f"{source}: node {entry['name']!r} ({entry['op']})"
        try:
            inputs = [values[name][index] for name, index in entry["inputs"]]
        except (KeyError, IndexError):
            raise ValueError(f"{where}: reads {entry['inputs']}, not all made by earlier nodes") from None
        attrs = {k: _decode(v, where, weights) for k, v in entry["attrs"].items()}
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
    weights: dict[str, np.ndarray] = {}
    doc = {
        "format": HOST_FORMAT,
        "graph": graph_to_json(part.graph, weights),
        "crossings": list(part.crossings),
        "device_inputs": list(part.device_inputs),
        "outputs": list(part.outputs),
        "host_outputs": list(part.host_outputs),
        "device": part.device,
    }
    (out / HOST_FILE).write_text(json.dumps(doc, indent=1))
    save_tables(part.tables, out / TABLES_FILE)
    if not weights:
        return [out / HOST_FILE, out / TABLES_FILE]
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(out / WEIGHTS_FILE))
    return [out / HOST_FILE, out / TABLES_FILE, out / WEIGHTS_FILE]


def load_host(directory: str | Path) -> HostPart:
    """The `HostPart` `save_host` wrote, its graph verified and its tables checked against it."""
    src = Path(directory)
    doc = json.loads((src / HOST_FILE).read_text())
    if doc.get("format") != HOST_FORMAT:
        raise ValueError(f"{src / HOST_FILE}: format {doc.get('format')!r}, expected {HOST_FORMAT!r}")
    weights = None
    if (src / WEIGHTS_FILE).exists():
        from safetensors import safe_open

        with safe_open(str(src / WEIGHTS_FILE), framework="np") as f:
            weights = {k: f.get_tensor(k) for k in f.keys()}
    graph = graph_from_json(doc["graph"], str(src / HOST_FILE), weights)
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
