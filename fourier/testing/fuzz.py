"""A fuzz harness over the importer and the pass pipeline.

`check` runs bytes through everything a compile does before XLA: parse, import, verify, the -O2
pipeline with verification after every pass, the independence analysis and the signature check.
The only acceptable outcomes are success or a `FourierError` that names what is wrong; anything
else -- an untyped exception, or a pass failing on a graph the importer accepted -- is a bug and
propagates. `mutate` applies structured mutations to a GraphDef (ops, inputs, attributes,
constants, names), drawing its choices from a ``pick(n) -> int in [0, n)`` callable, so the same
code serves hypothesis (``data.draw``) in the test suite and `random` in ``bench/fuzz.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fourier.errors import FourierError

__all__ = ["check", "mutate", "MUTATIONS", "Pick"]

Pick = Callable[[int], int]

_TF_OPS = ("AddV2", "MatMul", "Reshape", "ConcatV2", "Identity", "Const", "Placeholder", "Fill", "Tile")
_INTS = (-(2**63), -(2**31), -7, -1, 0, 1, 2, 3, 7, 64, 2**31 - 1, 2**40, 2**62)
_DIMS = (-2, -1, 0, 1, 2, 3, 8, 1000, 2**31, 2**40)


def check(data: bytes, source: str = "<fuzz>", *, compile: bool = False) -> str:
    """Compile-front-end ``data``; returns ``"ok"`` or the FourierError's class name. With
    ``compile``, a graph that passes is also compiled through XLA for bucket 2 and run once on
    zeros (``"ran"``, or ``"compile:"`` + the FourierError's class name)."""
    from fourier.compiler import graph_signature
    from fourier.importer.graphdef import import_graphdef, parse_graphdef
    from fourier.ir.verifier import verify
    from fourier.passes.independence import analyze
    from fourier.passes.manager import PassError, PassManager, pipeline_for_level

    try:
        graph = import_graphdef(parse_graphdef(data, source), source)
        verify(graph)
        analyze(graph, "N")
        PassManager(pipeline_for_level(2), verify=True).run(graph)
        verify(graph)
        analyze(graph, "N")
        graph_signature(graph)
    except PassError:
        raise  # a pass failed on a graph the importer accepted: a bug, not bad input
    except FourierError as e:
        return type(e).__name__
    return _compile_and_run(data) if compile else "ok"


def _compile_and_run(data: bytes) -> str:
    import tempfile
    from pathlib import Path

    import numpy as np

    import fourier

    with tempfile.TemporaryDirectory() as tmp:
        pb = Path(tmp) / "g.pb"
        pb.write_bytes(data)
        try:
            fourier.compile(pb, Path(tmp) / "a", [2])
        except FourierError as e:
            return "compile:" + type(e).__name__
        model = fourier.load(Path(tmp) / "a", cache_dir=None)
        dims = {k: 3 for k in model.signature.symbols}
        model({s.name: np.zeros(s.concrete(2, dims), dtype=s.dtype) for s in model.signature.inputs})
    return "ran"


def _node(gd: Any, pick: Pick) -> Any:
    return gd.node[pick(len(gd.node))]


def _any_name(gd: Any, pick: Pick) -> str:
    name = str(_node(gd, pick).name)
    return name if pick(3) else f"{name}:{pick(4)}"


def _m_op(gd: Any, pick: Pick) -> None:
    from fourier.ops.registry import all_ops

    ops = sorted(all_ops()) + list(_TF_OPS)
    _node(gd, pick).op = ops[pick(len(ops))]


def _m_drop_input(gd: Any, pick: Pick) -> None:
    n = _node(gd, pick)
    if n.input:
        del n.input[pick(len(n.input))]


def _m_add_input(gd: Any, pick: Pick) -> None:
    n = _node(gd, pick)
    n.input.append(_any_name(gd, pick))


def _m_rewire_input(gd: Any, pick: Pick) -> None:
    n = _node(gd, pick)
    if n.input:
        n.input[pick(len(n.input))] = (str(n.name), "ghost", _any_name(gd, pick))[pick(3)]


def _m_delete_node(gd: Any, pick: Pick) -> None:
    if len(gd.node) > 1:
        del gd.node[pick(len(gd.node))]


def _m_rename(gd: Any, pick: Pick) -> None:
    _node(gd, pick).name = str(_node(gd, pick).name)


def _attr(gd: Any, pick: Pick) -> Any:
    n = _node(gd, pick)
    keys = sorted(n.attr)
    return n.attr[keys[pick(len(keys))]] if keys else None


def _m_attr(gd: Any, pick: Pick) -> None:
    av = _attr(gd, pick)
    if av is None:
        return
    kind = av.WhichOneof("value")
    if kind == "i":
        av.i = _INTS[pick(len(_INTS))]
    elif kind == "type":
        av.type = pick(30)
    elif kind == "b":
        av.b = not av.b
    elif kind == "f":
        av.f = (float("nan"), float("inf"), -1.0, 0.0, 1e30)[pick(5)]
    elif kind == "s":
        av.s = (b"", b"SAME", b"VALID", b"NCHW", b"\xff\xfe", b"x" * 1000)[pick(6)]
    elif kind == "shape":
        _shape(av.shape, pick)
    elif kind == "list":
        del av.list.i[:]
        av.list.i.extend(_INTS[pick(len(_INTS))] for _ in range(pick(6)))
    elif kind == "tensor":
        _tensor(av.tensor, pick)
    else:
        av.i = _INTS[pick(len(_INTS))]


def _m_attr_remove(gd: Any, pick: Pick) -> None:
    n = _node(gd, pick)
    keys = sorted(n.attr)
    if keys:
        del n.attr[keys[pick(len(keys))]]


def _shape(shape: Any, pick: Pick) -> None:
    if pick(8) == 0:
        shape.unknown_rank = True
        return
    del shape.dim[:]
    for _ in range(pick(6) if pick(10) else 40):
        shape.dim.add().size = _DIMS[pick(len(_DIMS))]


def _tensor(t: Any, pick: Pick) -> None:
    choice = pick(4)
    if choice == 0:
        _shape(t.tensor_shape, pick)
    elif choice == 1 and t.tensor_content:
        t.tensor_content = t.tensor_content[: pick(len(t.tensor_content) + 1)]
    elif choice == 2:
        t.dtype = pick(30)
    else:
        t.float_val.extend([1.0] * pick(5))
        t.int_val.extend([7] * pick(5))


MUTATIONS: dict[str, Callable[[Any, Pick], None]] = {
    "op": _m_op,
    "drop-input": _m_drop_input,
    "add-input": _m_add_input,
    "rewire-input": _m_rewire_input,
    "delete-node": _m_delete_node,
    "rename": _m_rename,
    "attr": _m_attr,
    "attr-remove": _m_attr_remove,
}


def mutate(graph_def: Any, pick: Pick, count: int) -> list[str]:
    """Apply ``count`` mutations chosen by ``pick`` to ``graph_def`` in place; returns their names."""
    names = sorted(MUTATIONS)
    done = []
    for _ in range(count):
        name = names[pick(len(names))]
        MUTATIONS[name](graph_def, pick)
        done.append(name)
    return done
