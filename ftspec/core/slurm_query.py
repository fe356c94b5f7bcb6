"""What the Slurm controller says about the cluster, when there is one (``sinfo``): lint and plan check a job
against it before it is submitted."""

from __future__ import annotations

import shutil
import subprocess


def partition_nodes(partition: str | None) -> int | None:
    """Nodes in ``partition`` (the default one when None), from sinfo; None when sinfo cannot tell."""
    if shutil.which("sinfo") is None:
        return None
    args = ["sinfo", "-h", "-o", "%D %P"] + (["-p", partition] if partition else [])
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [line.split() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not rows:
        return None
    if partition is None:  # the default partition is marked with a '*'
        rows = [r for r in rows if r[-1].endswith("*")] or rows[:1]
    return sum(int(r[0]) for r in rows if r[0].isdigit()) or None
