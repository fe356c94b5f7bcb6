"""The shape of report.json's ``eval`` section: written by apply, read by the HTML view and the CLI.

Format 2 (format 1 nested everything under ``eval.base`` / ``eval.finetuned``):
  ``eval.base`` / ``eval.finetuned``  metric name -> rate of the raw outputs (None for a side not run)
  ``eval.details.<side>``            the rest of that side's scoring: ``n``, ``metrics_postprocessed``,
                                     ``by_scenario``, ``by_scenario_n``, ``by_scenario_postprocessed``, ``samples``
  ``eval.holdout``, ``eval.timing_s``
"""

from __future__ import annotations

REPORT_FORMAT = 2
SIDES = ("base", "finetuned")


def eval_section(evaluation: dict | None) -> dict:
    """report.json's ``eval`` from ``apply.evaluate``'s result (``evaluate_outputs`` per side)."""
    evaluation = evaluation or {}
    out: dict = {side: None for side in SIDES}
    details: dict = {side: None for side in SIDES}
    for side in SIDES:
        scored = evaluation.get(side)
        if scored:
            out[side] = dict(scored["metrics"])
            details[side] = {k: v for k, v in scored.items() if k != "metrics"}
    out["details"] = details if any(details.values()) else None
    out["holdout"] = evaluation.get("holdout")
    out["timing_s"] = evaluation.get("timing_s")
    return out


def side_result(eval_report: dict | None, side: str) -> dict | None:
    """One side's whole scoring again (``metrics`` plus its details), or None when it was not run."""
    eval_report = eval_report or {}
    metrics = eval_report.get(side)
    if metrics is None:
        return None
    details = (eval_report.get("details") or {}).get(side) or {}
    return {**details, "metrics": metrics}
