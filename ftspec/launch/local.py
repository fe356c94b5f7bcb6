"""The local launch backend: accelerate on the machines at hand. It renders the accelerate config, the
``accelerate launch`` line (and ``launch.sh``), and runs that line for ``ftspec apply``: in its own process group,
tied to apply's life, so Ctrl-C or a killed apply never leaves a trainer behind.

The key names in the accelerate config are those of accelerate 1.x's ``ClusterConfig`` and ``accelerate launch``
(checked against the installed accelerate in tests/test_launch.py).
"""

from __future__ import annotations

import os
import posixpath
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ftspec.core.templating import render
from ftspec.launch.layout import Layout
from ftspec.runfolder.contract import ACCELERATE_CONFIG

NAME = "local"
FILENAME = "launch.sh"
TRAIN_MODULE = "ftspec.train"
# Stands in for the head node's address in the launch line of a multi-node job whose spec names none;
# the sbatch script and the SkyPilot task fill it in themselves.
MAIN_IP_PLACEHOLDER = "$MAIN_PROCESS_IP"
_DISTRIBUTED_TEMPLATE = {"none": "none", "ddp": "ddp", "fsdp": "fsdp", "zero2": "deepspeed", "zero3": "deepspeed"}


class LaunchError(Exception):
    """The launcher cannot start, or was stopped; ``code`` is the exit code apply passes on."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.message, self.code = message, code


def accelerate_config(layout: Layout) -> str:
    return render(f"launch/accelerate_{_DISTRIBUTED_TEMPLATE[layout.distributed]}.yaml.j2", layout=layout,
                  zero_stage=3 if layout.distributed == "zero3" else 2)


def env(layout: Layout) -> dict[str, str]:
    """Set for the launcher (and so its workers)."""
    # torchrun's workers do not learn from accelerate that they are meant for the CPU (see accelerate_ddp.yaml.j2).
    return {"ACCELERATE_USE_CPU": "true"} if layout.on_cpu else {}


def _head_and_tail(run_dir: str) -> tuple[list[str], list[str]]:
    return (["accelerate", "launch", "--config_file", posixpath.join(run_dir, ACCELERATE_CONFIG)],
            ["-m", TRAIN_MODULE, run_dir])


def launch_argv(layout: Layout, run_dir: str) -> list[str]:
    """The launch line of machine rank 0."""
    head, tail = _head_and_tail(run_dir)
    argv = list(head)
    if layout.nodes > 1:
        argv += ["--machine_rank", "0", "--main_process_ip", layout.main_process_ip or MAIN_IP_PLACEHOLDER]
    return argv + tail


def launch_line(argv: list[str]) -> str:
    # shlex.join, but the placeholder double-quoted so that the shell fills it in.
    return " ".join(f'"{a}"' if a == MAIN_IP_PLACEHOLDER else shlex.quote(a) for a in argv)


def per_node_line(run_dir: str, rank_var: str, ip_var: str) -> str:
    """The launch line a scheduler runs once per node: each launcher gets its own rank, the head's address
    comes from the scheduler."""
    head, tail = _head_and_tail(run_dir)
    return f'{shlex.join(head)} --machine_rank "${rank_var}" --main_process_ip "${ip_var}" {shlex.join(tail)}'


def script(line: str, environment: dict[str, str]) -> str:
    """launch.sh of an emitted run folder."""
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in environment.items())
    return f"#!/usr/bin/env bash\nset -euo pipefail\n{exports}{line}\n"


# --- running it ---------------------------------------------------------------------------------------------------


def runnable_argv(argv: list[str], *, cpu_threads: int | None = None) -> list[str]:
    """The plan's launch argv as apply runs it: ``accelerate`` from this interpreter's environment, ``--quiet`` (a
    trainer that dies, say killed by the OOM killer, is then apply's one line, not accelerate's CalledProcessError
    traceback), and on the CPU the threads per process passed explicitly (so accelerate does not print its "values
    were not passed" warning). Nothing else about the launch changes."""
    if not argv or argv[0] != "accelerate":
        return argv
    if argv[1:2] == ["launch"]:
        extra = [] if "--quiet" in argv else ["--quiet"]
        if cpu_threads:
            extra += ["--num_cpu_threads_per_process", str(cpu_threads)]
        argv = [argv[0], "launch", *extra, *argv[2:]]
    exe = Path(sys.executable).with_name("accelerate")
    if exe.exists():
        return [str(exe), *argv[1:]]
    if shutil.which("accelerate"):
        return argv
    raise LaunchError("accelerate is not installed: pip install 'ftspec[train]'", 2)


def cpu_threads(processes_per_node: int, chosen: int | None = None) -> int:
    """Threads per CPU worker: the spec's compute.cpu_threads, else what accelerate would pick (OMP_NUM_THREADS,
    else physical cores per process)."""
    if chosen:
        return chosen
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    import psutil

    return max(1, int((psutil.cpu_count(logical=False) or 1) / max(1, processes_per_node)))


def _die_with_parent() -> None:  # runs in the forked child, before exec
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def run(argv: list[str], environment: dict[str, str]) -> int:
    """Run the launcher in its own process group, tied to this process: Ctrl-C or SIGTERM here stops the
    whole group cleanly (no tracebacks from the trainer or accelerate) and raises LaunchError (code 130); if this
    process is killed outright, the launcher gets SIGTERM from the kernel and the trainer follows its launcher.
    Returns the launcher's exit code."""
    import signal

    proc = subprocess.Popen(argv, env=environment, start_new_session=True, preexec_fn=_die_with_parent)
    stopping: list[int] = []

    def forward(signum, frame):
        stopping.append(signum)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = proc.wait(timeout=60 if stopping else None)
                break
            except subprocess.TimeoutExpired:  # the group did not stop within a minute of SIGTERM
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping:
        name = "Ctrl-C" if stopping[0] == signal.SIGINT else "SIGTERM"
        raise LaunchError(f"interrupted ({name}): training stopped; rerun `ftspec apply` to resume from the newest "
                          "complete checkpoint", 130)
    return code
