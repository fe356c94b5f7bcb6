"""A run folder's inputs: everything the trainer reads, recomputed from the same inputs the plan fingerprinted, and
the plan bound to the folder (its launch rendered for it). ``emit_run_folder`` adds every backend's launch file, for
running the job outside ``ftspec apply``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.data.chat_template import read_chat_template
from ftspec.launch import local, skypilot, slurm
from ftspec.launch.files import render_launch
from ftspec.pipeline.prepare import prepare
from ftspec.plan.model import Plan
from ftspec.runfolder import contract
from ftspec.runs.errors import ApplyError


def dump_json(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def write_jsonl(path: Path, records: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def bind(plan: Plan, run_dir: Path) -> Plan:
    """``plan`` with its launch rendered for ``run_dir`` (a plan's own launch names RUN_DIR)."""
    upper = (plan.estimate or {}).get("wall_time_range_hours", [None, None])[1] if plan.wall_time_hours else None
    job = slurm.job_settings(plan.spec.compute.slurm, upper)
    return plan.model_copy(update={"launch": render_launch(plan.layout, run_dir=str(run_dir), job_name=plan.name,
                                                           slurm_job=job)})


def applied_spec_text(loaded, plan: Plan) -> str:
    """The spec as applied: the file's own text, or, for a sweep member or a spec changed by ``--set``, its settings
    as they were applied (the file's text would name every member's values, or none)."""
    import yaml

    from ftspec.spec.load import SpecErrors, load_spec

    text = Path(plan.spec_file).read_text(encoding="utf-8")
    try:
        unchanged = load_spec(plan.spec_file).raw == loaded.raw
    except SpecErrors:
        unchanged = False
    if unchanged:
        return text
    what = f"member {plan.sweep.index + 1} of {plan.sweep.of} of its sweep" if plan.sweep else "with --set overrides"
    return (f"# {Path(plan.spec_file).name}, {what}: the settings this run applied\n"
            + yaml.safe_dump(loaded.raw, sort_keys=False, allow_unicode=True))


def write_inputs(loaded, plan: Plan, run_dir: Path, lint: list | None = None) -> Plan:
    """Write spec.yaml, the bound plan.json, the accelerate config and the data; returns the bound plan, whose launch
    is what runs."""
    prepared = prepare(loaded, render_date=plan.job.render_date)
    if prepared.rows != plan.data.rows:
        raise ApplyError(f"the data pipeline produced {prepared.rows} rows but the plan counted {plan.data.rows}")
    bound = bind(plan, run_dir)
    write_text_atomic(run_dir / contract.SPEC, applied_spec_text(loaded, plan))
    write_text_atomic(run_dir / contract.PLAN, dump_json(bound.model_dump(mode="json")))
    write_text_atomic(run_dir / contract.ACCELERATE_CONFIG, bound.launch.accelerate_config)
    if lint is not None:  # for the report of a run finished elsewhere (a cluster job)
        write_text_atomic(run_dir / contract.LINT, dump_json([f.to_dict() for f in lint]))
    write_jsonl(run_dir / contract.TRAIN_DATA, prepared.train)
    if prepared.validation:
        write_jsonl(run_dir / contract.VALIDATION_DATA, prepared.validation)
    if prepared.holdout:
        write_jsonl(run_dir / contract.HOLDOUT_DATA, prepared.holdout)
    if plan.job.chat_template:  # data.chat_template, for the trainer, evaluation and export
        write_text_atomic(run_dir / plan.job.chat_template, read_chat_template(loaded))
    if plan.job.training_chat_template:
        if prepared.training_template is None:
            raise ApplyError("the plan trains with a derived training template, but the data pipeline derived none "
                             "now (the chat template changed?); run `ftspec plan` again")
        write_text_atomic(run_dir / plan.job.training_chat_template, prepared.training_template)
    return bound


def emit_run_folder(loaded, plan: Plan, folder: Path, lint: list | None = None) -> Path:
    """A run folder with everything a launcher needs, for Slurm, SkyPilot or a shell (no training here)."""
    folder = folder.resolve()
    bound = write_inputs(loaded, plan, folder, lint)
    write_text_atomic(folder / local.FILENAME, local.script(bound.launch.launch_line, bound.launch.env))
    write_text_atomic(folder / slurm.FILENAME, bound.launch.sbatch)
    # SkyPilot syncs the working directory to each node: there the run folder must be a relative path.
    relative = os.path.relpath(folder)
    task = bound.launch.skypilot if relative.startswith("..") else skypilot.render_task(
        plan.layout, run_dir=relative, job_name=plan.name)
    write_text_atomic(folder / skypilot.FILENAME, task)
    return folder
