"""Checkpoints and final weights a later reader can trust: a sha256 manifest written right after each checkpoint,
verified before anything resumes from it; damaged checkpoints are moved aside, never deleted."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.core.hashing import sha256_file
from ftspec.runfolder.contract import CHECKPOINTS, MANIFEST, MODEL_CARD, QUARANTINE_PREFIX


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints a crash did not cut short, oldest first: the Trainer writes trainer_state.json last and
    ftspec its manifest right after, so a checkpoint counts only when both read as JSON. (Whether its files
    still match the manifest is ``verify_checkpoint``'s question: it reads every byte.)"""
    found = []
    folder = run_dir / CHECKPOINTS
    for path in folder.glob("checkpoint-*") if folder.is_dir() else ():
        try:
            step = int(path.name.split("-", 1)[1])
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
            json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue  # not a step number, or half-written by a killed run
        found.append((step, path))
    return [path for _, path in sorted(found)]


def newest_complete_checkpoint(run_dir: Path) -> Path | None:
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def file_hashes(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative paths), the manifest and ``skip`` left out."""
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST and p.relative_to(folder).as_posix() not in skip}


def weights_hashes(folder: Path) -> dict[str, str]:
    return file_hashes(folder, skip=(MODEL_CARD,))


def write_manifest(checkpoint: Path) -> None:
    write_text_atomic(checkpoint / MANIFEST, json.dumps({"sha256": file_hashes(checkpoint)}, indent=2) + "\n")


def hashes_problem(folder: Path, recorded: dict) -> str | None:
    """None when every recorded file is there with its recorded sha256; else what differs."""
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


def fresh_run_dir(root: Path, rid: str) -> Path:
    """The first ``<rid>-<n>`` that does not exist yet (for --force)."""
    n = 2
    while (root / f"{rid}-{n}").exists():
        n += 1
    return root / f"{rid}-{n}"
