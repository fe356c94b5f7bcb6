"""`ftspec apply --on slurm`: the run folder written here, its whole apply submitted as one Slurm job (the job runs
``ftspec apply RUN_DIR``: ``runs.apply.apply_run_folder``), and, when asked, waited for."""

from __future__ import annotations

import time
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.launch import slurm
from ftspec.plan.identity import run_id, run_root
from ftspec.plan.model import Plan
from ftspec.runfolder import contract
from ftspec.runfolder.checkpoints import fresh_run_dir
from ftspec.runfolder.locks import RunLock
from ftspec.runs.errors import ApplyError
from ftspec.runs.inputs import write_inputs
from ftspec.runs.trust import output_problem, report_problem

# Where a job is over (sacct may not be there; scontrol forgets a job some minutes after it ends).
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE"}


def submit_plan(loaded, plan: Plan, *, force: bool = False, echo=print, lint: list | None = None) -> tuple[Path, str | None]:
    """Write the run folder (as `ftspec apply` would) with its job.sbatch, and sbatch it: (run folder, job id); the job
    id is None when the run is already complete for these inputs."""
    root = run_root(plan)
    problem = output_problem(loaded, root)
    if problem:
        raise ApplyError(problem)
    run_dir = root / run_id(plan)
    if force and (run_dir / contract.REPORT).exists():
        run_dir = fresh_run_dir(root, run_dir.name)
    elif not force and report_problem(plan, run_dir) is None:
        echo(f"nothing to do: {run_dir} is complete for these inputs (use --force to train again)")
        return run_dir, None
    with RunLock(run_dir):  # no local apply writes the folder meanwhile; the job takes the lock itself
        bound = write_inputs(loaded, plan, run_dir, lint)
        script = run_dir / slurm.FILENAME
        write_text_atomic(script, bound.launch.sbatch)
    try:
        job_id = slurm.submit(script)
    except slurm.SlurmError as exc:
        raise ApplyError(str(exc)) from None
    write_text_atomic(run_dir / "slurm_job_id", job_id + "\n")
    echo(f"submitted Slurm job {job_id}: the whole apply of {run_dir} (log: {run_dir}/slurm-{job_id}.out)")
    return run_dir, job_id


def wait_for_job(run_dir: Path, job_id: str, *, echo=print, poll_s: float = 2.0, timeout_s: float | None = None) -> None:
    """Until the job is over; ApplyError unless it left a finished run folder."""
    started = time.monotonic()
    last = None
    while True:
        state = slurm.job_state(job_id)
        if state != last and state is not None:
            echo(f"Slurm job {job_id}: {state}")
            last = state
        if state is None or state in FINAL_STATES:
            break
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise ApplyError(f"Slurm job {job_id} still {state} after {timeout_s:g} s; it goes on without us")
        time.sleep(poll_s)
    if not (run_dir / contract.REPORT).is_file():
        log = run_dir / f"slurm-{job_id}.out"
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:] if log.is_file() else []
        raise ApplyError(f"Slurm job {job_id} ended ({last}) without a report in {run_dir}"
                         + (": " + " | ".join(tail) if tail else ""))
