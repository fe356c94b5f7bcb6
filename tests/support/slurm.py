"""A real one-host Slurm cluster in a temp folder (Debian's slurm-wlm and munge): munged, slurmctld and one slurmd
on localhost, on free ports, configured by a slurm.conf in the folder (SLURM_CONF). Started as root, with no
cgroups (proctrack/linuxproc, task/none); stopped, daemons and all, when the tests are done."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from support import free_port

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo")


def why_not() -> str | None:
    """Why a local Slurm cannot start here (None when it can)."""
    if os.geteuid() != 0:
        return "a local Slurm needs root (slurmd runs jobs as their users); `.ci/run` runs as root"
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge; `.ci/run` does)"
    return None


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self) -> "Cluster":
        f = self.folder
        for sub in ("state", "spool", "log"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        (f / "munge.key").write_bytes(os.urandom(1024))
        (f / "munge.key").chmod(0o600)
        subprocess.run(["munged", "--force", f"--key-file={f / 'munge.key'}", f"--socket={f / 'munge.sock'}",
                        f"--pid-file={f / 'munged.pid'}", f"--log-file={f / 'log' / 'munged.log'}",
                        f"--seed-file={f / 'munged.seed'}"], check=True, capture_output=True)
        self.conf.write_text(f"""ClusterName=ftspec
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={f / 'munge.sock'}
CredType=cred/munge
StateSaveLocation={f / 'state'}
SlurmdSpoolDir={f / 'spool'}
SlurmctldPidFile={f / 'slurmctld.pid'}
SlurmdPidFile={f / 'slurmd.pid'}
SlurmctldLogFile={f / 'log' / 'slurmctld.log'}
SlurmdLogFile={f / 'log' / 'slurmd.log'}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobRequeue=1
NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        subprocess.run(["slurmctld", "-c"], check=True, env=self.env, capture_output=True)
        subprocess.run(["slurmd", "-N", "localhost"], check=True, env=self.env, capture_output=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True).stdout
            if out.strip() == "idle":
                return self
            time.sleep(0.3)
        raise RuntimeError(f"the local Slurm did not come up: {self.log_tail()}")

    def log_tail(self) -> str:
        logs = self.folder / "log"
        return " | ".join(p.name + ": " + p.read_text(errors="replace")[-400:] for p in logs.glob("*.log"))

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        self.run("scancel", "--user=root")
        for name in ("slurmd", "slurmctld", "munged"):
            pid_file = self.folder / f"{name}.pid"
            try:
                pid = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):  # until it is gone (its pid file may stay behind)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
