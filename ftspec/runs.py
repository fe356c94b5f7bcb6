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
TRAINER_LOCK = ".trainer.lock"  # held by the training process itself, for as long as it lives
MANIFEST = "ftspec-manifest.json"  # sha256 of every file of a checkpoint, written right after it
QUARANTINE_PREFIX = "corrupt-"  # checkpoints that failed verification are moved aside under this name

# Spec sections that cannot change the trained weights: editing them re-evaluates a finished run
# instead of training it again.
NOT_TRAINING = ("eval", "lint", "description", "output")


class RunLocked(Exception):
    pass


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def training_inputs(plan) -> dict:
    """What the trained weights depend on: the spec without its evaluation (and other non-training)
    settings, the training data, the model, library versions, seed and the job."""
    fp = plan.fingerprint
    spec = {k: v for k, v in plan.spec.items() if k not in NOT_TRAINING}
    spec["compute"] = {k: v for k, v in (spec.get("compute") or {}).items() if k != "price_per_gpu_hour"}
    holdout = (plan.spec.get("eval") or {}).get("holdout")
    training_data = {name for name in (plan.spec["data"]["train"], plan.spec["data"].get("validation"),
                                       *(m["path"] for m in plan.spec["data"].get("mix") or [])) if isinstance(name, str)}
    data = {k: v for k, v in fp.get("data", {}).items() if k != holdout or k in training_data}
    return {"spec": spec, "data": data, "model": fp.get("model"), "versions": fp.get("versions"),
            "seed": fp.get("seed"), "job": plan.job}


def run_id(plan) -> str:
    return _digest(training_inputs(plan))[:12]


def eval_digest(plan) -> str:
    """What the evaluation depends on beyond the weights: the eval settings and the holdout file."""
    ev = plan.spec.get("eval") or {}
    return _digest({"eval": ev, "holdout": plan.fingerprint.get("data", {}).get(ev.get("holdout")),
                    "system_prompt": plan.spec["data"].get("system_prompt")})


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
    """Checkpoints a crash did not cut short, oldest first: the Trainer writes trainer_state.json last and
    ftspec its manifest right after, so a checkpoint counts only when both read as JSON. (Whether its files
    still match the manifest is ``verify_checkpoint``'s question: it reads every byte.)"""
    found = []
    folder = run_dir / "checkpoints"
    for path in folder.glob("checkpoint-*") if folder.is_dir() else ():
        try:
            step = int(path.name.split("-", 1)[1])
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
            json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue  # not a step number, or half-written by a killed run
        found.append((step, path))
    return [path for _, path in sorted(found)]


def file_hashes(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative paths), the manifest and ``skip`` left out."""
    from ftspec.plan.fingerprint import sha256_file

    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST and p.relative_to(folder).as_posix() not in skip}


# The model card in a weights folder is rewritten with every report: not part of what is verified.
MODEL_CARD = "README.md"


def weights_hashes(folder: Path) -> dict[str, str]:
    return file_hashes(folder, skip=(MODEL_CARD,))


def write_manifest(checkpoint: Path) -> None:
    from ftspec.core.atomic import write_text_atomic

    write_text_atomic(checkpoint / MANIFEST, json.dumps({"sha256": file_hashes(checkpoint)}, indent=2) + "\n")


def hashes_problem(folder: Path, recorded: dict) -> str | None:
    """None when every recorded file is there with its recorded sha256; else what differs."""
    from ftspec.plan.fingerprint import sha256_file

    if not isinstance(recorded, dict) or not recorded:
        return "no file hashes were recorded"
    for name, digest in sorted(recorded.items()):
        path = folder / name
        try:
            if not path.is_file():
                return f"{name} is missing"
            if sha256_file(path) != digest:
                return f"{name} does not match its recorded sha256 (changed or damaged since it was written)"
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror})"
    return None


def verify_checkpoint(checkpoint: Path) -> str | None:
    try:
        recorded = json.loads((checkpoint / MANIFEST).read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        return f"{MANIFEST} is missing or unreadable"
    return hashes_problem(checkpoint, recorded)


def trusted_checkpoint(run_dir: Path, echo=print) -> Path | None:
    """The newest checkpoint whose files match its manifest. Each newer one that does not is moved aside
    (checkpoints/corrupt-checkpoint-N) with a line saying why, so neither apply nor the trainer resumes from it."""
    for checkpoint in reversed(complete_checkpoints(run_dir)):
        problem = verify_checkpoint(checkpoint)
        if problem is None:
            return checkpoint
        aside = quarantine(checkpoint)
        echo(f"checkpoint {checkpoint.name} is damaged ({problem}): moved to {aside.relative_to(run_dir)}, "
             "not resumed from")
    return None


def quarantine(path: Path) -> Path:
    n = 1
    while (aside := path.with_name(f"{QUARANTINE_PREFIX}{path.name}" + (f".{n}" if n > 1 else ""))).exists():
        n += 1
    os.replace(path, aside)
    return aside


def read_json(path: Path):
    """The JSON in ``path``, or None when it is missing, unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def state(run_dir: Path) -> RunState:
    result = read_json(run_dir / TRAIN_RESULT)
    trained = isinstance(result, dict) and result.get("stopped") == "completed"
    return RunState((run_dir / REPORT).is_file(), trained, bool(complete_checkpoints(run_dir)))


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
