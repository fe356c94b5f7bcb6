"""An earlier ftspec run that a spec trains on incrementally (``model.base: run:<name>`` or a run folder): found,
checked finished, and read for what the new run starts from. JSON only: lint and plan use it without torch."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ftspec.core.hashing import json_sha256
from ftspec.runfolder import contract
from ftspec.runfolder.checkpoints import hashes_problem

RUN_PREFIX = "run:"


class ParentError(ValueError):
    """The run ``model.base`` names cannot be trained on; the message says why."""


@dataclass(frozen=True)
class ParentRun:
    folder: Path
    plan: dict = field(compare=False, repr=False)
    report: dict = field(compare=False, repr=False)

    @property
    def run_id(self) -> str:
        return self.folder.name

    @property
    def name(self) -> str:
        return str(self.plan.get("name"))

    @property
    def job_model(self) -> dict:
        return self.plan["job"]["model"]

    @property
    def peft(self) -> bool:
        return self.plan["job"].get("peft") is not None

    @property
    def weights_dir(self) -> Path:
        return self.folder / str(self.report["final_weights"]["path"])

    @property
    def digest(self) -> str:
        """What the new run's identity takes from its parent: the parent's final weights, file by file."""
        return json_sha256(self.report["final_weights"])

    @property
    def pretrained(self) -> dict:
        """The pretrained model at the root of the chain ({"base", "revision"}): the baseline of every version."""
        m = self.job_model
        return m.get("pretrained") or {"base": m["base"], "revision": m.get("revision")}

    @property
    def model_files(self) -> dict:
        """sha256 of the tokenizer and config files the parent was planned with."""
        return ((self.plan.get("fingerprint") or {}).get("model") or {}).get("files") or {}

    def chat_template(self) -> str | None:
        """The chat template the parent trained with when its spec set data.chat_template (else the model's own)."""
        path = self.plan["job"].get("chat_template")
        if not path:
            return None
        try:
            return (self.folder / path).read_text(encoding="utf-8")
        except OSError:
            return None

    def trained_rows(self) -> list[Path]:
        """The prepared rows the parent trained on (and validated with): what a new holdout must not contain."""
        job_data = self.plan["job"].get("data") or {}
        return [self.folder / p for p in (job_data.get("train"), job_data.get("validation")) if p]

    def fingerprint_entry(self) -> dict:
        return {"run_id": self.run_id, "name": self.name, "folder": str(self.folder), "weights_sha256": self.digest}


def is_run_reference(base: str, spec_dir: Path | None) -> bool:
    """``run:<name>``, or a folder holding a run's plan.json and spec.yaml."""
    if base.startswith(RUN_PREFIX):
        return True
    folder = Path(base).expanduser()
    if not folder.is_absolute() and spec_dir is not None:
        folder = Path(spec_dir) / folder
    try:
        return (folder / contract.PLAN).is_file() and (folder / contract.SPEC).is_file()
    except OSError:
        return False


# Verifying a run hashes every file of its weights (GBs for a full fine-tune), and lint's rules, the plan and the
# pipeline each resolve model.base: one verification per process and per state of the folder's files.
_VERIFIED: dict[tuple, str | None] = {}


def _stamp(folder: Path) -> tuple:
    """What a verification of ``folder`` depends on, from stat alone: its markers and every recorded weights file."""
    def stat(path: Path):
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns, st.st_ino

    report = contract.read_json(folder / contract.REPORT)
    weights = report.get("final_weights") if isinstance(report, dict) else None
    recorded = weights.get("sha256") if isinstance(weights, dict) else None
    files = tuple((name, stat(folder / str(weights.get("path")) / name)) for name in sorted(recorded)) \
        if isinstance(recorded, dict) else ()
    return (str(folder.resolve()), stat(folder / contract.REPORT), stat(folder / contract.PLAN),
            stat(folder / contract.TRAIN_ERROR), files)


def _unfinished(folder: Path) -> str | None:
    """Why ``folder`` is not a finished run whose weights can be trusted; None when it is."""
    key = _stamp(folder)
    if key not in _VERIFIED:
        _VERIFIED[key] = _verify(folder)
    return _VERIFIED[key]


def _verify(folder: Path) -> str | None:
    report = contract.read_json(folder / contract.REPORT)
    if not isinstance(report, dict):
        failed = contract.read_json(folder / contract.TRAIN_ERROR)
        if isinstance(failed, dict):
            return f"its training failed ({failed.get('error')}): {failed.get('message', '')}".rstrip(": ")
        return "it is not finished (no report.json: interrupted, still running, or not applied yet)"
    if report.get("status", "completed") != "completed":
        return f"it stopped early ({report.get('status')})"
    weights = report.get("final_weights")
    if not isinstance(weights, dict):
        return "its report.json records no final weights"
    problem = hashes_problem(folder / str(weights.get("path")), weights.get("sha256"))
    return f"its final weights do not match its report.json: {problem}" if problem else None


def _read(folder: Path) -> ParentRun:
    problem = _unfinished(folder)
    if problem:
        raise ParentError(f"the run {folder} cannot be trained on: {problem}")
    plan = contract.read_json(folder / contract.PLAN)
    if not (isinstance(plan, dict) and isinstance(plan.get("job"), dict) and isinstance(plan["job"].get("model"), dict)):
        raise ParentError(f"{folder / contract.PLAN}: not a plan written by this ftspec")
    return ParentRun(folder.resolve(), plan, contract.read_json(folder / contract.REPORT))


def find_parent(base: str, spec_dir: Path, runs_dir: Path, spec_file: Path | None = None) -> ParentRun:
    """The finished run ``base`` names. ``run:<name>``: the newest finished run under ``runs_dir/<name>/``, leaving
    out runs of ``spec_file`` itself (a spec never trains on its own runs). ParentError when there is none."""
    if not base.startswith(RUN_PREFIX):
        folder = Path(base).expanduser()
        return _read(folder if folder.is_absolute() else Path(spec_dir) / folder)
    name = base[len(RUN_PREFIX):]
    root = runs_dir / name
    if not name or not root.is_dir():
        raise ParentError(f"no runs of {name!r} under {runs_dir} (`ftspec runs` lists them; apply that spec first)")
    finished, unfinished = [], []
    own = spec_file.resolve() if spec_file else None
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        plan = contract.read_json(folder / contract.PLAN)
        if not isinstance(plan, dict):
            continue
        if own is not None and plan.get("spec_file") and Path(plan["spec_file"]).resolve() == own:
            continue
        if _unfinished(folder) is None:
            report = contract.read_json(folder / contract.REPORT)
            finished.append((str(report.get("created", "")), os.stat(folder / contract.REPORT).st_mtime, folder))
        else:
            unfinished.append(folder.name)
    if not finished:
        why = f" ({len(unfinished)} not finished: {', '.join(unfinished[:3])})" if unfinished else ""
        raise ParentError(f"no finished run of {name!r} under {root}{why}")
    return _read(max(finished)[2])
