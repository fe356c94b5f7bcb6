"""`ftspec schema`: the spec's JSON Schema."""

from __future__ import annotations

import json

import click


@click.command()
def schema() -> None:
    """Print the spec's JSON Schema (generated from the pydantic models)."""
    from ftspec.spec.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))
