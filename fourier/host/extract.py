"""A model with its hash tables: the IR graph, the tables' contents by name.

- A SavedModel: TensorFlow loads it (which runs every table initializer, vocabulary files
  included), its serving signature is frozen, and each table the signature reads is exported
  with ``LookupTableExportV2``. In the frozen GraphDef a table is a ``Placeholder`` of dtype
  resource (freezing keeps only variables); it becomes a ``HashTableV2`` node named after the layer
  that reads it, so the graph refers to the table by name and holds no contents.
- A frozen ``.pb`` (no TensorFlow needed): a ``HashTableV2`` whose initializer
  (``LookupTableImportV2`` / ``InitializeTableV2``) takes constant keys and values is recovered
  from them. A table whose contents are not in the file (a resource input, a vocabulary file) is
  refused, naming the table and the lookup that reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fourier.errors import GraphImportError
from fourier.host.tables import HostTable
from fourier.importer.graphdef import import_graphdef, parse_graphdef
from fourier.importer.protos import GraphDef, dtype_name, tensor_to_numpy, types_pb2
from fourier.importer.savedmodel import freeze_function, load_signature
from fourier.ir.core import Graph

__all__ = ["HostModel", "load_model", "recover_tables", "TableRecoveryError"]

# Ops that read a table; lookups and sizes are supported, the others are refused naming the table.
_LOOKUP = "LookupTableFindV2"
_TABLE_READERS = {_LOOKUP, "LookupTableSizeV2", "LookupTableExportV2"}
_SUPPORTED = {_LOOKUP, "LookupTableSizeV2"}  # what the host executor runs (fourier.ops.host)
_TABLE_WRITERS = {"LookupTableInsertV2", "LookupTableRemoveV2"}
_INITIALIZERS = {"LookupTableImportV2", "InitializeTableV2"}
_FORWARD = {"Identity", "IdentityN"}
_CALL_PREFIXES = ("StatefulPartitionedCall", "PartitionedCall")
# Collections naming a TF1 graph's initializers; freezing a signature fails on the ones it pruned.
_INIT_COLLECTIONS = ("table_initializer", "saved_model_main_op", "legacy_init_op", "local_init_op", "init_op")


class TableRecoveryError(GraphImportError):
    """A table the graph reads has contents Fourier cannot recover; names the table."""


@dataclass
class HostModel:
    """An imported model whose graph may hold host ops: the graph and its tables by name."""

    graph: Graph
    tables: dict[str, HostTable] = field(default_factory=dict)


def _ref(text: str) -> tuple[str, int]:
    name, _, idx = text.lstrip("^").partition(":")
    return name, int(idx) if idx.isdigit() else 0


def _consumers(graph_def: Any) -> dict[str, list[tuple[Any, int]]]:
    """Node name -> the nodes reading one of its outputs, with the input position."""
    out: dict[str, list[tuple[Any, int]]] = {}
    for node in graph_def.node:
        for pos, inp in enumerate(node.input):
            if not inp.startswith("^"):
                out.setdefault(_ref(inp)[0], []).append((node, pos))
    return out


def _table_users(name: str, consumers: dict[str, list[tuple[Any, int]]]) -> list[Any]:
    """The table ops reading the handle ``name`` produces, through Identity chains."""
    found, stack, seen = [], [name], {name}
    while stack:
        for node, _ in consumers.get(stack.pop(), []):
            if node.op in _FORWARD and node.name not in seen:
                seen.add(node.name)
                stack.append(node.name)
            elif node.op not in _FORWARD:
                found.append(node)
    return found


def _set_table_node(node: Any, name: str, key_dtype: int, value_dtype: int) -> None:
    """Make ``node`` a ``HashTableV2`` named ``name`` (its inputs and other attributes dropped)."""
    node.op = "HashTableV2"
    del node.input[:]
    node.attr.clear()
    node.attr["key_dtype"].type = key_dtype
    node.attr["value_dtype"].type = value_dtype
    node.attr["shared_name"].s = name.encode("utf-8")


def _derived_name(lookup: str, taken: set[str]) -> str:
    """A table's name from the lookup reading it: its layer's scope, call wrappers dropped."""
    parts = [p for p in lookup.split("/")[:-1] if p not in _CALL_PREFIXES] or [lookup]
    base = "/".join(parts)
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _lookup_types(table: str, users: list[Any], where: str) -> tuple[int, int]:
    """(Tin, Tout) of the lookups reading a table; other readers are refused naming it."""
    other = sorted({u.op for u in users if u.op not in _SUPPORTED})
    if other:
        raise TableRecoveryError(
            f"{where}: table {table!r} is read by {', '.join(other)} "
            f"(node {next(u.name for u in users if u.op not in _SUPPORTED)!r}); only "
            f"{' and '.join(sorted(_SUPPORTED))} are supported"
        )
    finds = [u for u in users if u.op == _LOOKUP]
    if not finds:
        raise TableRecoveryError(f"{where}: table {table!r} is never looked up ({users[0].op} only)")
    kinds = {(u.attr["Tin"].type, u.attr["Tout"].type) for u in finds}
    if len(kinds) != 1:
        raise TableRecoveryError(f"{where}: table {table!r} is looked up with different key/value types")
    return kinds.pop()


# -- SavedModel ----------------------------------------------------------------------------------


def _saved_model(path: Path, outputs: Sequence[str] | None, signature: str) -> HostModel:
    import tensorflow as tf

    loaded, fn = load_signature(path, signature)
    for key in _INIT_COLLECTIONS:  # a TF1 signature's graph lists initializers it does not hold
        fn.graph.clear_collection(key)
    tf_graph_def, default_outputs, names = freeze_function(fn)
    data = tf_graph_def.SerializeToString()
    graph_def = GraphDef.FromString(data)
    captured = {t.name.split(":")[0]: h for t, h in zip(fn.graph.internal_captures, fn.captured_inputs)}
    consumers = _consumers(graph_def)
    tables: dict[str, HostTable] = {}
    taken: set[str] = set()
    exported: set[str] = set()  # the captured tables, made HashTableV2 nodes below
    where = str(path)
    for node in graph_def.node:
        if node.op != "Placeholder" or node.attr["dtype"].type != types_pb2.DT_RESOURCE:
            continue
        users = _table_users(node.name, consumers)
        if not users or not all(u.op in _TABLE_READERS | _TABLE_WRITERS for u in users):
            continue  # not a table (an unfrozen variable): the importer names it if it is used
        name = _derived_name(next(u.name for u in users), taken)
        tin, tout = _lookup_types(name, users, where)
        if node.name not in captured:
            raise TableRecoveryError(
                f"{where}: table {name!r} (input {node.name!r}) is not a resource the signature captures"
            )
        keys, values = tf.raw_ops.LookupTableExportV2(
            table_handle=captured[node.name], Tkeys=tf.as_dtype(tin), Tvalues=tf.as_dtype(tout)
        )
        tables[name] = _table(name, tin, tout, keys.numpy(), values.numpy(), where)
        _set_table_node(node, name, tin, tout)
        exported.add(node.name)
    for node in graph_def.node:  # a TF1 SavedModel's tables are ops of its graph, not captures
        if node.op not in ("HashTableV2", "HashTable") or node.name in exported:
            continue
        users = [u for u in _table_users(node.name, consumers) if u.op in _TABLE_READERS | _TABLE_WRITERS]
        if not users:
            continue
        name = _derived_name(users[0].name, taken)
        tin, tout = _lookup_types(name, users, where)
        keys, values = _v1_table_contents(loaded, node.name, name, where)
        tables[name] = _table(name, tin, tout, keys, values, where)
        _set_table_node(node, name, tin, tout)
    del loaded  # the tables are exported: the TensorFlow objects may go
    graph = import_graphdef(
        graph_def,
        where,
        outputs or default_outputs,
        None if outputs else names,
        source_sha256=hashlib.sha256(data).hexdigest(),
    )
    return HostModel(graph, _used(graph, tables))


def _v1_table_contents(loaded: Any, op_name: str, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The keys and values a TF1 SavedModel's table ``op_name`` is initialized with: its
    initializer's inputs, computed by TensorFlow in the loaded graph."""
    graph = getattr(loaded, "graph", None)
    if graph is None or not hasattr(loaded, "prune"):
        raise TableRecoveryError(
            f"{where}: table {name!r} (node {op_name!r}) is made inside the signature's function; "
            "its contents cannot be exported"
        )

    def source(t: Any) -> Any:
        op = t.op
        while op.type in _FORWARD and op.inputs:
            op = op.inputs[0].op
        return op

    inits = [
        op
        for op in graph.get_operations()
        if op.type in _INITIALIZERS and op.inputs and source(op.inputs[0]).name == op_name
    ]
    if len(inits) != 1:
        how = ", ".join(op.name for op in inits) or "none found"
        raise TableRecoveryError(f"{where}: table {name!r} (node {op_name!r}) needs one initializer ({how})")
    keys, values = loaded.prune(feeds=[], fetches=[inits[0].inputs[1], inits[0].inputs[2]])()
    return keys.numpy(), values.numpy()


