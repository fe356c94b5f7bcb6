"""Jinja2 rendering for everything ftspec writes from templates: sandboxed, undefined is an error."""

from __future__ import annotations

import sys
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

def _template_dir() -> Path:
    """The checkout's templates/ (editable install), else the copy a wheel installs under share/."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "ftspec" / "templates"


TEMPLATE_DIR = _template_dir()

_env = SandboxedEnvironment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined, keep_trailing_newline=True,
    autoescape=False,
)


def render(template_name: str, /, **context) -> str:
    return _env.get_template(template_name).render(**context)
