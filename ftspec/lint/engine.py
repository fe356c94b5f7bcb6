"""Lint a loaded spec: one streaming pass per dataset into ``DataStats`` (``scan``), then every rule on the stats."""

from __future__ import annotations

import re

from ftspec.core.findings import Finding
from ftspec.lint.scan import collect
from ftspec.spec.load import LoadedSpec, load_specs

_DISABLE = re.compile(r"#\s*ftspec:\s*disable=([A-Za-z0-9_, ]+)")

# Rules that need token counts or the pipeline's rows; `plan` replaces them with its exact counts.
TOKEN_RULES = ("FT104", "FT105", "FT110", "FT302")


def _inline_disabled(path: str, cache: dict) -> dict[int, set[str]]:
    if path not in cache:
        table: dict[int, set[str]] = {}
        try:
            with open(path, encoding="utf-8") as f:
                for n, text in enumerate(f, 1):
                    if "ftspec:" in text:
                        m = _DISABLE.search(text)
                        if m:
                            table[n] = {c.strip().upper() for c in m.group(1).split(",") if c.strip()}
        except OSError:
            pass
        cache[path] = table
    return cache[path]


def run_lint(loaded: LoadedSpec, *, select: list[str] | None = None, disable=(), count_tokens: bool = True,
             ) -> list[Finding]:
    from ftspec.lint.rules import all_rules

    off = {c.upper() for c in disable} | {c.upper() for c in loaded.spec.lint.disable}
    if not count_tokens:
        off |= set(TOKEN_RULES)
    sel = {c.upper() for c in select} if select else None
    profile = loaded.spec.lint.profile
    rules = [r for r in all_rules() if r.code not in off and (not r.only or profile in r.only)
             and (sel is None or r.code in sel or any(r.code.startswith(s) for s in sel))]
    ctx = collect(loaded, count_tokens=count_tokens)
    spec_files = {str(loaded.path)} | {loc.file for loc in loaded.source.values.values()}
    cache: dict = {}
    out: list[Finding] = []
    for rule in rules:
        for f in rule.check(ctx, rule):
            if f.line and f.path in spec_files and f.code in _inline_disabled(f.path, cache).get(f.line, ()):
                continue
            out.append(f)
    out.sort(key=Finding.sort_key)
    return out


def lint_specs(paths, *, select: list[str] | None = None, disable=()) -> tuple[list[LoadedSpec], list[Finding]]:
    """Load and lint each spec file: the loaded specs, and every finding (a spec that does not load: its FT000s)."""
    loaded_specs, found = load_specs(paths)
    for loaded in loaded_specs:
        found.extend(run_lint(loaded, select=select, disable=disable))
    return loaded_specs, found
