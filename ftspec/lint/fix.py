"""`ftspec lint --fix`: apply the findings' unambiguous fixes to the spec YAML, keeping comments and layout.

A finding carries ``extra["fix"] = {"set": [key, ...], "value": v}``. The value is written with ruamel.yaml's
round-trip mode into the file that holds the key (a spec's ``extends`` base when the value comes from there),
or into the spec itself when no file has the key yet. Nothing but the fixed values changes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from ftspec.core.atomic import write_text_atomic


@dataclass(frozen=True)
class AppliedFix:
    code: str
    file: str
    key: str
    old: object
    new: object


def fixes_of(findings: list) -> list:
    return [f for f in findings if isinstance(f.extra.get("fix"), dict)]


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: comments, key order, flow/block style and quotes survive
    y.preserve_quotes = True
    y.width = 4096
    return y


def _set(doc, keys: list, value):
    from ruamel.yaml.comments import CommentedMap

    node = doc
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = CommentedMap()
        node = node[k]
    old = node.get(keys[-1])
    node[keys[-1]] = value
    return old


def apply_fixes(loaded, findings: list) -> list[AppliedFix]:
    """Write every fix into its file; returns what changed. Conflicting fixes for one key: the first wins."""
    y = _yaml()
    docs: dict[str, object] = {}
    applied: list[AppliedFix] = []
    done: set[tuple] = set()
    for f in fixes_of(findings):
        keys = list(f.extra["fix"]["set"])
        value = f.extra["fix"]["value"]
        if tuple(keys) in done:
            continue
        done.add(tuple(keys))
        loc = loaded.source.values.get(tuple(keys))
        file = loc.file if loc is not None else str(loaded.path)
        if file not in docs:
            docs[file] = y.load(Path(file).read_text(encoding="utf-8"))
        old = _set(docs[file], keys, value)
        applied.append(AppliedFix(f.code, file, ".".join(map(str, keys)), old, value))
    for file, doc in docs.items():
        out = io.StringIO()
        y.dump(doc, out)
        write_text_atomic(Path(file), out.getvalue())
    return applied


def fix_specs(loaded_specs: list, findings: list) -> list[AppliedFix]:
    """Apply, to each spec file, the fixes its own findings carry; what was changed."""
    changed = []
    for loaded in loaded_specs:
        files = {str(loaded.path)} | {loc.file for loc in loaded.source.values.values()}
        mine = [f for f in findings if f.code != "FT000" and f.extra.get("fix") and f.path in files]
        changed += apply_fixes(loaded, mine)
    return changed
