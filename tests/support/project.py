"""The one builder for spec projects: a folder with a spec and its data files, or a Spec object in memory."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def chat_rows(n: int, *, user: str = "question {i}", assistant: str = "answer {i}", offset: int = 0,
              **extra) -> list[dict]:
    """``n`` one-turn conversations; ``{i}`` in the texts is the row's number (from ``offset``); ``extra`` values are
    added to every record (a callable gets ``i``)."""
    rows = []
    for i in range(offset, offset + n):
        row = {"messages": [{"role": "user", "content": user.format(i=i)},
                            {"role": "assistant", "content": assistant.format(i=i)}]}
        row.update({k: v(i) if callable(v) else v for k, v in extra.items()})
        rows.append(row)
    return rows


def write_project(folder: Path, spec, files: dict | None = None, *, spec_name: str = "spec.yaml") -> Path:
    """Write ``files`` (name -> list of records as JSONL, a str, or bytes) and the spec (a dict, written as JSON, which
    is YAML; or YAML text) into ``folder``; returns the spec's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            write_jsonl(path, content)
    path = folder / spec_name
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return path


def spec_model(**sections):
    """A validated Spec in memory: name and data.train filled in unless given."""
    from ftspec.spec.schema import Spec

    return Spec.model_validate({"version": 1, "name": "demo", "data": {"train": "x.jsonl"}, **sections})
