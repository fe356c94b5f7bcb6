"""Run folders: where a run lives, what state it is in, and the lock that keeps two applies apart.

``runs/<name>/<run-id>/`` where the run id is a digest of the plan's inputs and job, so applying an
unchanged spec finds its finished run (nothing to do) or its interrupted one (resume).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

REPORT = "report.json"
TRAIN_RESULT = "train_result.json"
LOCK = ".lock"


class RunLocked(Exception):
    pass


def run_id(plan) -> str:
    fp = {k: v for k, v in plan.fingerprint.items() if k != "spec_file"}
    digest = hashlib.sha256(json.dumps({"fingerprint": fp, "job": plan.job}, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def run_root(plan) -> Path:
    spec_dir = Path(plan.spec_file).resolve().parent
    out = Path(plan.spec["output"]["dir"]).expanduser()
    return (out if out.is_absolute() else spec_dir / out) / plan.name


def fresh_run_dir(root: Path, rid: str) -> Path:
    """The first ``<rid>-<n>`` that does not exist yet (for --force)."""
    n = 2
    while (root / f"{rid}-{n}").exists():
        n += 1
    return root / f"{rid}-{n}"


@dataclass
class RunState:
    completed: bool  # report.json written
    trained: bool  # train_result.json says the training finished
    has_checkpoint: bool  # a complete checkpoint to resume from

    @property
    def empty(self) -> bool:
        return not (self.completed or self.trained or self.has_checkpoint)


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints a crash did not cut short, oldest first: the Trainer writes trainer_state.json last, so a
    checkpoint counts only when that file reads as JSON."""
    found = []
    folder = run_dir / "checkpoints"
    for path in folder.glob("checkpoint-*") if folder.is_dir() else ():
        try:
            step = int(path.name.split("-", 1)[1])
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue  # not a step number, or half-written by a killed run
        found.append((step, path))
    return [path for _, path in sorted(found)]


def state(run_dir: Path) -> RunState:
    trained = False
    result = run_dir / TRAIN_RESULT
    if result.is_file():
        try:
            trained = json.loads(result.read_text()).get("stopped") == "completed"
        except ValueError:
            trained = False
    return RunState((run_dir / REPORT).is_file(), trained, bool(complete_checkpoints(run_dir)))


class RunLock:
    """An exclusive flock on <run>/.lock, released when the process exits, however it exits."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                holder = self.path.read_text().strip() or "unknown"
                raise RunLocked(f"another `ftspec apply` is working on {self.path.parent} (pid {holder})") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
