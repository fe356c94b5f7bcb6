"""`ftspec apply SPEC|PLAN`: run a spec, or a plan saved by `ftspec plan -o`, then evaluate and report."""

from __future__ import annotations

import sys

import click

from ftspec.cli.common import EXIT_FINDINGS, emit
from ftspec.cli.report import print_report


@click.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Train again even if a finished run exists for these inputs.")
def apply(target: str, force: bool) -> None:
    """Run a SPEC, or a PLAN saved by `ftspec plan -o`, then evaluate and report."""
    from ftspec.plan.planfile import is_saved_plan
    from ftspec.plan.planning import does_not_fit
    from ftspec.plan.views import to_text
    from ftspec.runfolder.locks import RunLocked
    from ftspec.runs.apply import apply_plan
    from ftspec.runs.errors import ApplyError

    if is_saved_plan(target):
        from ftspec.lint.engine import run_lint
        from ftspec.plan.planfile import SavedPlanError, load_saved_plan

        try:
            loaded, plan_obj = load_saved_plan(target)
        except SavedPlanError as exc:
            if exc.findings:
                emit(exc.findings, "text")
            for line in exc.lines:
                click.echo(line, err=True)
            sys.exit(EXIT_FINDINGS)
        findings = run_lint(loaded, count_tokens=False)
    else:
        from ftspec.cli.plan import planned_or_exit

        planned = planned_or_exit(target)
        loaded, plan_obj, findings = planned.loaded, planned.plan, planned.findings
        click.echo(to_text(plan_obj), nl=False, err=True)
    if plan_obj.fits is False:
        emit([does_not_fit(loaded, plan_obj)], "text")
        sys.exit(EXIT_FINDINGS)
    try:
        run_dir = apply_plan(loaded, plan_obj, force=force, echo=lambda m: click.echo(m, err=True), lint=findings)
    except RunLocked as exc:
        click.echo(f"ftspec: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    except ApplyError as exc:
        click.echo(f"ftspec: {exc.message}", err=True)
        sys.exit(exc.code)
    print_report(run_dir)
