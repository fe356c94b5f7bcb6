"""Locks on a run folder, released when the process exits however it exits: one applier, and one trainer, at a time."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from ftspec.runfolder.contract import LOCK, TRAINER_LOCK


class RunLocked(Exception):
    pass


class RunLock:
    """An exclusive flock on <run>/.lock, released when the process exits, however it exits.

    ``TrainerLock`` is the same on <run>/.trainer.lock, taken by the training process: apply refuses to
    start a trainer while another one of the same run still lives (say, after apply itself was killed)."""

    name = LOCK
    holder = "another `ftspec apply`"

    def __init__(self, run_dir: Path):
        self.path = run_dir / self.name
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                pid = self.path.read_text().strip() or "unknown"
                raise RunLocked(f"{self.holder} is working on {self.path.parent} (pid {pid}); wait for it to "
                                f"finish or stop it, then rerun") from None
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


class TrainerLock(RunLock):
    name = TRAINER_LOCK
    holder = "a trainer of this run"


def trainer_alive(run_dir: Path) -> str | None:
    """A message when a training process of this run still holds its lock, else None."""
    try:
        with TrainerLock(run_dir):
            return None
    except RunLocked as exc:
        return str(exc)
