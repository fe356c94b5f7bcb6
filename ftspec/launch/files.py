"""The plan's launch section: what each backend renders for one layout and run folder."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from ftspec.launch import local, skypilot, slurm
from ftspec.launch.layout import Layout


class LaunchFiles(BaseModel):
    """The plan's ``launch`` section: what starts the job, for the run folder it is bound to (``RUN_DIR`` in a plan that
    is not bound to one yet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accelerate_config: str  # YAML, written to <run_dir>/accelerate_config.yaml
    launch_argv: list[str]  # machine rank 0
    launch_line: str  # the argv as one shell line
    sbatch: str
    skypilot: str
    # Set for the launcher (and so its workers); the sbatch script and SkyPilot task set them themselves.
    env: dict[str, str] = Field(default_factory=dict)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def render_launch(layout: Layout, *, run_dir: str, job_name: str, workdir: str = ".",
                  slurm_job: slurm.SlurmJob | None = None) -> LaunchFiles:
    """The accelerate config, launch line, sbatch script and SkyPilot task for ``layout``.

    ``run_dir`` and ``workdir`` are paths as the job will see them (relative to ``workdir``, or absolute).
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", job_name):
        # It goes into #SBATCH and YAML lines unquoted; spec names already match this.
        raise ValueError(f"job name {job_name!r} must be letters, digits, '.', '_' or '-'")
    argv = local.launch_argv(layout, run_dir)
    return LaunchFiles(
        accelerate_config=local.accelerate_config(layout), launch_argv=argv, launch_line=local.launch_line(argv),
        sbatch=slurm.render_script(layout, run_dir=run_dir, job_name=job_name, workdir=workdir, job=slurm_job),
        skypilot=skypilot.render_task(layout, run_dir=run_dir, job_name=job_name, workdir=workdir),
        env=local.env(layout))
