"""The rule library, grouped by topic; each module defines `RuleSet` s and the passes that run them."""

from __future__ import annotations

from typing import Any

from fourier.passes.base import PipelineError

__all__ = ["find_rule", "all_rules"]


def all_rules() -> dict[str, tuple[str, Any]]:
    """Every rule of every rule-set pass: rule name -> (pass name, Rule)."""
    from fourier.passes.library import all_passes  # the library imports this package's modules

    out: dict[str, tuple[str, Any]] = {}
    for name, cls in all_passes().items():
        rules = getattr(cls, "rules", None)
        if rules is not None:
            for r in rules.rules:
                out[r.name] = (name, r)
    return out


def find_rule(name: str) -> tuple[str, Any]:
    """(pass name, Rule) for a rule name; a clear error listing the rules if unknown."""
    rules = all_rules()
    if name not in rules:
        raise PipelineError(f"unknown rule {name!r}; rules: {', '.join(sorted(rules))}")
    return rules[name]
