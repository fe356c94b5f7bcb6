"""A model folder's tokenizer files, read as transformers reads them: only regular files (a FIFO would block
forever), tokenizer.json loaded once per file version, chat templates from their files or tokenizer_config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

def token_str(value: Any) -> str | None:
    if isinstance(value, dict):  # serialized AddedToken
        return value.get("content")
    return value if isinstance(value, str) else None


def read_text(path: Path) -> str:
    """A model file's text; only regular files are opened (a FIFO would block forever)."""
    import os
    import stat

    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path} is not a regular file")
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
        return fh.read().decode("utf-8")


def exists(path: Path) -> bool:
    """Present at all (a FIFO too: _read_text then refuses it rather than skipping it silently)."""
    return path.exists() and not path.is_dir()


def read_json(path: Path) -> dict:
    if not exists(path):
        return {}
    value = json.loads(read_text(path))
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return value


_TOKENIZERS: dict[tuple, Any] = {}


def load_tokenizer(path: Path):
    """tokenizers.Tokenizer of a tokenizer.json, kept per file version: a real 151k vocabulary takes ~1 s to load,
    and lint, plan and apply each open it (ftspec never changes a loaded tokenizer's settings)."""
    from tokenizers import Tokenizer

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _TOKENIZERS:
        if len(_TOKENIZERS) >= 4:
            _TOKENIZERS.pop(next(iter(_TOKENIZERS)))
        _TOKENIZERS[key] = Tokenizer.from_str(read_text(path))  # regular files only: a FIFO would block
    return _TOKENIZERS[key]


def load_chat_template(folder: Path, config: dict) -> str | dict[str, str] | None:
    """Template files win over tokenizer_config.json, and several templates make a dict, as in transformers."""
    templates: dict[str, str] = {}
    if exists(folder / "chat_template.jinja"):
        templates["default"] = read_text(folder / "chat_template.jinja")
    extra_dir = folder / "additional_chat_templates"
    if extra_dir.is_dir():
        for path in sorted(extra_dir.glob("*.jinja")):
            templates[path.name.removesuffix(".jinja")] = read_text(path)
    if templates:
        return templates["default"] if list(templates) == ["default"] else templates
    template = config.get("chat_template")
    if isinstance(template, list):  # legacy list of {"name", "template"}
        if not all(isinstance(e, dict) and "name" in e and "template" in e for e in template):
            raise ValueError("tokenizer_config.json: chat_template list entries need a name and a template")
        return {entry["name"]: entry["template"] for entry in template}
    return template
