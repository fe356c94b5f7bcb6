"""`ftspec apply`: execute exactly a plan, in its run folder, then evaluate and report.

Stages, each leaving the folder consistent if the process dies between them (file names: ``ftspec.runfolder``):
  1. inputs: spec copy, the plan bound to the folder, accelerate config, prepared data (atomic writes);
  2. training: the bound plan's own launch (resumes from the newest complete checkpoint);
  3. evaluation: base vs fine-tuned on the holdout, per-sample outputs saved;
  4. report.json, report.html and the model card; report.json last, as the "done" marker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ftspec.core.atomic import clean_temp_files
from ftspec.core.findings import Finding
from ftspec.evaluate.holdout import preload, weights_dir
from ftspec.plan.identity import run_id, run_root
from ftspec.plan.model import Plan
from ftspec.report.build import build_report, write_report
from ftspec.report.tracking import log_to_trackers
from ftspec.runfolder import contract
from ftspec.runfolder.checkpoints import fresh_run_dir, trusted_checkpoint
from ftspec.runfolder.locks import RunLock, trainer_alive
from ftspec.runs.errors import ApplyError
from ftspec.runs.inputs import write_inputs
from ftspec.runs.select import evaluate_and_select
from ftspec.runs.training import run_training
from ftspec.runs.trust import output_problem, report_problem, trained_result


TRAINER_EXIT_WAIT_S = 60  # a dying trainer's grace (FTSPEC_TRAINER_EXIT_WAIT overrides)


def apply_plan(loaded, plan: Plan, *, force: bool = False, echo=print, lint: list | None = None) -> Path:
    """Run ``plan`` to completion (or pick up where an interrupted run stopped); returns the run folder.
    ApplyError (with the exit code to leave with) or RunLocked when it cannot."""
    root = run_root(plan)
    problem = output_problem(loaded, root)
    if problem:
        raise ApplyError(problem)
    run_dir = root / run_id(plan)
    try:
        return _apply_in(loaded, plan, run_dir, root, force=force, echo=echo, lint=lint)
    except OSError as exc:  # a full disk, a read-only folder: one line; what was written atomically stays good
        import errno

        what = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        where = f" ({exc.filename})" if exc.filename else ""
        raise ApplyError(f"cannot write the run folder {run_dir}: {what}{where}; fix that and rerun "
                         "`ftspec apply` (finished stages are kept, half-written files are not used)") from None


def _nothing_to_do(run_dir: Path, echo) -> Path:
    echo(f"nothing to do: {run_dir} is complete for these inputs (use --force to train again)")
    return run_dir


def _apply_in(loaded, plan: Plan, run_dir: Path, root: Path, *, force: bool, echo, lint) -> Path:
    if force and (run_dir / contract.REPORT).exists():
        run_dir = fresh_run_dir(root, run_dir.name)
    elif not force and report_problem(plan, run_dir) is None:
        return _nothing_to_do(run_dir, echo)
    with RunLock(run_dir):
        if _set_aside_report(plan, run_dir, force, echo):
            return _nothing_to_do(run_dir, echo)
        result = trained_result(run_dir, echo)
        bound = write_inputs(loaded, plan, run_dir)
        return _train_evaluate_report(bound, run_dir, result, echo, lint)


def apply_run_folder(run_dir: Path, *, echo=print) -> Path:
    """Finish a run folder whose inputs are written (by ``ftspec apply --on slurm`` or ``ftspec plan --emit``):
    train, or resume from its newest complete checkpoint, then evaluate and report, exactly as its bound plan.json
    says. What a cluster job runs: a requeued job resumes, a finished folder is left as it is."""
    plan = read_bound_plan(run_dir)
    if report_problem(plan, run_dir) is None:
        return _nothing_to_do(run_dir, echo)
    with RunLock(run_dir):
        if _set_aside_report(plan, run_dir, False, echo):
            return _nothing_to_do(run_dir, echo)
        findings = contract.read_json(run_dir / contract.LINT)
        return _train_evaluate_report(plan, run_dir, trained_result(run_dir, echo), echo,
                                      [Finding.from_dict(f) for f in findings] if isinstance(findings, list) else None)


def read_bound_plan(run_dir: Path) -> Plan:
    from pydantic import ValidationError

    try:
        return Plan.model_validate(contract.read_json(run_dir / contract.PLAN))
    except (ValidationError, TypeError, ValueError):
        raise ApplyError(f"{run_dir / contract.PLAN}: not a plan written by this ftspec (is {run_dir} a run folder?)",
                         contract.EXIT_USAGE) from None


def _set_aside_report(plan: Plan, run_dir: Path, force: bool, echo) -> bool:
    """Under the run lock: wait for a dying trainer, clean up, and set aside a report that no longer holds. True when
    the folder is complete after all (another apply finished it meanwhile)."""
    wait_for_trainer_exit(run_dir, echo)
    clean_temp_files(run_dir)
    if (run_dir / contract.REPORT).exists():
        why = report_problem(plan, run_dir)
        if why is None and not force:
            return True
        echo(f"{run_dir} is not complete: {why}")
        os.replace(run_dir / contract.REPORT, run_dir / contract.STALE_REPORT)
    return False


def wait_for_trainer_exit(run_dir: Path, echo, timeout: float | None = None) -> None:
    """A trainer that still holds its lock while this apply holds the run lock belongs to an apply that is gone
    (killed, or a Slurm job requeued): it dies with its launcher, but can take a while on a loaded machine. Wait for
    it, bounded, saying so; ApplyError if it outlives the wait."""
    alive = trainer_alive(run_dir)
    if not alive:
        return
    timeout = float(os.environ.get("FTSPEC_TRAINER_EXIT_WAIT", TRAINER_EXIT_WAIT_S)) if timeout is None else timeout
    echo(f"{alive.split(';')[0]}, left by an apply that is gone: waiting up to {timeout:g} s for it to exit")
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = trainer_alive(run_dir)
    if alive:
        raise ApplyError(f"{alive} (waited {timeout:g} s)")
    echo("the earlier trainer has exited: going on")


def parent_run(plan: Plan, echo):
    """The run this one trained on (model.base: run:<name>), read again for its scores; None when there is none or it
    is no longer usable (then said)."""
    from ftspec.runfolder.parent import ParentError, find_parent

    entry = plan.fingerprint.model.parent
    if not entry:
        return None
    try:
        parent = find_parent(entry["folder"], Path("."), Path("."))
    except ParentError as exc:
        echo(f"the parent run is not evaluated beside this one: {exc}")
        return None
    if parent.digest != entry.get("weights_sha256"):
        echo(f"the parent run {parent.folder} changed since this run was planned: not evaluated beside it")
        return None
    return parent


def _train_evaluate_report(bound: Plan, run_dir: Path, result: dict | None, echo, lint) -> Path:
    if result is None:
        checkpoint = trusted_checkpoint(run_dir, echo)
        echo(f"resuming {run_dir} from {checkpoint.name}" if checkpoint else f"run folder: {run_dir}")
        run_training(bound, run_dir, resume=checkpoint is not None,
                     while_training=preload if bound.spec.eval.holdout else None)
        result = contract.read_json(run_dir / contract.TRAIN_RESULT)
    else:
        echo(f"re-evaluating the finished weights in {run_dir}")
    if result["global_step"] != bound.optimizer_steps:
        raise ApplyError(f"the trainer ran {result['global_step']} optimizer steps but the plan says "
                         f"{bound.optimizer_steps}", contract.EXIT_STEP_MISMATCH)
    evaluation, result = evaluate_and_select(bound, run_dir, result, parent_run(bound, echo), echo=echo)
    weights = weights_dir(bound, run_dir)
    report = build_report(bound, run_dir, weights, result, evaluation, lint)
    write_report(bound, run_dir, weights, report)
    log_to_trackers(bound, run_dir, report, echo=echo)
    return run_dir
