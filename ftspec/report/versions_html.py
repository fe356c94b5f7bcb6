"""report.html's versions and checkpoints: the parent run's holdout scores beside this run's (a regression V1 -> V2
shows), the holdout metric at every saved checkpoint as a curve beside the loss, and which checkpoint the weights
folder holds."""

from __future__ import annotations

from typing import Any

from ftspec.report.svg import SERIES_COLOURS, curves_svg


def _f(value: Any) -> str:
    return "—" if not isinstance(value, (int, float)) else f"{value:.3f}"


def versions_context(report: dict) -> dict:
    """Template values: ``parent`` (None or name, run id, folder and rows), ``checkpoint_svg``, ``checkpoint_legend``,
    ``selected_line`` and ``disagreement`` (None where they do not apply)."""
    tuned = (report.get("eval") or {}).get("finetuned") or {}
    parent = report.get("parent")
    parent_ctx = None
    if isinstance(parent, dict):
        rows = []
        for metric, before in (parent.get("eval") or {}).items():
            after = tuned.get(metric)
            worse = isinstance(before, (int, float)) and isinstance(after, (int, float)) and after < before
            rows.append({"metric": metric, "parent": _f(before), "run": _f(after), "worse": worse,
                         "delta": "—" if not (isinstance(before, (int, float)) and isinstance(after, (int, float)))
                         else f"{after - before:+.3f}"})
        parent_ctx = {"name": str(parent.get("name")), "run_id": str(parent.get("run_id")),
                      "folder": str(parent.get("folder")), "rows": rows}
    curve = report.get("checkpoint_eval") or []
    names = list(dict.fromkeys(m for c in curve for m in (c.get("metrics") or {})))
    classes = {n: f"c{i % len(SERIES_COLOURS)}" for i, n in enumerate(names)}
    series = {n: [[c["step"], (c.get("metrics") or {}).get(n)] for c in curve] for n in names}
    selected = report.get("selected") or {}
    line = None
    if selected and selected.get("by") not in (None, "final"):
        line = (f"The weights folder holds step {selected.get('step')} ({selected.get('checkpoint')}): the best by "
                f"{selected['by']}" + (f" ({_f(selected.get('value'))})" if selected.get("value") is not None else ""))
    elif selected:
        line = f"The weights folder holds the final weights (step {selected.get('step')}; eval.select_by is not set)."
    return {
        "parent": parent_ctx,
        "checkpoint_svg": curves_svg(series, "Holdout metrics by checkpoint step", "No checkpoint was scored.",
                                     classes=classes) if curve else None,
        "checkpoint_legend": [(n, SERIES_COLOURS[i % len(SERIES_COLOURS)]) for i, n in enumerate(names)],
        "selected_line": line,
        "disagreement": selected.get("disagreement") if selected else None,
    }
