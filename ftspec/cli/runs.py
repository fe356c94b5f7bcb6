"""`ftspec runs [SPEC|DIR]`: the runs of a spec (or under a folder), newest first, with their status."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("target", required=False, default=".", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def runs(target: str, fmt: str) -> None:
    """List the runs of a SPEC (under <output.dir>/<name>/) or in DIR: name, run id, parent, status, the selected
    metric and date, newest first."""
    import json

    from ftspec.runs.listing import RunsError, list_runs, render_table

    try:
        found = list_runs(Path(target))
    except RunsError as exc:
        click.echo(f"ftspec runs: {exc}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps([r.summary() for r in found], indent=2, ensure_ascii=False))
    else:
        click.echo(render_table(found))
