"""`ftspec lint SPEC...`: validate, then the guides' rules on the spec and every record of its datasets."""

from __future__ import annotations

import sys

import click

from ftspec.cli.common import FORMATS, emit, exit_code, split_codes
from ftspec.cli.plan import no_cache_if, no_cache_option


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rule codes (comma-separated, prefixes allowed).")
@click.option("--disable", multiple=True, help="Switch these rule codes off for this run.")
@click.option("--fail-on", "fail_on", type=click.Choice(["error", "warning", "info"]), default="error",
              show_default=True, help="Exit 1 when a finding of this severity or a worse one is found.")
@click.option("--fix", is_flag=True, help="Apply the findings' unambiguous fixes to the spec (comments and layout "
              "kept), then lint again.")
@no_cache_option
def lint(specs: tuple[str, ...], fmt: str, select: tuple[str, ...], disable: tuple[str, ...], fail_on: str,
         fix: bool, no_cache: bool) -> None:
    """Validate SPECS, then check them and their datasets against the guides' rules."""
    from ftspec.lint.engine import lint_specs

    no_cache_if(no_cache)
    selected, disabled = split_codes(select) or None, split_codes(disable)
    loaded_specs, findings = lint_specs(specs, select=selected, disable=disabled)
    if fix:
        from ftspec.lint.fix import fix_specs

        changed = fix_specs(loaded_specs, findings)
        for c in changed:
            click.echo(f"fixed {c.code}: {c.file}: {c.key} {c.old!r} -> {c.new!r}", err=True)
        if changed:
            loaded_specs, findings = lint_specs(specs, select=selected, disable=disabled)  # what is left after the fixes
    emit(findings, fmt)
    if fmt == "text" and not findings:
        click.echo(f"{len(specs)} spec(s): no findings")
    code = exit_code(findings, fail_on)
    if code and fmt == "text" and fail_on != "error" and not any(f.severity == "error" for f in findings):
        click.echo(f"failing on --fail-on {fail_on}: relax with --fail-on error", err=True)
    sys.exit(code)
