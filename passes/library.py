"""The pass library: every pass by name, pipelines written as text, and the optimization levels.

The passes Fourier ships are listed here, in `LIBRARY`; a pass defined elsewhere (a test, an
experiment) joins with `register_pass`. A pipeline is text, ``"prune,fold-constants{max-elements=4096},cse"``:
pass names with their options, which are the fields of the pass's dataclass.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from fourier.passes.base import Pass, PipelineError
from fourier.passes.cleanup import DeadCodeElimination, Prune, StripIdentity
from fourier.passes.cse import CommonSubexpressionElimination
from fourier.passes.fold import FoldConstants
from fourier.passes.fusion import FuseElementwise, FuseGathers, FuseHorizontal, FuseTables
from fourier.passes.hoist import HoistShared
from fourier.passes.rules.algebraic import Simplify
from fourier.passes.rules.conv import ConvAlgorithm, FoldBatchnorm, FuseConv
from fourier.passes.rules.dense import FuseDense, SplitDense
from fourier.passes.rules.recognize import EmbeddingBag, Recognize

__all__ = [
    "LIBRARY",
    "register_pass",
    "all_passes",
    "parse_pipeline",
    "pipeline_text",
    "OPT_LEVELS",
    "pipeline_for_level",
]

LIBRARY: tuple[type[Pass], ...] = (
    # redundant-compute elimination
    StripIdentity,
    Prune,
    DeadCodeElimination,
    FoldConstants,
    CommonSubexpressionElimination,
    # rule sets
    Simplify,
    Recognize,
    EmbeddingBag,
    FoldBatchnorm,
    FuseDense,
    SplitDense,
    FuseConv,
    ConvAlgorithm,
    # fusion over groups of nodes
    FuseTables,
    FuseGathers,
    FuseHorizontal,
    FuseElementwise,
    # request-level hoisting (changes the signature: the compiler runs it before the others)
    HoistShared,
)

_PASSES: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Make a pass available to pipelines by its kebab-case name (usable as a class decorator)."""
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", cls.name):
        raise ValueError(f"pass name {cls.name!r} is not kebab-case")
    if cls.name in _PASSES:
        raise ValueError(f"pass {cls.name} registered twice")
    _PASSES[cls.name] = cls
    return cls


for _cls in LIBRARY:
    register_pass(_cls)


def all_passes() -> dict[str, type[Pass]]:
    """Every registered pass by name."""
    return dict(sorted(_PASSES.items()))


def _convert(cls: type[Pass], key: str, raw: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    attr = key.replace("-", "_")
    if attr not in fields:
        known = ", ".join(f.name.replace("_", "-") for f in fields.values()) or "none"
        raise PipelineError(f"pass {cls.name!r} has no option {key!r} (options: {known})")
    kind = fields[attr].type
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name == "bool":
            if raw not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw in ("true", "1")
        if kind_name == "int":
            return int(raw)
        if kind_name == "float":
            return float(raw)
        return raw
    except ValueError:
        raise PipelineError(f"pass {cls.name!r} option {key!r}: {raw!r} is not a {kind_name}") from None


def parse_pipeline(text: str) -> list[Pass]:
    """``"prune,fold-constants{max-elements=4096},cse"`` -> pass instances."""
    passes: list[Pass] = []
    for item in re.findall(r"[^,{]+(?:\{[^}]*\})?", text.replace(" ", "").replace("\n", "")):
        m = re.fullmatch(r"([a-z0-9-]+)(?:\{([^}]*)\})?", item)
        if not m:
            raise PipelineError(f"cannot parse pipeline element {item!r}")
        name, opts = m.group(1), m.group(2)
        if name not in _PASSES:
            raise PipelineError(f"unknown pass {name!r}; known passes: {', '.join(all_passes())}")
        cls = _PASSES[name]
        kwargs = {}
        for kv in filter(None, (opts or "").split(",")):
            if "=" not in kv:
                raise PipelineError(f"pass {name!r}: option {kv!r} needs a value (key=value)")
            k, v = kv.split("=", 1)
            kwargs[k.replace("-", "_")] = _convert(cls, k, v)
        passes.append(cls(**kwargs))
    return passes


def pipeline_text(passes: Sequence[Pass]) -> str:
    """The text that `parse_pipeline` turns back into ``passes``."""
    return ",".join(str(p) for p in passes)


# Optimization levels of `fourier compile -O<n>`.
OPT_LEVELS: dict[int, str] = {
    0: "",
    1: "strip-identity,prune,fold-constants,cse,simplify,prune",
    2: (
        "strip-identity,prune,fold-constants,cse,simplify,"
        "recognize,fold-batchnorm,fuse-dense,split-dense,fuse-conv,conv-algorithm,"
        "embedding-bag,fuse-tables,cse,simplify,fuse-gathers,fuse-horizontal,"
        "fold-constants,cse,simplify,fuse-elementwise,prune"
    ),
}


def pipeline_for_level(level: int) -> list[Pass]:
    """The passes of optimization level ``level`` (0, 1 or 2)."""
    if level not in OPT_LEVELS:
        raise PipelineError(f"optimization level {level} does not exist (levels: {sorted(OPT_LEVELS)})")
    return parse_pipeline(OPT_LEVELS[level])
