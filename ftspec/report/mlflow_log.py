"""MLflow: one MLflow run per ftspec run, named ``<name>/<run_id>``. A re-evaluated run (a new report for the same
run folder) finds its MLflow run again by the ftspec.run_id tag and updates it instead of adding a second."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ftspec.plan.trackers import artifact_root, local_path, mlflow_uri
from ftspec.report.tracker_content import flat_params, holdout_metrics, run_label, series, tags
from ftspec.runfolder import contract

MAX_PARAM_VALUE = 6000  # MLflow refuses a longer param value
# MLflow's HTTP defaults retry for minutes: a server gone after training should cost a warning within seconds.
# Its usage telemetry would call out from a run that only asked for a local store (and waits at exit).
ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
       "MLFLOW_HTTP_REQUEST_TIMEOUT": "30", "MLFLOW_DISABLE_TELEMETRY": "true"}


def log_mlflow(plan, run_dir: Path, report: dict, options) -> str:
    """Log the run; returns where it went (for the user)."""
    uri = mlflow_uri(options, plan.spec, Path(plan.spec_file).parent)
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    if local_path(uri) is not None and not uri.startswith("sqlite:"):
        # A file store named on purpose: MLflow 3 keeps it only behind this opt-in.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient

    for name in ("mlflow", "alembic"):  # their INFO lines (creating the tables) are not the user's business
        logging.getLogger(name).setLevel(logging.WARNING)

    client = MlflowClient(tracking_uri=uri)
    experiment = _experiment(client, options.experiment if options and options.experiment else plan.spec.name, uri)
    found = client.search_runs([experiment], filter_string=f"tags.`ftspec.run_id` = '{report['run_id']}'",
                               max_results=1)
    if found:
        run = found[0]
        client.update_run(run.info.run_id, status="RUNNING")
    else:
        run = client.create_run(experiment, run_name=run_label(report))
    try:
        _log(client, run, run_dir, plan, report)
    except Exception:
        try:  # a run cut short says so instead of staying RUNNING; the first error is the one to report
            client.set_terminated(run.info.run_id, "FAILED")
        except Exception:  # noqa: BLE001
            pass
        raise
    client.set_terminated(run.info.run_id, "FINISHED")
    return f"{uri}, experiment {client.get_experiment(experiment).name}, run {run_label(report)} ({run.info.run_id})"


def _experiment(client, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return client.create_experiment(name, artifact_location=artifact_root(uri))
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


def _log(client, run, run_dir: Path, plan, report: dict) -> None:
    from mlflow.entities import Metric, Param, RunTag

    run_id, logged = run.info.run_id, run.data
    # A param cannot change once logged: a re-evaluated run keeps the first values (its new report.json has all).
    params = [Param(k, v if len(v) <= MAX_PARAM_VALUE else v[:MAX_PARAM_VALUE - 1] + "…")
              for k, v in flat_params(plan.spec.model_dump(mode="json")).items() if k not in logged.params]
    now = int(time.time() * 1000)
    metrics = [Metric(key, value, now, step) for key, points in series(report).items()
               # The loss curves of the same weights do not change; logged again they would only repeat.
               if not (key.startswith("loss/") and key in logged.metrics) for step, value in points]
    final_step = int((report.get("actual") or {}).get("optimizer_steps") or 0)
    metrics += [Metric(key, value, now, final_step) for key, value in holdout_metrics(report).items()]
    client.log_batch(run_id, metrics=metrics, params=params,
                     tags=[RunTag(k, v) for k, v in tags(run_dir, report).items()])
    for name in (contract.REPORT, contract.REPORT_HTML):
        if (run_dir / name).is_file():
            client.log_artifact(run_id, str(run_dir / name))
