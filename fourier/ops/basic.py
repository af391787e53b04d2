"""Graph inputs, constants and identities."""

from __future__ import annotations

from typing import Any

from fourier.ir.core import Node
from fourier.ir.types import TensorType
from fourier.ops._infer import same_as
from fourier.ops.padding import FREE, State, has_symbol, mixed
from fourier.ops.registry import Attr, InferContext, register


def _placeholder_infer(ctx: InferContext) -> list[TensorType]:
    return [TensorType(ctx.attrs["dtype"], ctx.attrs["shape"])]


def _unbound(attrs: dict[str, Any], *args: Any) -> Any:
    raise RuntimeError("a Placeholder is bound by the caller, never evaluated")


def _placeholder_padding(node: Node, ins: list[State], symbol: str) -> list[State]:
    """Rows along the axis that is exactly the symbol; refused if it is folded or repeated"""
    t = node.output.type
    axes = [a for a, d in enumerate(t.shape or ()) if has_symbol(d, symbol)]
    if not axes:
        return [FREE]
    if len(axes) > 1 or t.shape is None or t.shape[axes[0]] != symbol:
        return [mixed(node, f"input has {symbol} in a folded or repeated dimension ({t})")]
    return [State("rows", axes[0])]


register(
    "Placeholder",
    attrs=[Attr("dtype", "type"), Attr("shape", "shape", None)],
    infer=_placeholder_infer,
    reference=_unbound,
    lower=_unbound,
    traits=("input",),
    doc="A graph input; its shape may hold the symbolic batch dimension N.",
    padding_rule=_placeholder_padding,
)


def _const_infer(ctx: InferContext) -> list[TensorType]:
    value = ctx.attrs["value"]
    dtype = "string" if value.dtype == object else value.dtype.name  # strings: arrays of bytes
    return [TensorType(dtype, tuple(int(d) for d in value.shape))]


register(
    "Const",
    attrs=[Attr("value", "tensor")],
    infer=_const_infer,
    reference=lambda attrs: attrs["value"],
    lower=lambda attrs: attrs["value"],
    traits=("pure", "constant"),
    doc="A constant tensor (large ones become device-resident weights when compiled).",
)

for _name, _doc in [
    ("Identity", "Returns its input."),
    ("StopGradient", "Returns its input (gradients are irrelevant at inference)."),
    ("PreventGradient", "Returns its input (gradients are irrelevant at inference)."),
    ("Snapshot", "Returns its input."),
]:
    register(
        _name,
        inputs=1,
        infer=same_as(0),
        reference=lambda attrs, x: x,
        lower=lambda attrs, x: x,
        traits=("pure", "identity"),
        doc=_doc,
    )
