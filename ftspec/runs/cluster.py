"""`ftspec apply --on slurm`: the run folder written here, its whole apply submitted as one Slurm job (the job runs
``ftspec apply RUN_DIR``: ``runs.apply.apply_run_folder``), and, when asked, waited for. A sweep's run folders go as
one job array, a task per folder."""

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
JOB_ID = "slurm_job_id"  # in a run folder: the job (JOB, or JOB_TASK of an array) that applies it
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE"}


def write_job_folder(loaded, plan: Plan, *, force: bool = False, echo=print, lint: list | None = None
                     ) -> tuple[Path, Plan | None]:
    """Write the run folder (as `ftspec apply` would) with its job.sbatch: (run folder, the plan bound to it); the
    bound plan is None when the run is already complete for these inputs (nothing to submit)."""
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
        write_text_atomic(run_dir / slurm.FILENAME, bound.launch.sbatch)
    return run_dir, bound


def submit_plan(loaded, plan: Plan, *, force: bool = False, echo=print, lint: list | None = None) -> tuple[Path, str | None]:
    """Write the run folder with its job.sbatch, and sbatch it: (run folder, job id); the job id is None when the run
    is already complete for these inputs."""
    run_dir, bound = write_job_folder(loaded, plan, force=force, echo=echo, lint=lint)
    if bound is None:
        return run_dir, None
    try:
        job_id = slurm.submit(run_dir / slurm.FILENAME)
    except slurm.SlurmError as exc:
        raise ApplyError(str(exc)) from None
    write_text_atomic(run_dir / JOB_ID, job_id + "\n")
    echo(f"submitted Slurm job {job_id}: the whole apply of {run_dir} (log: {run_dir}/slurm-{job_id}.out)")
    return run_dir, job_id


def submit_array(folders: list[tuple[Path, Plan]], *, sweep_dir: Path, job_name: str, echo=print) -> str:
    """Submit written run folders (each with its bound plan) as one Slurm job array, task i applying folders[i]; its
    script and the array's own log go to ``sweep_dir``. The array's job id; each task is JOB_i, logging into its run
    folder as slurm-JOB_i.out."""
    try:
        script = slurm.array_script([bound.launch.sbatch for _, bound in folders], [str(d) for d, _ in folders],
                                    job_name=job_name, log_dir=str(sweep_dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(sweep_dir / slurm.FILENAME, script)
        job_id = slurm.submit(sweep_dir / slurm.FILENAME)
    except slurm.SlurmError as exc:
        raise ApplyError(str(exc)) from None
    for task, (run_dir, _) in enumerate(folders):
        write_text_atomic(run_dir / JOB_ID, f"{job_id}_{task}\n")
    echo(f"submitted Slurm job array {job_id} ({len(folders)} task(s), one per run folder; each logs to its "
         f"<run folder>/slurm-{job_id}_<task>.out)")
    return job_id


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
