"""`ftspec runs`: the run folders of a spec (or under a folder), each with its status, read from the files alone.

Nothing here imports torch or writes to a run folder: listing must be instant and safe beside a live `ftspec apply`.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ftspec.runfolder import contract

FINISHED, RUNNING, FAILED, INTERRUPTED = "finished", "running", "failed", "interrupted"
# report["selected"]["by"] besides a metric's name: the checkpoint of the lowest validation loss, or the last one.
VALIDATION_LOSS, FINAL = "validation_loss", "final"
# What `ftspec apply` writes first into a run folder: a folder with neither is not a run.
MARKERS = (contract.SPEC, contract.PLAN)


class RunsError(Exception):
    """A path that names no run (missing, not a run folder, a spec without runs): one line for the user."""


@dataclass
class Run:
    """One run folder as its files describe it; ``report``/``plan`` are None where missing or unreadable."""

    dir: Path
    status: str
    report: dict | None = None
    plan: dict | None = None
    error: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.dir.name  # the folder is named by the run id, and a run that never finished has no report

    @property
    def name(self) -> str:
        return (self.report or {}).get("name") or (self.plan or {}).get("name") or self.dir.parent.name

    @property
    def parent(self) -> str | None:
        """The run id this one trained on incrementally: the report's, else the plan's model fingerprint's."""
        parent = (self.report or {}).get("parent")
        if not isinstance(parent, dict):
            parent = (((self.plan or {}).get("fingerprint") or {}).get("model") or {}).get("parent")
        return parent.get("run_id") if isinstance(parent, dict) else None

    @property
    def date(self) -> str:
        created = (self.report or {}).get("created")
        if isinstance(created, str) and created:
            return created
        try:
            mtime = self.dir.stat().st_mtime
        except OSError:
            return ""
        return datetime.fromtimestamp(mtime, timezone.utc).isoformat(timespec="seconds")

    @property
    def metric(self) -> str | None:
        """``name=value`` of the holdout metric that judged the run: the one ``eval.select_by`` chose the checkpoint
        by, else the first fine-tuned one; a selection by validation loss is said beside it."""
        chosen = selected_metric(self.report)
        if chosen is None:
            return None
        name, value, by = chosen
        return f"{name}={number(value)}" + (f" (checkpoint by {by})" if by not in (None, name, FINAL) else "")

    def summary(self) -> dict:
        return {"name": self.name, "run_id": self.run_id, "parent": self.parent, "status": self.status,
                "metric": self.metric, "date": self.date, "path": str(self.dir)}


def selected_metric(report: dict | None) -> tuple[str, float, str | None] | None:
    """(metric, value, how the checkpoint was selected) of a finished run; None without a fine-tuned score.

    report["selected"] is ``{"by": a metric, "validation_loss" or "final", "metric", "value", "step", ...}``; the
    fine-tuned scores are those of the selected weights, so they give the value when the selection has none."""
    tuned = ((report or {}).get("eval") or {}).get("finetuned") or {}
    selected = (report or {}).get("selected")
    selected = selected if isinstance(selected, dict) else {}
    by = selected.get("by")
    name = selected.get("metric") or (by if by not in (None, FINAL, VALIDATION_LOSS) else None)
    if name is None or (name not in tuned and not is_number(selected.get("value"))):
        name = next(iter(tuned), None)
    if name is None:
        return None
    value = tuned.get(name, selected.get("value"))
    return (name, value, by) if is_number(value) else None


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"


def lock_held(path: Path) -> bool:
    """Whether another process holds ``path``'s flock. A shared probe on a read-only descriptor: it never creates
    the file, and conflicts with an applier's or trainer's exclusive lock without writing anything."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in (*MARKERS, contract.REPORT))


def read_run(run_dir: Path) -> Run:
    """The run in ``run_dir`` with its status: finished (report.json), running (a live lock; before failed, since a
    retry of a failed run still has the old train_error.json), failed (train_error.json), else interrupted."""
    report = contract.read_json(run_dir / contract.REPORT)
    plan = contract.read_json(run_dir / contract.PLAN)
    report = report if isinstance(report, dict) else None
    plan = plan if isinstance(plan, dict) else None
    error = contract.read_json(run_dir / contract.TRAIN_ERROR)
    if report is not None:
        status = FINISHED
    elif lock_held(run_dir / contract.LOCK) or lock_held(run_dir / contract.TRAINER_LOCK):
        status = RUNNING
    elif (run_dir / contract.TRAIN_ERROR).exists():
        status = FAILED
    else:
        status = INTERRUPTED
    return Run(dir=run_dir, status=status, report=report, plan=plan,
               error=error if isinstance(error, dict) else None)


def spec_run_root(spec_path: Path) -> Path:
    """``<output.dir>/<name>/`` of a spec, as the plan would place its runs (without building the plan)."""
    from ftspec.spec.load import SpecErrors, load_spec

    try:
        loaded = load_spec(spec_path)
    except SpecErrors as exc:
        first = exc.errors[0]
        where = f"{first.location.file}:{first.location.line}: " if first.location else ""
        raise RunsError(f"{where}{first.message}") from None
    return loaded.resolve(loaded.spec.output.dir) / loaded.spec.name


def find_run_dirs(target: Path) -> list[Path]:
    """The run folders ``target`` names: a spec's runs, the folder itself when it is a run, the runs in it
    (``<output.dir>/<name>/``), or those one level deeper (``<output.dir>/``)."""
    if not target.exists():
        raise RunsError(f"{target}: no such file or folder")
    if target.is_file():
        root = spec_run_root(target)
        found = sorted(p for p in root.iterdir() if is_run_folder(p)) if root.is_dir() else []
        if not found:
            raise RunsError(f"{target}: no runs yet under {root} (`ftspec apply {target}` starts one)")
        return found
    if is_run_folder(target):
        return [target]
    found = sorted(p for p in target.iterdir() if is_run_folder(p))
    if not found:
        found = sorted(p for sub in target.iterdir() if sub.is_dir() for p in sub.iterdir() if is_run_folder(p))
    if not found:
        raise RunsError(f"{target}: no run folders here (a run folder holds {' and '.join(MARKERS)})")
    return found


def list_runs(target: Path) -> list[Run]:
    """Every run ``target`` names, newest first."""
    return sorted((read_run(p) for p in find_run_dirs(target)), key=lambda r: r.date, reverse=True)


def render_table(runs: list[Run]) -> str:
    headers = ("NAME", "RUN", "PARENT", "STATUS", "METRIC", "DATE")
    rows = [(r.name, r.run_id, r.parent or "-", r.status, r.metric or "-", r.date) for r in runs]
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in (headers, *rows))
