"""Rule registry. Each module in this package defines ``RULE``; codes group by area:
FT0xx spec, FT1xx data volume, FT2xx hyperparameters, FT3xx data quality/format, FT4xx eval."""

from __future__ import annotations

import importlib
import pkgutil

from ftspec.lint.rules.base import Rule

_RULES: dict[str, Rule] | None = None


def _load() -> dict[str, Rule]:
    global _RULES
    if _RULES is None:
        rules = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if info.name.startswith("ft"):
                rule = importlib.import_module(f"{__name__}.{info.name}").RULE
                assert rule.code not in rules, rule.code
                rules[rule.code] = rule
        _RULES = dict(sorted(rules.items()))
    return _RULES


def all_rules() -> list[Rule]:
    return list(_load().values())


def get_rule(code: str) -> Rule:
    return _load()[code.upper()]


__all__ = ["Rule", "all_rules", "get_rule"]
