"""`ftspec plan SPEC`: compile a spec into a plan and preview its cost; save it (-o) or emit a run folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ftspec.cli.common import EXIT_FINDINGS, emit


def no_plan(exc, fmt: str) -> None:
    """Stop without a plan: the findings in the asked-for view (JSON stays JSON on every exit code), exit 1."""
    if fmt == "json":
        click.echo(json.dumps({"plan": None, "error": exc.message,
                               "findings": [f.to_dict() for f in sorted(exc.findings, key=lambda f: f.sort_key())]},
                              indent=2, ensure_ascii=False))
    else:
        emit(exc.findings, "text")
    click.echo(exc.message, err=True)
    sys.exit(EXIT_FINDINGS)


def planned_or_exit(spec: str, fmt: str = "text"):
    from ftspec.plan.planning import NoPlan, plan_spec

    try:
        return plan_spec(spec)
    except NoPlan as exc:
        no_plan(exc, fmt)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `ftspec apply`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--emit", "emit_dir", type=click.Path(file_okay=False),
              help="Also write a launchable run folder here: plan.json, data/, accelerate config, launch.sh, "
                   "job.sbatch (Slurm) and sky.yaml (SkyPilot), for running the job outside `ftspec apply`.")
def plan(spec: str, out: str | None, fmt: str, emit_dir: str | None) -> None:
    """Compile SPEC into a launch plan and preview steps, tokens, memory, time and cost."""
    from ftspec.plan.views import to_json, to_text

    planned = planned_or_exit(spec, fmt)
    compiled, warnings = planned.plan, [f for f in planned.findings if f.severity != "error"]
    if fmt == "json":
        click.echo(to_json(compiled), nl=False)
    else:
        if warnings:
            n_warn = sum(f.severity == "warning" for f in warnings)
            click.echo(f"{n_warn} lint warning(s), {len(warnings) - n_warn} info; `ftspec lint {spec}` shows them",
                       err=True)
        click.echo(to_text(compiled), nl=False)
    if compiled.fits is False:
        from ftspec.lint.views import render_text
        from ftspec.plan.planning import does_not_fit

        # stdout stays pure JSON for tools; the finding goes to stderr there.
        click.echo(render_text([does_not_fit(planned.loaded, compiled)], colour=False), err=fmt == "json")
        sys.exit(EXIT_FINDINGS)
    if out:
        from ftspec.plan.planfile import save_plan

        save_plan(compiled, Path(out))
        click.echo(f"saved plan to {out}; run `ftspec apply {out}`", err=True)
    if emit_dir:
        from ftspec.launch import local, skypilot, slurm
        from ftspec.runs.inputs import emit_run_folder

        folder = emit_run_folder(planned.loaded, compiled, Path(emit_dir), planned.findings)
        click.echo(f"wrote a launchable run folder to {folder}: bash {folder / local.FILENAME}, "
                   f"sbatch {folder / slurm.FILENAME} (the whole apply: train, evaluate, report) or sky launch "
                   f"{folder / skypilot.FILENAME}", err=True)
