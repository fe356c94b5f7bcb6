"""What the verbs share: exit codes, rendering findings in the asked-for view, and failing on a severity."""

from __future__ import annotations

import sys

import click

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ["text", "json", "sarif", "github"]


def emit(findings: list, fmt: str) -> None:
    from ftspec.lint import views

    findings = sorted(findings, key=lambda f: f.sort_key())
    if fmt == "json":
        click.echo(views.render_json(findings))
    elif fmt == "sarif":
        from ftspec.lint.rules import all_rules

        click.echo(views.render_sarif(findings, all_rules()))
    elif fmt == "github":
        text = views.render_github(findings)
        if text:
            click.echo(text)
    else:
        text = views.render_text(findings, colour=sys.stdout.isatty())
        if text:
            click.echo(text)


def exit_code(findings: list, fail_on: str = "error") -> int:
    """1 when any finding is at least as severe as ``fail_on`` (error < warning < info), else 0."""
    from ftspec.core.findings import SEVERITY_ORDER

    limit = SEVERITY_ORDER[fail_on]
    return EXIT_FINDINGS if any(SEVERITY_ORDER[f.severity] <= limit for f in findings) else EXIT_OK


def split_codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip().upper() for v in values for c in v.split(",") if c.strip()]


def echo_err(line: str) -> None:
    click.echo(line, err=True)
