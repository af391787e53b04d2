"""The op registry and its families (basic, math, array, reduce, nn, control, fused, longtail, image,
quant, random, host, sparse).

Importing this package fills the registry and installs it as the IR's op knowledge
(`fourier.ir.core.set_op_provider`): import it before building a graph.
"""

from fourier.ops import (  # noqa: F401  (each fills the registry)
    array,
    basic,
    control,
    fused,
    host,
    image,
    longtail,
    math,
    nn,
    quant,
    random,
    reduce,
    sparse,
)
from fourier.ops.registry import OpDef, all_ops, get_op, has_op

__all__ = ["OpDef", "all_ops", "get_op", "has_op"]
