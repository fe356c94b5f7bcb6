"""What a tracker gets from a run, built once from report.json: its params (the resolved spec), its curves by step,
its holdout scores and the tags that link it back to the run folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ftspec.report.contract import SIDES


def run_label(report: dict) -> str:
    return f"{report['name']}/{report['run_id']}"


def flat_params(spec: dict, prefix: str = "") -> dict[str, str]:
    """The resolved spec as dotted keys (lists and scalars as JSON text, strings as they are)."""
    out: dict[str, str] = {}
    for key, value in spec.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_params(value, dotted + "."))
        else:
            out[dotted] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return out


def metric_key(*parts) -> str:
    """A metric name both trackers accept: MLflow allows letters, digits, ``_ - . /`` and spaces."""
    return "/".join(re.sub(r"[^\w.\- ]", "_", str(p)).strip() or "_" for p in parts)


def series(report: dict) -> dict[str, list[tuple[int, float]]]:
    """The curves by step: the losses (train, validation, GRPO's reward) and each checkpoint's scores."""
    out: dict[str, list[tuple[int, float]]] = {}
    for curve, points in (report.get("loss") or {}).items():
        if isinstance(points, list) and points:
            out[metric_key("loss", curve)] = [(int(s), float(v)) for s, v in points if v is not None]
    for checkpoint in report.get("checkpoint_eval") or []:
        for metric, value in (checkpoint.get("metrics") or {}).items():
            if isinstance(value, (int, float)):
                out.setdefault(metric_key("checkpoint", metric), []).append((int(checkpoint["step"]), float(value)))
    return {k: v for k, v in out.items() if v}


def holdout_metrics(report: dict) -> dict[str, float]:
    """Holdout scores per side (base, finetuned), post-processed and per scenario too."""
    ev = report.get("eval") or {}
    out: dict[str, float] = {}
    for side in SIDES:
        _put(out, ("eval", side), ev.get(side))
        details = (ev.get("details") or {}).get(side) or {}
        _put(out, ("eval", side, "postprocessed"), details.get("metrics_postprocessed"))
        for scenario, metrics in (details.get("by_scenario") or {}).items():
            _put(out, ("eval", side, "scenario", scenario), metrics)
    return out


def _put(out: dict, prefix: tuple, metrics: dict | None) -> None:
    for metric, value in (metrics or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[metric_key(*prefix, metric)] = float(value)


def tags(run_dir: Path, report: dict) -> dict[str, str]:
    """What links the tracker's run back to ftspec's: the run folder, the weights, the parent and the sweep."""
    out = {"ftspec.run_id": str(report["run_id"]), "ftspec.run_dir": str(Path(run_dir).resolve()),
           "ftspec.name": str(report["name"]), "ftspec.method": str(report.get("method"))}
    weights = (report.get("final_weights") or {}).get("path")
    if weights:
        out["ftspec.weights"] = str(Path(run_dir).resolve() / weights)
    parent = report.get("parent")
    if isinstance(parent, dict) and parent.get("run_id"):
        out["ftspec.parent_run_id"] = str(parent["run_id"])
    sweep = report.get("sweep")
    if isinstance(sweep, dict):
        out["ftspec.sweep_id"] = str(sweep.get("id"))
        out["ftspec.sweep_values"] = json.dumps(sweep.get("values"), ensure_ascii=False, sort_keys=True)
    return out
