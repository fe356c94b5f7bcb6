"""compare.html: several runs side by side as one self-contained page (inline CSS and SVG, no scripts, no network).

It draws the dict ``ftspec.runs.compare.compare_runs`` builds (plain JSON; this layer cannot import ``runs``).
Every value from the runs (spec values, metric names, run ids) is user text and goes through ``escape``; the charts
are built from numbers by ``ftspec.report.svg``."""

from __future__ import annotations

import json
import math
from typing import Any

from markupsafe import Markup, escape

from ftspec.report.html import fmt
from ftspec.report.svg import MARGINS, SERIES_COLOURS, curves_svg, frame, span

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1d2329; }
h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.changed { background: #fff8c5; } td.best, th.best { background: #dafbe1; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; } .muted { color: #6a737d; }
svg.loss { border: 1px solid #d0d7de; background: #fff; }
svg.loss .axis { stroke: #57606a; } svg.loss .grid { stroke: #eaeef2; }
svg.loss .tick { font-size: 11px; fill: #57606a; }
svg.loss polyline { fill: none; stroke-width: 2; } svg.loss .dash { stroke-dasharray: 6 3; }
svg.loss line.base { stroke-width: 1.5; stroke-dasharray: 4 4; }
.legend span { display: inline-block; margin-right: 1rem; }
.swatch { display: inline-block; width: 1.5rem; height: 3px; vertical-align: middle; margin-right: .3rem; }
""" + "".join(f"svg.loss .c{i} {{ stroke: {c}; }} svg.loss circle.c{i} {{ fill: {c}; }}\n"
              for i, c in enumerate(SERIES_COLOURS))


def colour(i: int) -> str:
    return f"c{i % len(SERIES_COLOURS)}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def duration(hours: Any) -> str:
    """Hours as a person reads them: a CPU test run takes seconds, a real one hours."""
    if not _number(hours):
        return "—"
    seconds = hours * 3600
    if seconds < 120:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:.3g} min" if seconds < 7200 else f"{hours:.3g} h"


def _legend(names: list[str] | list[tuple[int, str]], dashed: str = "") -> Markup:
    """Swatches in the series' colours; ``(index, name)`` pairs keep a run's colour when others are left out."""
    pairs = [item if isinstance(item, tuple) else (i, item) for i, item in enumerate(names)]
    items = [Markup('<span><i class="swatch" style="background:{}"></i>{}</span>').format(
        SERIES_COLOURS[i % len(SERIES_COLOURS)], name) for i, name in pairs]
    return Markup('<p class="legend">') + Markup("").join(items) + escape(dashed) + Markup("</p>")


def sweep_svg(key: str, xs: list[float], metrics: dict[str, list[float | None]], base: dict[str, Any],
              width: int = 640, height: int = 300) -> Markup:
    """Each metric against the swept value: one point per run, a line per metric, the base model's score as a
    dashed line of the same colour. Log x when the values span more than a decade (learning rates)."""
    pairs = {name: [(x, y) for x, y in zip(xs, ys) if _number(y)] for name, ys in metrics.items()}
    every_y = [y for pts in pairs.values() for _, y in pts] + [v for v in base.values() if _number(v)]
    if not every_y or not xs:
        return Markup('<p class="muted">No finished run has a holdout metric to plot.</p>')
    log = min(xs) > 0 and max(xs) / min(xs) > 10
    tx = math.log10 if log else float
    left, right, top, bottom = MARGINS
    x0, x1 = span([tx(x) for x in xs])
    pad = (x1 - x0) * 0.05  # the end points sit inside the frame, not on the axis
    x0, x1 = x0 - pad, x1 + pad
    y0, y1 = span(every_y)
    y0, y1 = y0 - (y1 - y0) * 0.05, y1 + (y1 - y0) * 0.05  # nor do the best and worst scores sit on the frame

    def sx(x: float) -> float:
        return left + (tx(x) - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    label = f"Holdout metrics by {key}" + (" (log scale)" if log else "")
    parts = frame(label, width, height, y0, y1, sy, key + (" (log scale)" if log else ""), css="loss sweep")
    for x in sorted(set(xs)):
        parts.append(f'<text class="tick xtick" x="{sx(x):.1f}" y="{height - bottom + 16}" '
                     f'text-anchor="middle">{x:g}</text>')
    for i, (name, pts) in enumerate(pairs.items()):
        css, metric = colour(i), escape(name)
        if _number(base.get(name)):
            y = sy(base[name])
            parts.append(f'<line class="base {css}" data-metric="{metric}" x1="{left}" y1="{y:.1f}" '
                         f'x2="{width - right}" y2="{y:.1f}"/>')
        pts = sorted(pts)
        if len(pts) > 1:
            coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            parts.append(f'<polyline class="{css}" data-metric="{metric}" points="{coords}"/>')
        parts.extend(f'<circle class="point {css}" data-metric="{metric}" data-x="{x:g}" cx="{sx(x):.1f}" '
                     f'cy="{sy(y):.1f}" r="4"/>' for x, y in pts)
    parts.append("</svg>")
    return Markup("".join(parts))


def _sweep_section(comparison: dict, names: list[str]) -> Markup:
    key = comparison.get("swept")
    if not key:
        return Markup('<p class="muted">No plot by value: the runs differ in {} inputs, not in one number.</p>'
                      ).format(len(comparison.get("differs") or {}))
    done = [(e["inputs"][key], e) for e in comparison["runs"]
            if e["status"] == "finished" and _number(e["inputs"][key])]
    xs = [float(x) for x, _ in done]
    metrics = {n: [(e["finetuned"] or {}).get(n) for _, e in done] for n in names}
    return sweep_svg(key, xs, metrics, comparison.get("base") or {}) + _legend(
        names, "; dashed: the base model's score")


def _loss_section(runs: list[dict]) -> Markup:
    curves, classes = {}, {}
    for i, entry in enumerate(runs):
        for part in ("train", "validation"):
            name = f"{entry['run_id']} {part}"
            curves[name] = entry["loss"][part]
            classes[name] = colour(i) + (" dash" if part == "validation" else "")
    svg = curves_svg(curves, "Training and validation loss of every run by optimizer step",
                     "No run recorded a loss.", width=800, classes=classes)
    drawn = [(i, e["run_id"]) for i, e in enumerate(runs) if e["loss"]["train"] or e["loss"]["validation"]]
    return svg + _legend(drawn, "; solid: train, dashed: validation")


def _checkpoint_section(runs: list[dict], names: list[str]) -> Markup:
    with_evals = [e for e in runs if e.get("checkpoint_eval")]
    if not with_evals:
        return Markup('<p class="muted">No run scored its checkpoints (eval.every_checkpoint).</p>')
    parts = []
    for name in names:
        curves = {e["run_id"]: [[c.get("step"), (c.get("metrics") or {}).get(name)]
                                for c in e["checkpoint_eval"] if isinstance(c, dict)] for e in with_evals}
        classes = {e["run_id"]: colour(runs.index(e)) for e in with_evals}
        parts.append(Markup("<h3>{}</h3>").format(name))
        parts.append(curves_svg(curves, f"{name} at each checkpoint", f"No checkpoint has a {name} score.",
                                classes=classes))
    return Markup("").join(parts) + _legend([(runs.index(e), e["run_id"]) for e in with_evals])


def _row(cells: list[Any], head: str = "") -> Markup:
    out = Markup("<tr>")
    if head:
        out += Markup("<th>{}</th>").format(head)
    for cell in cells:
        css, text = cell if isinstance(cell, tuple) else ("num", cell)
        out += Markup('<td class="{}">{}</td>').format(css, text)
    return out + Markup("</tr>\n")


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _inputs_table(comparison: dict, runs: list[dict]) -> Markup:
    differs = comparison.get("differs") or {}
    if not differs:
        return Markup('<p class="muted">The runs\' resolved specs are the same.</p>')
    ref = next((i for i, e in enumerate(runs) if e["run_id"] == comparison.get("reference")), 0)
    out = Markup('<table id="inputs-table"><tr><th>input</th>') + Markup("").join(
        Markup("<th>{}</th>").format(e["run_id"]) for e in runs) + Markup("</tr>\n")
    for key, values in differs.items():
        cells = [("changed" if i != ref and v != values[ref] else "", _show(v)) for i, v in enumerate(values)]
        out += _row(cells, Markup("<code>{}</code>").format(key))
    return out + Markup("</table>")


def _metrics_table(comparison: dict, runs: list[dict], names: list[str], scenarios: list[str]) -> Markup:
    best = comparison.get("best") or {}
    out = Markup('<table id="metrics-table"><tr><th>scenario</th><th>metric</th><th>base</th>') + Markup("").join(
        Markup('<th class="{}">{}</th>').format("best" if e["run_id"] in best.get("tied", []) else "", e["run_id"])
        for e in runs) + Markup("</tr>\n")
    for scenario in [None, *scenarios]:
        base = (comparison.get("base") or {}) if scenario is None else (comparison.get("base_by_scenario") or {}
                                                                        ).get(scenario) or {}
        for name in names:
            tuned = [(e["finetuned"] or {}) if scenario is None else e["finetuned_by_scenario"].get(scenario) or {}
                     for e in runs]
            cells = [("", name), ("num", fmt(base.get(name))), *[("num", fmt(t.get(name))) for t in tuned]]
            out += _row(cells, "(all)" if scenario is None else scenario)
    return out + Markup("</table>")


def _runs_table(runs: list[dict], best: dict) -> Markup:
    out = Markup('<table id="runs-table"><tr><th>run</th><th>name</th><th>status</th><th>optimizer steps</th>'
                 '<th>tokens</th><th>wall time</th><th>planned time</th><th>cost (planned, USD)</th>'
                 '<th>date</th></tr>\n')
    for e in runs:
        status = e["status"] + (f" ({e['error']})" if e.get("error") else "")
        if e["run_id"] in best.get("tied", []):
            status += f"; best by {best['metric']}"
        cells = [("", e["name"]), ("", status),
                 ("num", fmt(e["optimizer_steps"]["actual"] or e["optimizer_steps"]["planned"])),
                 ("num", fmt(e["train_tokens"]["actual"] or e["train_tokens"]["planned"])),
                 ("num", duration(e["wall_time_hours"]["actual"])), ("num", duration(e["wall_time_hours"]["planned"])),
                 ("num", fmt(e["cost_usd"])), ("", fmt(e["date"]))]
        out += _row(cells, e["run_id"])
    return out + Markup("</table>")


def render_compare_html(comparison: dict, names: list[str], scenarios: list[str]) -> str:
    """The page; ``names`` are the holdout metrics to show (in order), ``scenarios`` the holdout's scenarios."""
    runs = comparison["runs"]
    best = comparison.get("best") or {}
    if not best:
        verdict = Markup("No finished run has a holdout metric yet.")
    elif len(best["tied"]) > 1:
        verdict = Markup("A tie on {} = {} between {}.").format(best["metric"], fmt(best["value"]),
                                                                ", ".join(best["tied"]))
    else:
        verdict = Markup("Best: <strong>{}</strong> by {} = {}.").format(best["run_id"], best["metric"],
                                                                        fmt(best["value"]))
    sections = [
        ("runs", "Runs", _runs_table(runs, best)),
        ("inputs", "Inputs that differ", _inputs_table(comparison, runs)),
        ("by-value", "Metrics by value", _sweep_section(comparison, names)),
        ("metrics", "Holdout metrics, base and each run", _metrics_table(comparison, runs, names, scenarios)),
        ("loss", "Loss", _loss_section(runs)),
        ("checkpoints", "Metrics at each checkpoint", _checkpoint_section(runs, names)),
    ]
    body = [Markup("<h1>Comparing {} runs</h1>\n<p id=\"verdict\">{}</p>\n").format(len(runs), verdict)]
    body += [Markup('<section id="{}"><h2>{}</h2>\n{}</section>\n').format(key, title, content)
             for key, title, content in sections]
    head = Markup('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" '
                  'content="width=device-width, initial-scale=1">\n<title>ftspec compare</title>\n<style>{}</style>\n'
                  '</head>\n<body>\n').format(Markup(CSS))
    return str(head + Markup("").join(body) + Markup("</body>\n</html>\n"))
