"""Training methods, one module each (``sft``, ``dpo``, ``cpt``), registered like the lint rules: every module here
but ``base`` defines ``METHOD``, an instance of :class:`ftspec.methods.base.Method`. ``docs/architecture.md`` says
what adding one takes."""

from __future__ import annotations

import importlib
import pkgutil

from ftspec.spec.schema import METHODS

_METHODS: dict | None = None


def _load() -> dict:
    global _METHODS
    if _METHODS is None:
        found = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if info.name != "base":
                method = importlib.import_module(f"{__name__}.{info.name}").METHOD
                assert method.name == info.name and method.name not in found, info.name
                found[method.name] = method
        _METHODS = found
    return _METHODS


def get_method(name: str):
    """The Method registered as ``name``; KeyError when there is none."""
    return _load()[name]


def all_methods() -> list:
    return list(_load().values())


def method_names() -> list[str]:
    """In the schema's order (ftspec.spec.schema.Method): sft, dpo, cpt."""
    names = _load()
    return [n for n in METHODS if n in names] + sorted(n for n in names if n not in METHODS)
