"""Shape-inference helpers shared by the op families."""

from __future__ import annotations

from collections.abc import Sequence

from fourier.ir.types import UNKNOWN, Dim, TensorType
from fourier.ops.registry import InferContext


def broadcast_dims(a: Dim, b: Dim) -> Dim:
    """Numpy broadcasting of two dims; symbolic dims broadcast against 1 and themselves."""
    if a == 1:
        return b
    if b == 1 or a == b:
        return a
    if a == UNKNOWN or b == UNKNOWN:
        return UNKNOWN
    if isinstance(a, int) and isinstance(b, int):
        raise ValueError(f"dimensions {a} and {b} do not broadcast")
    # a symbolic dim against a static one > 1: at run time the symbol must equal it.
    return b if isinstance(b, int) else a


def broadcast_shapes(shapes: Sequence[tuple[Dim, ...] | None]) -> tuple[Dim, ...] | None:
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes if s is not None), default=0)
    out: list[Dim] = [1] * rank
    for s in shapes:
        assert s is not None
        padded = (1,) * (rank - len(s)) + tuple(s)
        out = [broadcast_dims(x, y) for x, y in zip(out, padded)]
    return tuple(out)


def same_as(i: int = 0):  # type: ignore[no-untyped-def]
    """Inference: one output with the type of input ``i``."""

    def infer(ctx: InferContext) -> list[TensorType]:
        return [ctx.types[i]]

    return infer


def broadcast_result(dtype: str | None = None):  # type: ignore[no-untyped-def]
    """Inference: one output, inputs broadcast together, dtype of input 0 unless given."""

    def infer(ctx: InferContext) -> list[TensorType]:
        dtypes = {t.dtype for t in ctx.types}
        if dtype is None and len(dtypes) > 1:
            raise ctx.fail(f"operands have different dtypes {sorted(dtypes)}")
        try:
            shape = broadcast_shapes([t.shape for t in ctx.types])
        except ValueError as e:
            raise ctx.fail(str(e)) from e
        return [TensorType(dtype or ctx.types[0].dtype, shape)]

    return infer


def norm_axis(ctx: InferContext, axis: int, rank: int | None) -> int:
    if rank is None:
        return axis
    if not -rank <= axis < max(rank, 1):
        raise ctx.fail(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0
