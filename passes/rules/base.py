"""Helpers shared by the rule modules: rule-set passes and predicates on constants."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from fourier.ir.core import Graph, Value
from fourier.passes.base import Pass, PassResult
from fourier.passes.rewrite import RuleSet, apply_rules

__all__ = ["RulePass", "rule_pass", "is_scalar", "all_equal", "same_type"]


@dataclass(frozen=True)
class RulePass(Pass):
    """A pass that applies one rule set to a fixpoint; stats count the rules that fired."""

    rules: ClassVar[RuleSet]

    def run(self, graph: Graph) -> PassResult:
        fired = apply_rules(graph, self.rules)
        return PassResult(bool(fired), fired)


def rule_pass(name: str, rules: RuleSet, summary: str) -> type[RulePass]:
    """The pass ``name`` that runs ``rules``: a rule-set pass is only these three facts.

    It is a class, as every pass is (pipelines instantiate passes by name), named after the pass
    in CamelCase (``fuse-dense`` -> ``FuseDense``) and belonging to the module that declares it.
    """
    class_name = "".join(part.capitalize() for part in name.split("-"))
    namespace = {
        "name": name,
        "summary": summary,
        "rules": rules,
        "__doc__": f"Applies the {rules.name!r} rules to a fixpoint: {summary}.",
        "__module__": sys._getframe(1).f_globals.get("__name__", __name__),
        "__qualname__": class_name,
    }
    return dataclass(frozen=True)(type(class_name, (RulePass,), namespace))


def is_scalar(v: Any, value: float, tol: float = 0.0) -> bool:
    """``v`` is a constant array whose every element equals ``value`` (within ``tol``)."""
    a = np.asarray(v)
    if a.size == 0 or a.dtype == object:
        return False
    return bool(np.all(np.abs(a.astype(np.float64) - value) <= tol))


def all_equal(value: float, tol: float = 0.0):  # type: ignore[no-untyped-def]
    """Predicate: a constant whose elements all equal ``value``."""
    return lambda v: is_scalar(v, value, tol)


def same_type(a: Value, b: Value) -> bool:
    return a.type == b.type and a.type.shape is not None and "?" not in a.type.shape
