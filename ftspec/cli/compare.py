"""`ftspec compare RUN... | SPEC`: what differs between runs and what it did, in the terminal and in compare.html."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--html", "html", type=click.Path(dir_okay=False), default="compare.html", show_default=True,
              help="Where to write the self-contained HTML page (plots of the metrics, losses and inputs).")
def compare(targets: tuple[str, ...], fmt: str, html: str) -> None:
    """Compare RUN folders, or the members of a SPEC's sweep: the inputs that differ, holdout metrics (base and
    each run, per scenario), steps, tokens, time, cost, and the best run."""
    import json

    from ftspec.core.atomic import write_text_atomic
    from ftspec.report.compare_html import render_compare_html
    from ftspec.runs.compare import compare_runs, metric_names, render_text, scenarios, target_runs
    from ftspec.runs.listing import RunsError

    try:
        comparison = compare_runs(target_runs(list(targets)))
    except RunsError as exc:
        click.echo(f"ftspec compare: {exc}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps(comparison, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo("\n".join(render_text(comparison)))
    page = Path(html)
    write_text_atomic(page, render_compare_html(comparison, metric_names(comparison), scenarios(comparison)))
    click.echo(f"wrote {page.resolve()}", err=True)
