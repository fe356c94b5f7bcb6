"""Log a finished run where its users already look: MLflow and W&B, beside TensorBoard (which the trainer writes
itself). Called once the run's report is written."""

from __future__ import annotations

from pathlib import Path


def log_to_trackers(plan, run_dir: Path, report: dict, echo=print) -> None:
    """Log ``report`` (report.json's content) of the run in ``run_dir`` to each tracker of ``plan.spec.tracking``
    other than TensorBoard."""
    return None
