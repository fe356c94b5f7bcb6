"""`ftspec report RUN`: summarise a finished run folder and re-render its report.html."""

from __future__ import annotations

from pathlib import Path

import click


def print_report(run_dir: Path) -> None:
    import json

    from ftspec.report.story import console_lines
    from ftspec.runfolder.contract import REPORT

    report = json.loads((run_dir / REPORT).read_text(encoding="utf-8"))
    for line in console_lines(report, run_dir):
        click.echo(line)


@click.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
def report(run: str) -> None:
    """Summarise a finished RUN folder and re-render its report.html."""
    from ftspec.core.atomic import write_text_atomic
    from ftspec.report.html import render_report_html
    from ftspec.runfolder.contract import REPORT, REPORT_HTML, read_json

    run_dir = Path(run)
    if not (run_dir / REPORT).is_file():
        raise click.ClickException(f"{run}: no report.json (the run has not finished; `ftspec apply` resumes it)")
    data = read_json(run_dir / REPORT)
    if not isinstance(data, dict):
        raise click.ClickException(f"{run}: report.json is unreadable; `ftspec apply` on its spec re-evaluates "
                                   "the run and writes it again")
    write_text_atomic(run_dir / REPORT_HTML, render_report_html(data))
    print_report(run_dir)
