"""Whether a run folder's finished state can be believed: a report whose final weights still match their recorded
sha256 and whose evaluation settings are the plan's; a training result whose weights still match."""

from __future__ import annotations

from pathlib import Path

from ftspec.plan.identity import eval_digest
from ftspec.plan.model import Plan
from ftspec.runfolder import contract
from ftspec.runfolder.checkpoints import hashes_problem


def report_problem(plan: Plan, run_dir: Path) -> str | None:
    """None when ``run_dir`` holds a finished run of ``plan`` that can be trusted: a report.json that parses,
    whose recorded final-weight hashes match the files and whose evaluation settings are the plan's."""
    report = contract.read_json(run_dir / contract.REPORT)
    if not isinstance(report, dict):
        return "its report.json is unreadable"
    weights = report.get("final_weights")
    if not isinstance(weights, dict):
        return "its report.json records no final weights"
    problem = hashes_problem(run_dir / str(weights.get("path")), weights.get("sha256"))
    if problem:
        return f"its final weights do not match report.json: {problem}"
    if report.get("eval_settings_sha256") != eval_digest(plan):
        return "the evaluation settings or holdout changed since it was evaluated"
    return None


def trained_result(run_dir: Path, echo) -> dict | None:
    """train_result.json of a finished training whose final weights still match their recorded hashes."""
    result = contract.read_json(run_dir / contract.TRAIN_RESULT)
    if not (isinstance(result, dict) and result.get("stopped") == "completed"):
        return None
    problem = hashes_problem(run_dir / str(result.get("weights")), result.get("weights_sha256"))
    if problem:
        echo(f"the final weights cannot be trusted ({problem}): training them again")
        (run_dir / contract.TRAIN_RESULT).unlink()
        return None
    return result


def output_problem(loaded, root: Path) -> str | None:
    """Why runs cannot be written under ``root`` (output.dir is a file, /dev/null, ...), located in the spec."""
    existing = root
    try:
        while not existing.exists():
            existing = existing.parent
        if existing.is_dir():
            return None
    except OSError as exc:
        return f"{exc.strerror}: {existing}"
    loc = loaded.locate("output", "dir")
    return f"{loc}: output.dir: {existing} is not a folder; runs are written to <output.dir>/<name>/<run-id>/"
