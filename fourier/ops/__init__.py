"""The op registry and its families (basic, math, array, reduce, nn)."""

from fourier.ops.registry import OpDef, all_ops, get_op, has_op

__all__ = ["OpDef", "all_ops", "get_op", "has_op"]
