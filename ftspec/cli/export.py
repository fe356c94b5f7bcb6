"""`ftspec export RUN`: a finished run's model as a standalone folder, the adapter as is or merged."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--merge", is_flag=True, help="Merge the LoRA adapter into the base weights.")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), help="Destination (default RUN/merged).")
def export(run: str, merge: bool, out: str | None) -> None:
    """Export a RUN's model: the adapter as is, or merged into the base model (--merge)."""
    from ftspec.runs.export import ExportError, export_run

    try:
        dest = export_run(Path(run), merge=merge, out=Path(out) if out else None)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported to {dest}")
