"""`ftspec validate SPEC...`: the schema only, no data read."""

from __future__ import annotations

import sys

import click

from ftspec.cli.common import FORMATS, emit, exit_code


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def validate(specs: tuple[str, ...], fmt: str) -> None:
    """Check SPECS against the schema (no data is read)."""
    from ftspec.spec.load import load_specs

    _, findings = load_specs(specs)
    emit(findings, fmt)
    if fmt == "text" and not findings:
        click.echo(f"{len(specs)} spec(s) valid")
    sys.exit(exit_code(findings))
