"""Jinja2 rendering for everything ftspec writes from templates: sandboxed, undefined is an error."""

from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

_env = SandboxedEnvironment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined, keep_trailing_newline=True,
    autoescape=False,
)


def render(template_name: str, /, **context) -> str:
    return _env.get_template(template_name).render(**context)
