"""The Slurm launch backend: an sbatch script that starts one accelerate launcher per node (``srun``), the head
node's address taken from the allocation."""

from __future__ import annotations

import shlex

from ftspec.core.templating import render
from ftspec.launch import local
from ftspec.launch.layout import Layout

NAME = "slurm"
FILENAME = "job.sbatch"


def render_script(layout: Layout, *, run_dir: str, job_name: str, workdir: str = ".") -> str:
    return render("launch/sbatch.sh.j2", layout=layout, job_name=job_name, run_dir=run_dir, workdir=workdir,
                  multi_node=layout.nodes > 1, q=shlex.quote, env=local.env(layout),
                  launch_line=local.launch_line(local.launch_argv(layout, run_dir)),
                  srun_command=local.per_node_line(run_dir, "SLURM_NODEID", "MAIN_PROCESS_IP"))
