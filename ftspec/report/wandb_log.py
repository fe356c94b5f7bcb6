"""W&B: one W&B run per ftspec run, offline by default (``<output.dir>/wandb``, for `wandb sync`). Its id is ftspec's
run id, so a re-evaluated run resumes the same W&B run once synced."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ftspec.plan.trackers import wandb_dir
from ftspec.report.tracker_content import holdout_metrics, run_label, series, tags
from ftspec.runfolder import contract


def log_wandb(plan, run_dir: Path, report: dict, options) -> str:
    """Log the run; returns where it went (for the user)."""
    import wandb

    folder = wandb_dir(plan.spec, Path(plan.spec_file).parent)
    folder.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        mode=options.mode if options else "offline", dir=str(folder),
        project=options.project if options and options.project else plan.spec.name,
        entity=options.entity if options else None, name=run_label(report),
        id=re.sub(r"[^A-Za-z0-9_-]", "-", f"{str(report['name'])[:48]}-{report['run_id']}"), resume="allow",
        config=plan.spec.model_dump(mode="json"), tags=[str(report["run_id"])],
        # The run is over: no console capture, system stats, code or git state of the apply process to record.
        settings=wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False, disable_git=True),
    )
    try:
        run.config.update({"ftspec": tags(run_dir, report)}, allow_val_change=True)
        for step, row in sorted(_by_step(series(report)).items()):
            run.log(row, step=step)
        run.summary.update(holdout_metrics(report))
        for name in (contract.REPORT, contract.REPORT_HTML):
            if (run_dir / name).is_file():
                # A copy in the run's own files: W&B would otherwise link to the run folder.
                shutil.copyfile(run_dir / name, Path(run.dir) / name)
                run.save(str(Path(run.dir) / name), base_path=run.dir, policy="now")
        where = f"{Path(run.dir).parent} ({run.settings.mode})"
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
    return where


def _by_step(curves: dict[str, list[tuple[int, float]]]) -> dict[int, dict[str, float]]:
    """W&B takes one row per step, steps increasing: the curves merged by step."""
    rows: dict[int, dict[str, float]] = {}
    for key, points in curves.items():
        for step, value in points:
            rows.setdefault(step, {})[key] = value
    return rows