def _table(name: str, tin: int, tout: int, keys: np.ndarray, values: np.ndarray, where: str) -> HostTable:
    key_dtype = dtype_name(tin, f"{where}: table {name!r} keys")
    value_dtype = dtype_name(tout, f"{where}: table {name!r} values")

    def as_ir(arr: np.ndarray, dtype: str) -> np.ndarray:
        if dtype != "string":
            return np.asarray(arr).reshape(-1)
        out = np.empty(arr.size, dtype=object)
        out[:] = [bytes(s) for s in np.asarray(arr, dtype=object).reshape(-1).tolist()]
        return out

    try:
        return HostTable(name, key_dtype, value_dtype, as_ir(keys, key_dtype), as_ir(values, value_dtype))
    except ValueError as e:
        raise TableRecoveryError(f"{where}: {e}") from e


def _used(graph: Graph, tables: dict[str, HostTable]) -> dict[str, HostTable]:
    """The tables the imported graph reads (the importer keeps only what the outputs need)."""
    names = {n.attrs["shared_name"] for n in graph.nodes if n.op == "HashTableV2"}
    return {k: v for k, v in tables.items() if k in names}


# -- frozen GraphDef -----------------------------------------------------------------------------


def _producer(name: str, nodes: dict[str, Any]) -> Any:
    """The node behind ``name``, through Identity chains."""
    node = nodes.get(name)
    while node is not None and node.op in _FORWARD and node.input:
        node = nodes.get(_ref(node.input[0])[0])
    return node


