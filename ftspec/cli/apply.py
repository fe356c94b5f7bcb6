"""`ftspec apply SPEC|PLAN|RUN_DIR`: run a spec, a plan saved by `ftspec plan -o`, or a written run folder, then evaluate and
report (`--on slurm`: as one Slurm job)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from ftspec.cli.common import EXIT_FINDINGS, emit
from ftspec.cli.plan import no_cache_if, no_cache_option, set_option
from ftspec.cli.report import print_report


@click.command()
@click.argument("target", type=click.Path())
@click.option("--force", is_flag=True, help="Train again even if a finished run exists for these inputs.")
@click.option("--on", "where", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="slurm: write the run folder here and submit its whole apply (train, evaluate, report) as a job.")
@click.option("--wait", is_flag=True, help="With --on slurm: wait for the job, then print its report.")
@set_option
@no_cache_option
def apply(target: str, force: bool, where: str, wait: bool, sets: tuple[str, ...], no_cache: bool) -> None:
    """Run a SPEC, a PLAN saved by `ftspec plan -o`, or a RUN folder written for a cluster, then evaluate and report.
    A SPEC with a sweep runs every member in turn (--on slurm: one job array), each its own run folder."""
    from pathlib import Path

    from ftspec.plan.planfile import is_saved_plan
    from ftspec.plan.planning import does_not_fit
    from ftspec.plan.views import to_text
    from ftspec.runs.apply import apply_plan, apply_run_folder

    no_cache_if(no_cache)
    echo = lambda m: click.echo(m, err=True)  # noqa: E731
    if wait and where != "slurm":
        raise click.UsageError("--wait waits for a Slurm job: use it with --on slurm")
    if sets and (Path(target).is_dir() or is_saved_plan(target)):
        raise click.UsageError("--set changes a spec: give the SPEC, not a saved plan or a run folder")
    if Path(target).is_dir():  # a run folder whose inputs are written: what a cluster job runs
        with _exit_on_apply_errors():
            print_report(apply_run_folder(Path(target), echo=echo))
        return

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
        from ftspec.cli.plan import loaded_or_exit, planned_or_exit

        loaded = loaded_or_exit(target, sets)
        if loaded.spec.sweep is not None:
            _apply_sweep(loaded, target, force=force, where=where, wait=wait, echo=echo)
            return
        planned = planned_or_exit(target, loaded=loaded)
        loaded, plan_obj, findings = planned.loaded, planned.plan, planned.findings
        click.echo(to_text(plan_obj), nl=False, err=True)
    if plan_obj.fits is False:
        emit([does_not_fit(loaded, plan_obj)], "text")
        sys.exit(EXIT_FINDINGS)
    with _exit_on_apply_errors():
        if where == "slurm":
            from ftspec.runs.cluster import submit_plan, wait_for_job

            run_dir, job_id = submit_plan(loaded, plan_obj, force=force, echo=echo, lint=findings)
            if job_id is not None and not wait:
                echo(f"when it ends: `ftspec report {run_dir}` (or `ftspec apply {target}` again: nothing to do)")
                return
            if job_id is not None:
                wait_for_job(run_dir, job_id, echo=echo)
        else:
            run_dir = apply_plan(loaded, plan_obj, force=force, echo=echo, lint=findings)
    print_report(run_dir)


def _apply_sweep(loaded, target: str, *, force: bool, where: str, wait: bool, echo) -> None:
    """Every member, one after another (or as one Slurm job array); a summary line each, exit 1 if any failed."""
    from ftspec.cli.plan import sweep_planned_or_exit, sweep_text
    from ftspec.runs.sweep import SUBMITTED, apply_sweep, exit_code, submit_sweep, summary_lines

    planned = sweep_planned_or_exit(loaded, target)
    echo(sweep_text(loaded, planned, target).rstrip("\n"))
    if where == "slurm":
        outcomes = submit_sweep(planned, force=force, wait=wait, echo=echo)
    else:
        outcomes = apply_sweep(planned, force=force, echo=echo)
    for line in summary_lines(outcomes):
        click.echo(line)
    if any(o.status == SUBMITTED for o in outcomes):
        echo(f"when they end: `ftspec apply {target}` again (finished members: nothing to do), or `ftspec report "
             "<run folder>` for one")
    code = exit_code(outcomes)
    if code:
        sys.exit(code)


@contextmanager
def _exit_on_apply_errors():
    """A locked run folder or a failed apply: one line and its exit code, never a traceback."""
    from ftspec.runfolder.locks import RunLocked
    from ftspec.runs.errors import ApplyError

    try:
        yield
    except RunLocked as exc:
        click.echo(f"ftspec: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    except ApplyError as exc:
        click.echo(f"ftspec: {exc.message}", err=True)
        sys.exit(exc.code)
