"""TensorFlow's protobuf schema without TensorFlow (the copy tensorboard ships), and decoders.

`tensor_to_numpy` turns a TensorProto into an array with every size checked before anything is
allocated; `decode_attr` turns an AttrValue into the Python value a registry `Attr` asks for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, tensor_pb2, types_pb2

from fourier.errors import ExternalStateError, GraphImportError
from fourier.ir.types import BATCH, UNKNOWN, Dim, numpy_dtype

__all__ = [
    "graph_pb2",
    "GraphDef",
    "DTYPE_NAMES",
    "dtype_name",
    "tensor_to_numpy",
    "decode_attr",
    "MAX_CONST_BYTES",
    "MAX_FILLED_CONST_BYTES",
]

GraphDef = graph_pb2.GraphDef

# A constant larger than this is refused rather than allocated.
MAX_CONST_BYTES = 4 << 30
# A constant that TensorFlow's fill rule (fewer values than elements: repeat the last) would expand
# to more than this is refused: its bytes are not in the file, so it is an allocation on request.
MAX_FILLED_CONST_BYTES = 64 << 20

DTYPE_NAMES: dict[int, str] = {
    types_pb2.DT_FLOAT: "float32",
    types_pb2.DT_DOUBLE: "float64",
    types_pb2.DT_HALF: "float16",
    types_pb2.DT_BFLOAT16: "bfloat16",
    types_pb2.DT_INT8: "int8",
    types_pb2.DT_INT16: "int16",
    types_pb2.DT_INT32: "int32",
    types_pb2.DT_INT64: "int64",
    types_pb2.DT_UINT8: "uint8",
    types_pb2.DT_UINT16: "uint16",
    types_pb2.DT_UINT32: "uint32",
    types_pb2.DT_UINT64: "uint64",
    types_pb2.DT_BOOL: "bool",
    types_pb2.DT_STRING: "string",
}


def dtype_name(enum: int, where: str) -> str:
    """The IR dtype for a TF DataType enum value, or a GraphImportError naming ``where``."""
    if enum in DTYPE_NAMES:
        return DTYPE_NAMES[enum]
    label = types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else str(enum)
    if enum == types_pb2.DT_RESOURCE:  # what freezing leaves of a hash table (or a variable)
        raise ExternalStateError(
            f"{where}: dtype DT_RESOURCE is not supported: a handle to state outside the graph (a hash "
            "table, or a variable freezing did not fold); a SavedModel's tables import with "
            "fourier.host.extract.load_model"
        )
    raise GraphImportError(f"{where}: dtype {label} is not supported")


MAX_DIM = (1 << 31) - 1


def _element_count(dims: list[int], where: str) -> int:
    count = 1
    for d in dims:
        if d < 0:
            raise GraphImportError(f"{where}: tensor shape {dims} has a negative dimension")
        if d > MAX_DIM:  # even with a zero elsewhere: numpy cannot hold such a shape
            raise GraphImportError(f"{where}: tensor shape {dims} has a dimension over {MAX_DIM}")
        count *= d
    return count


def tensor_to_numpy(proto: tensor_pb2.TensorProto, where: str) -> np.ndarray:
    """Decode a TensorProto (tensor_content or typed repeated fields, TF's fill semantics)."""
    dtype = dtype_name(proto.dtype, where)
    np_dtype = numpy_dtype(dtype)
    if proto.tensor_shape.unknown_rank:
        raise GraphImportError(f"{where}: constant has unknown rank")
    dims = [int(d.size) for d in proto.tensor_shape.dim]
    count = _element_count(dims, where)
    if dtype == "string":
        return _strings(proto, dims, count, where)
    if count * np_dtype.itemsize > MAX_CONST_BYTES:
        raise GraphImportError(
            f"{where}: constant of shape {dims} ({dtype}) needs {count * np_dtype.itemsize} bytes, "
            f"more than the {MAX_CONST_BYTES} allowed"
        )
    if proto.tensor_content:
        need = count * np_dtype.itemsize
        if len(proto.tensor_content) != need:
            raise GraphImportError(
                f"{where}: tensor_content has {len(proto.tensor_content)} bytes, "
                f"shape {dims} of {dtype} needs {need}"
            )
        return np.frombuffer(proto.tensor_content, dtype=np_dtype).reshape(dims).copy()
    if dtype in ("float16", "bfloat16"):
        raw = np.asarray(proto.half_val, dtype=np.uint16).view(np_dtype)
    else:
        field = {
            "float32": proto.float_val,
            "float64": proto.double_val,
            "int64": proto.int64_val,
            "bool": proto.bool_val,
            "uint32": proto.uint32_val,
            "uint64": proto.uint64_val,
        }.get(dtype, proto.int_val)
        raw = np.asarray(field, dtype=np_dtype) if len(field) else np.zeros(0, np_dtype)
    if raw.size > count:
        raise GraphImportError(f"{where}: {raw.size} values given for shape {dims}")
    if raw.size == count:
        return raw.reshape(dims)
    if count * np_dtype.itemsize > MAX_FILLED_CONST_BYTES:
        raise GraphImportError(
            f"{where}: constant of shape {dims} ({dtype}) gives {raw.size} values and asks for the "
            f"rest to be filled: {count * np_dtype.itemsize} bytes, more than the "
            f"{MAX_FILLED_CONST_BYTES} allowed for a filled constant"
        )
    out = np.zeros(count, dtype=np_dtype)
    if raw.size:
        out[: raw.size] = raw
        out[raw.size :] = raw[-1]  # TensorFlow repeats the last value
    return out.reshape(dims)


def _strings(proto: tensor_pb2.TensorProto, dims: list[int], count: int, where: str) -> np.ndarray:
    """A string constant as an object array of ``bytes`` (TensorFlow's fill rule: the last value
    repeats; none given: empty strings), its total size checked like any constant's."""
    values = list(proto.string_val)
    if len(values) > count:
        raise GraphImportError(f"{where}: {len(values)} strings given for shape {dims}")
    total = sum(len(v) for v in values) + (count - len(values)) * (len(values[-1]) if values else 0)
    if total > MAX_CONST_BYTES:
        raise GraphImportError(
            f"{where}: string constant of shape {dims} holds {total} bytes, more than {MAX_CONST_BYTES}"
        )
    out = np.empty(count, dtype=object)
    out[: len(values)] = values
    out[len(values) :] = values[-1] if values else b""  # TensorFlow repeats the last value
    return out.reshape(dims)


def _shape(proto: Any, where: str, batch_first: bool) -> tuple[Dim, ...] | None:
    if proto.unknown_rank:
        return None
    dims: list[Dim] = []
    for i, d in enumerate(proto.dim):
        if d.size >= 0:
            dims.append(int(d.size))
        elif d.size == -1:
            dims.append(BATCH if (i == 0 and batch_first) else UNKNOWN)
        else:
            raise GraphImportError(f"{where}: invalid dimension {d.size}")
    return tuple(dims)


_KIND_FIELD = {
    "int": "i",
    "float": "f",
    "bool": "b",
    "str": "s",
    "type": "type",
    "shape": "shape",
    "tensor": "tensor",
    "ints": "list",
    "floats": "list",
    "types": "list",
}


def decode_attr(av: attr_value_pb2.AttrValue, kind: str, where: str, batch_first: bool = False) -> Any:
    """The Python value of an AttrValue of the given kind, checked against what it holds."""
    got = av.WhichOneof("value")
    want = _KIND_FIELD[kind]
    if got != want and not (want == "list" and got is None):
        raise GraphImportError(f"{where}: expected a {kind} attribute, got {got or 'nothing'}")
    if kind == "int":
        return int(av.i)
    if kind == "float":
        return float(av.f)
    if kind == "bool":
        return bool(av.b)
    if kind == "str":
        try:
            return av.s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise GraphImportError(f"{where}: string attribute is not UTF-8") from e
    if kind == "type":
        return dtype_name(av.type, where)
    if kind == "shape":
        return _shape(av.shape, where, batch_first)
    if kind == "tensor":
        return tensor_to_numpy(av.tensor, where)
    if kind == "ints":
        return [int(x) for x in av.list.i]
    if kind == "floats":
        return [float(x) for x in av.list.f]
    return [dtype_name(t, where) for t in av.list.type]