def recover_tables(graph_def: Any, source: str = "<graph>") -> tuple[Any, dict[str, HostTable]]:
    """The tables of a frozen GraphDef, from their constant initializers: (the GraphDef with every
    table named by its ``shared_name``, the tables). A table the graph looks up whose contents are
    not in the file is refused, naming it and the lookup."""
    nodes = {n.name: n for n in graph_def.node}
    consumers = _consumers(graph_def)
    inits: dict[str, list[Any]] = {}
    for node in graph_def.node:
        if node.op in _INITIALIZERS or node.op.startswith("InitializeTable"):
            table = _producer(_ref(node.input[0])[0], nodes) if node.input else None
            if table is not None:
                inits.setdefault(table.name, []).append(node)
    tables: dict[str, HostTable] = {}
    for node in graph_def.node:
        is_input = node.op == "Placeholder" and node.attr["dtype"].type == types_pb2.DT_RESOURCE
        if node.op not in ("HashTableV2", "HashTable") and not is_input:
            continue
        users = [u for u in _table_users(node.name, consumers) if u.op in _TABLE_READERS | _TABLE_WRITERS]
        if not users:
            continue
        lookup = users[0].name
        name = (node.attr["shared_name"].s.decode("utf-8") if "shared_name" in node.attr else "") or node.name
        if is_input:
            raise TableRecoveryError(
                f"{source}: table {node.name!r} (read by {lookup!r}) is an input of the frozen graph: "
                "its contents are not in the file; compile the SavedModel directory instead"
            )
        tin, tout = _lookup_types(name, users, source)
        found = inits.get(node.name, [])
        const = [i for i in found if i.op in _INITIALIZERS]
        if len(const) != 1 or len(found) != 1:
            how = ", ".join(f"{i.op} {i.name!r}" for i in found) or "no initializer in the graph"
            raise TableRecoveryError(
                f"{source}: table {name!r} (read by {lookup!r}) cannot be recovered ({how}); a frozen "
                "graph's table needs one initializer with constant keys and values; compile the "
                "SavedModel directory instead"
            )
        init = const[0]
        arrays = []
        for pos, what in ((1, "keys"), (2, "values")):
            src = _producer(_ref(init.input[pos])[0], nodes) if len(init.input) > pos else None
            if src is None or src.op != "Const":
                raise TableRecoveryError(
                    f"{source}: table {name!r} (read by {lookup!r}): the {what} its initializer "
                    f"{init.name!r} takes are computed, not constant"
                )
            arrays.append(tensor_to_numpy(src.attr["value"].tensor, f"{source}: node {src.name!r}"))
        if name in tables:
            raise TableRecoveryError(f"{source}: two tables share the name {name!r}")
        tables[name] = _table(name, tin, tout, arrays[0], arrays[1], source)
        _set_table_node(node, name, tin, tout)
    return graph_def, tables


def load_model(
    path: str | Path, outputs: Sequence[str] | None = None, signature: str = "serving_default"
) -> HostModel:
    """Import a SavedModel directory or a frozen ``.pb``/``.pbtxt`` with the tables it reads."""
    p = Path(path)
    if p.is_dir():
        return _saved_model(p, outputs, signature)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise GraphImportError(f"{p}: cannot read ({e.strerror or e})") from e
    graph_def = parse_graphdef(data, str(p), text=p.suffix in (".pbtxt", ".txt"))
    graph_def, tables = recover_tables(graph_def, str(p))
    graph = import_graphdef(
        graph_def, str(p), outputs, source_sha256=hashlib.sha256(data).hexdigest(), name=p.stem
    )
    return HostModel(graph, _used(graph, tables))
