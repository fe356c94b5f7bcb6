"""`ftspec plan SPEC`: compile a spec into a plan and preview its cost; save it (-o) or emit a run folder. A spec with
``sweep:`` (or several values in a ``--set``) plans every member and shows them side by side with the total."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ftspec.cli.common import EXIT_FINDINGS, emit

SET_HELP = ("KEY=VALUE overrides a spec key (dotted: training.learning_rate=1e-4); KEY=V1,V2,... sweeps it (each value "
            "a YAML scalar). Repeatable; sweep.mode=grid makes the sweep a grid.")
set_option = click.option("--set", "sets", multiple=True, metavar="KEY=V[,V...]", help=SET_HELP)
no_cache_option = click.option(
    "--no-cache", "no_cache", is_flag=True,
    help="Neither read nor write the count cache (per-sample token counts and lint's per-file statistics, kept by "
         "content in $FTSPEC_CACHE_DIR, else $XDG_CACHE_HOME/ftspec, else ~/.cache/ftspec): count everything again.")


def no_cache_if(no_cache: bool) -> None:
    """--no-cache: the count cache is off for this command (and on again after it, for callers in the same process)."""
    if no_cache:
        from ftspec.pipeline import cache

        cache.set_enabled(False)
        click.get_current_context().call_on_close(lambda: cache.set_enabled(True))


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


def loaded_or_exit(spec: str, sets=(), fmt: str = "text"):
    """The spec loaded, with its ``--set`` values: located findings and exit 1 when it does not load; a usage error
    (exit 2) naming the --set that the spec cannot take."""
    from ftspec.plan.planning import NoPlan
    from ftspec.spec.load import load_specs
    from ftspec.spec.sweep import SetError, with_sets

    loaded_specs, findings = load_specs((spec,))
    if not loaded_specs:
        no_plan(NoPlan(f"no plan: {spec} does not load", findings), fmt)
    try:
        return with_sets(loaded_specs[0], sets)
    except SetError as exc:
        raise click.BadParameter(str(exc), param_hint="'--set'") from None


def planned_or_exit(spec: str, fmt: str = "text", loaded=None):
    """The plan of ``spec`` (or of ``loaded``, the spec already loaded with its --set values)."""
    from ftspec.plan.planning import NoPlan, plan_loaded

    try:
        return plan_loaded(loaded if loaded is not None else loaded_or_exit(spec, (), fmt), spec)
    except NoPlan as exc:
        no_plan(exc, fmt)


def sweep_planned_or_exit(loaded, spec: str, fmt: str = "text"):
    from ftspec.plan.planning import NoPlan
    from ftspec.runs.sweep import plan_sweep

    try:
        return plan_sweep(loaded, spec)
    except NoPlan as exc:
        no_plan(exc, fmt)


def echo_warning_count(findings: list, spec: str, members: int = 1) -> None:
    warnings = [f for f in findings if f.severity != "error"]
    if warnings:
        n_warn = sum(f.severity == "warning" for f in warnings)
        across = f" across {members} members" if members > 1 else ""
        click.echo(f"{n_warn} lint warning(s), {len(warnings) - n_warn} info{across}; `ftspec lint {spec}` shows "
                   "them", err=True)


def sweep_text(loaded, planned, spec: str) -> str:
    from ftspec.plan.sweep_views import to_text

    return to_text([pm.plan for pm in planned], loaded.spec.sweep.mode, spec)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `ftspec apply`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--emit", "emit_dir", type=click.Path(file_okay=False),
              help="Also write a launchable run folder here: plan.json, data/, accelerate config, launch.sh, "
                   "job.sbatch (Slurm) and sky.yaml (SkyPilot), for running the job outside `ftspec apply`.")
@set_option
@no_cache_option
def plan(spec: str, out: str | None, fmt: str, emit_dir: str | None, sets: tuple[str, ...], no_cache: bool) -> None:
    """Compile SPEC into a launch plan and preview steps, tokens, memory, time and cost (a sweep: every member)."""
    from ftspec.plan.views import to_json, to_text

    no_cache_if(no_cache)

    loaded = loaded_or_exit(spec, sets, fmt)
    if loaded.spec.sweep is not None and (out or emit_dir):
        raise click.UsageError(f"{'-o' if out else '--emit'} takes one plan, and a sweep has one per member: "
                               f"`ftspec apply {spec}` runs them all (--on slurm: as one job array)")
    if out and sets:
        # A saved plan is checked against its spec file when applied; values from the command line are not in it.
        raise click.UsageError("-o saves the plan of the spec file as written: write the --set values into the spec "
                               "instead")
    if loaded.spec.sweep is not None:
        planned = sweep_planned_or_exit(loaded, spec, fmt)
        if fmt == "json":
            from ftspec.plan.sweep_views import to_json as sweep_json

            sweep = loaded.spec.sweep
            click.echo(sweep_json([pm.plan for pm in planned], sweep.mode, sweep.parameters), nl=False)
        else:
            echo_warning_count([f for pm in planned for f in pm.findings], spec, len(planned))
            click.echo(sweep_text(loaded, planned, spec), nl=False)
        return
    planned = planned_or_exit(spec, fmt, loaded)
    compiled = planned.plan
    if fmt == "json":
        click.echo(to_json(compiled), nl=False)
    else:
        echo_warning_count(planned.findings, spec)
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
