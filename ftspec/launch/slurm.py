"""The Slurm launch backend: a job that is a whole `ftspec apply` of one run folder. It trains across its nodes (one
``srun`` task per node starting accelerate with that node's machine rank, the head node taken from the allocation),
then evaluates and writes the report, so the cluster leaves the same finished run folder a local apply leaves.
It runs the Python environment that planned it; it is requeue-safe (a requeued job resumes from the newest complete
checkpoint) and its time limit comes from the plan's wall-time estimate. A sweep's run folders go as one job array
(``array_script``), a task each."""

from __future__ import annotations

import math
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ftspec.core.templating import render
from ftspec.launch import local
from ftspec.launch.layout import Layout

NAME = "slurm"
FILENAME = "job.sbatch"
TIME_MARGIN, TIME_SLACK_MIN = 2.0, 15  # the estimate's upper band doubled, plus start-up and evaluation


@dataclass(frozen=True)
class SlurmJob:
    """What the job asks of the scheduler beyond the layout (``compute.slurm``) and the Python that runs it."""

    minutes: int | None = None  # --time; None: no estimate and none given
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    extra: tuple[str, ...] = field(default=())
    python: str = sys.executable


def time_limit(upper_hours: float | None) -> int | None:
    """Default --time in minutes for an estimate whose upper band is ``upper_hours``."""
    if upper_hours is None:
        return None
    return math.ceil(upper_hours * 60 * TIME_MARGIN) + TIME_SLACK_MIN


def job_settings(section, upper_hours: float | None) -> SlurmJob:
    """``section``: the spec's compute.slurm (or None); ``upper_hours``: the plan's wall-time estimate, upper band."""
    from ftspec.spec.schema import slurm_minutes

    if section is None:
        return SlurmJob(minutes=time_limit(upper_hours))
    minutes = slurm_minutes(section.time) if section.time is not None else time_limit(upper_hours)
    return SlurmJob(minutes, section.partition, section.account, section.qos, tuple(section.extra))


def sbatch_time(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00" if days else f"{rest // 60:02d}:{rest % 60:02d}:00"


def render_script(layout: Layout, *, run_dir: str, job_name: str, workdir: str = ".", job: SlurmJob | None = None) -> str:
    job = job or SlurmJob()
    return render("launch/sbatch.sh.j2", layout=layout, job_name=job_name, run_dir=run_dir, workdir=workdir,
                  q=shlex.quote, env=local.env(layout), job=job,
                  time=sbatch_time(job.minutes) if job.minutes else None,
                  apply_line=shlex.join([job.python, "-m", "ftspec.cli", "apply", run_dir]))


def training_argv(layout: Layout, run_dir: str, *, cpu_threads: int | None = None) -> list[str]:
    """Inside a Slurm allocation of several nodes: one srun task per node, each starting accelerate with its node's
    machine rank; machine rank 0 is the allocation's first host."""
    accelerate = local.runnable_argv(["accelerate", "launch"], cpu_threads=cpu_threads)
    node_line = local.per_node_line(run_dir, "SLURM_NODEID", "MAIN_PROCESS_IP").replace(
        "accelerate launch", shlex.join(accelerate), 1)
    # sed, not head: head would close the pipe early, and the SIGPIPE fails the line under pipefail.
    head = 'MAIN_PROCESS_IP=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p); export MAIN_PROCESS_IP; '
    return ["srun", f"--nodes={layout.nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "bash", "-c",
            head + node_line]


class SlurmError(Exception):
    """sbatch is missing or refused the job (the message says which)."""


# What may differ between the jobs of one array: the array sets its own name, log and time limit (the longest).
ARRAY_OWN = ("#SBATCH --job-name=", "#SBATCH --output=", "#SBATCH --time=")


def _parts(script: str) -> tuple[list[str], list[str], str]:
    """A job script rendered by ``render_script``: its #SBATCH lines, the lines that set up the environment, and the
    last line, the ``exec`` of the apply."""
    lines = script.rstrip("\n").split("\n")
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    return [line for line in lines if line.startswith("#SBATCH ")], body[:-1], body[-1]


def array_script(scripts: list[str], run_dirs: list[str], *, job_name: str, log_dir: str) -> str:
    """One job array for the run folders whose own job scripts are ``scripts``: task i does exactly what
    ``scripts[i]`` does (``exec python -m ftspec.cli apply run_dirs[i]``), logging to its run folder. The jobs must ask
    for the same resources and environment; the array's time limit is the longest of theirs."""
    from ftspec.spec.schema import slurm_minutes

    parts = [_parts(s) for s in scripts]
    shared = [[h for h in headers if not h.startswith(ARRAY_OWN)] for headers, _, _ in parts]
    if any(h != shared[0] for h in shared) or any(body != parts[0][1] for _, body, _ in parts):
        raise SlurmError("the sweep's members ask Slurm for different resources (nodes, GPUs, partition...) or "
                         "environments: one job array holds one kind of task; apply them locally, or sweep settings "
                         "that keep the layout")
    times = [h.split("=", 1)[1] for headers, _, _ in parts for h in headers if h.startswith("#SBATCH --time=")]
    lines = ["#!/bin/bash",
             "# Slurm job array written by ftspec for a sweep: task i is the whole `ftspec apply` of run folder i (the",
             "# `case` below), logging to <run folder>/slurm-JOB_TASK.out; a requeued task resumes from its newest",
             "# complete checkpoint, a finished one is left as it is.",
             f"#SBATCH --job-name={job_name}", f"#SBATCH --array=0-{len(scripts) - 1}"]
    lines += shared[0]
    if len(times) == len(parts):  # else some member has no estimate: the partition's own limit, as for that job
        lines.append(f"#SBATCH --time={sbatch_time(max(slurm_minutes(t) for t in times))}")
    lines.append(f"#SBATCH --output={shlex.quote(log_dir + '/slurm-%A_%a.out')}")
    lines += parts[0][1]
    lines.append('case "${SLURM_ARRAY_TASK_ID:-}" in')
    for task, (run_dir, (_, _, apply_line)) in enumerate(zip(run_dirs, parts)):
        log = shlex.quote(run_dir) + '/slurm-"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}".out'
        lines.append(f"  {task}) exec >>{log} 2>&1; {apply_line} ;;")
    lines.append('  *) echo "ftspec: this array has no task ${SLURM_ARRAY_TASK_ID:-(none)}" >&2; exit 2 ;;')
    lines.append("esac")
    return "\n".join(lines) + "\n"


def submit(script: Path) -> str:
    """``sbatch`` the job script; its job id."""
    if shutil.which("sbatch") is None:
        raise SlurmError("sbatch is not on the PATH: run on a Slurm login node, or load its module")
    done = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SlurmError(f"sbatch refused the job: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip().split(";")[0]


def job_state(job_id: str) -> str | None:
    """The job's state (PENDING, RUNNING, COMPLETED, ...), None once the controller has forgotten it."""
    done = subprocess.run(["scontrol", "show", "job", job_id, "-o"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return None
    for part in done.stdout.split():
        if part.startswith("JobState="):
            return part.split("=", 1)[1]
    return None
