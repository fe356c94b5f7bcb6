"""Log a finished run where its users already look: MLflow and W&B, beside TensorBoard (which the trainer writes
itself). Called once the run's report is written; each tracker gets report.json's content (tracker_content)."""

from __future__ import annotations

from pathlib import Path

from ftspec.plan.trackers import entries


def log_to_trackers(plan, run_dir: Path, report: dict, echo=print) -> None:
    """Log ``report`` (report.json's content) of the run in ``run_dir`` to each tracker of ``plan.spec.tracking``
    other than TensorBoard. A tracker that fails is one warning: the run is finished and stays so."""
    for _, name, options in entries(plan.spec):
        if name == "tensorboard":
            continue
        try:
            if name == "mlflow":
                from ftspec.report.mlflow_log import log_mlflow

                where = log_mlflow(plan, run_dir, report, options)
            else:
                from ftspec.report.wandb_log import log_wandb

                where = log_wandb(plan, run_dir, report, options)
        except Exception as exc:  # noqa: BLE001 - any tracker failure: the trained run must not be lost over it
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            echo(f"warning: {name} logging failed ({type(exc).__name__}: {first}); the run in {run_dir} is finished "
                 "and kept (report.json), only not logged there")
        else:
            echo(f"logged to {name}: {where}")
