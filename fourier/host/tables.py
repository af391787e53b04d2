"""Hash tables on the host: their contents, lookups, and a safe file form.

A `HostTable` is what a ``HashTableV2`` held once its initializer ran: unique keys (``bytes`` or
integers) and one scalar value per key. The IR refers to a table by name (the ``shared_name`` of
its ``HashTableV2`` node); the contents live beside the graph, extracted with TensorFlow at compile
time (`fourier.host.extract`) and stored with `save_tables` in one safetensors file: numbers as
tensors, strings as their concatenated bytes plus offsets, the table names and dtypes in the
file's metadata. No pickle: loading reads arrays and JSON only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from fourier.host.hashing import to_bytes

__all__ = ["HostTable", "save_tables", "load_tables", "TABLES_FORMAT"]

TABLES_FORMAT = "fourier-host-tables/1"
_KEY_DTYPES = ("string", "int32", "int64")
_VALUE_DTYPES = ("string", "int32", "int64", "float32", "float64", "bool")


@dataclass(frozen=True)
class HostTable:
    """A hash table's contents: ``keys[i]`` maps to ``values[i]``; strings are object arrays of
    ``bytes``. Lookups are vectorized (integers: a sorted index; strings: a dict)."""

    name: str
    key_dtype: str
    value_dtype: str
    keys: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        where = f"table {self.name!r}"
        if self.key_dtype not in _KEY_DTYPES:
            raise ValueError(f"{where}: key dtype {self.key_dtype} is not one of {', '.join(_KEY_DTYPES)}")
        if self.value_dtype not in _VALUE_DTYPES:
            raise ValueError(
                f"{where}: value dtype {self.value_dtype} is not one of {', '.join(_VALUE_DTYPES)}"
            )
        if self.keys.ndim != 1 or self.values.ndim != 1 or len(self.keys) != len(self.values):
            raise ValueError(
                f"{where}: expected 1-D keys and values of one length, got shapes "
                f"{self.keys.shape} and {self.values.shape}"
            )
        for what, arr, dtype in (
            ("keys", self.keys, self.key_dtype),
            ("values", self.values, self.value_dtype),
        ):
            got = "string" if arr.dtype == object else arr.dtype.name
            if got != dtype:
                raise ValueError(f"{where}: {what} should be {dtype}, got {got}")
        unique = len(self._index) if self.key_dtype == "string" else len(np.unique(self.keys))
        if unique != len(self.keys):
            raise ValueError(f"{where}: keys are not unique ({len(self.keys) - unique} repeated)")

    def __len__(self) -> int:
        return len(self.keys)

    @cached_property
    def _index(self) -> Any:
        """Strings: key -> position. Integers: (sorted keys, their positions)."""
        if self.key_dtype == "string":
            return {k: i for i, k in enumerate(self.keys.tolist())}
        order = np.argsort(self.keys, kind="stable")
        return self.keys[order], order

    def positions(self, keys: Any) -> np.ndarray:
        """Where each of ``keys`` is in the table (int64, -1 where it is missing)."""
        if self.key_dtype == "string":
            flat = to_bytes(keys).reshape(-1).tolist()
            index = self._index
            pos = np.fromiter((index.get(k, -1) for k in flat), dtype=np.int64, count=len(flat))
            return pos.reshape(np.shape(keys))
        arr = np.asarray(keys)
        if arr.dtype.kind not in "iu":
            raise TypeError(
                f"table {self.name!r}: keys are {self.key_dtype}, got an array of {arr.dtype.name}"
            )
        ordered, order = self._index
        if not len(ordered):
            return np.full(arr.shape, -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(ordered, arr), len(ordered) - 1)
        found = ordered[at] == arr
        return np.where(found, order[at], -1).astype(np.int64)

    def lookup(self, keys: Any, default: Any) -> np.ndarray:
        """``LookupTableFindV2``: each key's value, ``default`` (a scalar) where it is missing."""
        pos = self.positions(keys)
        default_arr = np.asarray(default)
        if default_arr.size != 1:
            raise ValueError(
                f"table {self.name!r}: the default value must be a scalar, got shape {default_arr.shape}"
            )
        fill = default_arr.reshape(()).item()
        if self.value_dtype == "string":
            fill = to_bytes(np.array([fill], dtype=object))[0]
        out = self.values[np.maximum(pos, 0)] if len(self) else np.empty(pos.shape, self.values.dtype)
        out = np.array(out, dtype=self.values.dtype).reshape(pos.shape)
        out[pos < 0] = fill
        return out


# -- the file form -------------------------------------------------------------------------------


def _encode_strings(prefix: str, arr: np.ndarray, out: dict[str, np.ndarray]) -> None:
    items = arr.tolist()
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    out[f"{prefix}.offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    out[f"{prefix}.bytes"] = np.frombuffer(b"".join(items), dtype=np.uint8).copy()


def _decode_strings(prefix: str, tensors: Mapping[str, np.ndarray], where: str) -> np.ndarray:
    offsets, data = tensors[f"{prefix}.offsets"], tensors[f"{prefix}.bytes"]
    if (
        offsets.ndim != 1
        or not len(offsets)
        or offsets[0] != 0
        or offsets[-1] != len(data)
        or np.any(np.diff(offsets) < 0)
    ):
        raise ValueError(f"{where}: string offsets of {prefix} are inconsistent with its bytes")
    raw = data.tobytes()
    out = np.empty(len(offsets) - 1, dtype=object)
    out[:] = [raw[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    return out


def save_tables(tables: Mapping[str, HostTable], path: str | Path) -> None:
    """Write ``tables`` (by name) to one safetensors file; its metadata holds the manifest."""
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {}
    manifest = []
    for i, (name, table) in enumerate(sorted(tables.items())):
        if name != table.name:
            raise ValueError(f"table stored as {name!r} is named {table.name!r}")
        manifest.append({"name": name, "key_dtype": table.key_dtype, "value_dtype": table.value_dtype})
        for part, arr, dtype in (
            ("keys", table.keys, table.key_dtype),
            ("values", table.values, table.value_dtype),
        ):
            if dtype == "string":
                _encode_strings(f"{i}.{part}", arr, tensors)
            else:
                tensors[f"{i}.{part}"] = np.ascontiguousarray(arr)
    save_file(tensors, str(path), metadata={"format": TABLES_FORMAT, "tables": json.dumps(manifest)})


def load_tables(path: str | Path) -> dict[str, HostTable]:
    """Read the tables `save_tables` wrote, checking every array against the manifest."""
    from safetensors import safe_open

    where = str(path)
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        if meta.get("format") != TABLES_FORMAT:
            raise ValueError(
                f"{where}: not a tables file (format {meta.get('format')!r}, want {TABLES_FORMAT!r})"
            )
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    manifest = json.loads(meta["tables"])
    out: dict[str, HostTable] = {}
    for i, entry in enumerate(manifest):
        parts = []
        for part, dtype in (("keys", entry["key_dtype"]), ("values", entry["value_dtype"])):
            prefix = f"{i}.{part}"
            try:
                arr = _decode_strings(prefix, tensors, where) if dtype == "string" else tensors[prefix]
            except KeyError as e:
                raise ValueError(f"{where}: table {entry['name']!r} has no tensor {e.args[0]!r}") from None
            parts.append(arr)
        out[entry["name"]] = HostTable(entry["name"], entry["key_dtype"], entry["value_dtype"], *parts)
    return out
