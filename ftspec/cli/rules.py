"""`ftspec rules [CODE]`: the rule catalogue, one rule's docs, or what a lint.profile changes."""

from __future__ import annotations

import json

import click

from ftspec.spec.schema import PROFILES


@click.command()
@click.argument("code", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "docs"]), default="text",
              show_default=True)
@click.option("--profile", type=click.Choice(list(PROFILES)),
              help="List only what this lint.profile changes: its own rules and the thresholds it sets.")
def rules(code: str | None, fmt: str, profile: str | None) -> None:
    """List the lint rules, or explain one (ftspec rules FT201)."""
    from ftspec.lint.rules import all_rules, get_rule
    from ftspec.lint.rules.docs import rule_doc, rules_docs_page, rules_markdown

    if code:
        try:
            rule = get_rule(code.upper())
        except KeyError:
            raise click.UsageError(f"unknown rule {code!r}; `ftspec rules` lists them") from None
        click.echo(rule_doc(rule))
        return
    listed = all_rules()
    if profile:
        changed = [r for r in listed if profile in r.profiles or profile in r.only]
        if fmt == "json":
            click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity,
                                    "only_under_profiles": list(r.only), "change": r.profiles.get(profile)}
                                   for r in changed], indent=2))
            return
        click.echo(f"lint.profile {profile} changes {len(changed)} rule(s):")
        for r in changed:
            scope = "only under " + ", ".join(r.only) if r.only else "all profiles"
            click.echo(f"{r.code}  {r.severity:<7}  {r.name:<28} {r.profiles.get(profile, r.summary)} ({scope})")
        return
    if fmt == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary}
                               for r in listed], indent=2))
    elif fmt == "markdown":
        click.echo(rules_markdown(listed))
    elif fmt == "docs":
        click.echo(rules_docs_page(listed), nl=False)
    else:
        for r in listed:
            click.echo(f"{r.code}  {r.severity:<7}  {r.name:<28} {r.summary}")
