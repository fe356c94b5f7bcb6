"""The run report as one self-contained HTML file: inline CSS, loss curves as inline SVG, no scripts.

The report dict holds user text (prompts, model outputs, spec names), so this module renders with its
own autoescaping environment instead of ``ftspec.core.templating.render``, which writes YAML and shell
and must not escape. Everything is turned into display strings here; the template only lays out.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from ftspec.report.contract import side_result
from ftspec.report.story import story
from ftspec.report.versions_html import versions_context
from ftspec.report.svg import SERIES_COLOURS, curves_svg, points as _points
from ftspec.core.templating import TEMPLATE_DIR

DASH = "—"
MAX_SAMPLES = 50

_env = SandboxedEnvironment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True
)


def fmt(value: Any) -> str:
    """A display string for any report value; missing values become a dash."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def pct(rate: float | None) -> str:
    return DASH if rate is None else f"{100 * rate:.1f}%"


def loss_svg(train: Any, validation: Any, width: int = 640, height: int = 260) -> Markup:
    """Train and validation loss as an inline SVG with one polyline per series."""
    return curves_svg({"train": train, "validation": validation}, "Training and validation loss by optimizer step",
                      "No loss values were recorded.", width, height)


def reward_context(loss: dict) -> dict:
    """GRPO's reward curves and completion lengths for the template; empty for a run without rewards."""
    if "reward" not in loss:
        return {"has_rewards": False}
    names = ["mean reward", *sorted(loss.get("rewards") or {})]
    curves = {"mean reward": loss.get("reward"), **(loss.get("rewards") or {})}
    classes = {name: f"c{i % len(SERIES_COLOURS)}" for i, name in enumerate(names)}
    first_last = []
    for name in names:
        points = _points(curves.get(name))
        first_last.append({"name": name, "colour": SERIES_COLOURS[int(classes[name][1:])],
                           "first": fmt(points[0][1]) if points else "—", "last": fmt(points[-1][1]) if points else "—"})
    return {"has_rewards": True, "reward_rows": first_last,
            "reward_svg": curves_svg(curves, "Rewards by optimizer step", "No reward was logged.", classes=classes),
            "length_svg": curves_svg({"completion length": loss.get("completion_length")},
                                     "Mean completion length (tokens) by optimizer step",
                                     "No completion length was logged.", classes={"completion length": "c3"})}


def _metric_names(*results: dict | None) -> list[str]:
    names: list[str] = []
    for result in results:
        for name in (result or {}).get("metrics") or {}:
            if name not in names:
                names.append(name)
    return names


def _rate(result: dict | None, key: str, name: str, scenario: str | None = None) -> float | None:
    table = (result or {}).get(key) or {}
    if scenario is not None:
        table = table.get(scenario) or {}
    return table.get(name)


def _delta(after: float | None, before: float | None) -> str:
    if after is None or before is None:
        return DASH
    return f"{100 * (after - before):+.1f} pt"


def _metric_rows(base: dict | None, tuned: dict | None, names: list[str], scenario: str | None = None) -> list[dict]:
    raw_key, pp_key = ("by_scenario", "by_scenario_postprocessed") if scenario is not None else (
        "metrics", "metrics_postprocessed")
    rows = []
    for name in names:
        b, bp = _rate(base, raw_key, name, scenario), _rate(base, pp_key, name, scenario)
        t, tp = _rate(tuned, raw_key, name, scenario), _rate(tuned, pp_key, name, scenario)
        rows.append({"scenario": scenario, "metric": name, "base": pct(b), "base_pp": pct(bp), "tuned": pct(t),
                     "tuned_pp": pct(tp), "delta": _delta(t, b)})
    return rows


def _prompt_text(prompt: Any) -> str:
    # The last user turn is what distinguishes samples; the shared system prompt would only add noise.
    if isinstance(prompt, list):
        users = [m.get("content") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return fmt(users[-1] if users else None)
    return fmt(prompt)


def _sample_rows(base: dict | None, tuned: dict | None) -> list[dict]:
    tuned_samples = (tuned or {}).get("samples") or []
    base_by_index = {s.get("index"): s for s in (base or {}).get("samples") or []}
    rows = []
    for sample in tuned_samples[:MAX_SAMPLES]:
        base_sample = base_by_index.get(sample.get("index")) or {}
        output, fixed = sample.get("output"), sample.get("output_postprocessed")
        rows.append({
            "index": fmt(sample.get("index")),
            "scenario": fmt(sample.get("scenario")),
            "prompt": _prompt_text(sample.get("prompt")),
            "reference": fmt(sample.get("reference")),
            "base_output": fmt(base_sample.get("output")) if base_sample else DASH,
            "base_scores": list((base_sample.get("scores") or {}).items()),
            "base_scores_postprocessed": list((base_sample.get("scores_postprocessed") or {}).items()),
            "output": fmt(output),
            "output_postprocessed": fmt(fixed) if fixed is not None and fixed != output else "",
            "scores": list((sample.get("scores") or {}).items()),
            "scores_postprocessed": list((sample.get("scores_postprocessed") or {}).items()),
        })
    return rows


MAX_PAIRS = 12


def diff_markup(before: str, after: str) -> tuple[Markup, Markup]:
    """``before`` and ``after`` escaped, with the characters one has and the other lacks wrapped in
    ``<mark>`` (a removed space shows as a highlighted blank)."""
    from markupsafe import escape

    a_parts, b_parts = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        a, b = escape(before[i1:i2]), escape(after[j1:j2])
        if op == "equal":
            a_parts.append(a)
            b_parts.append(b)
            continue
        if a:
            a_parts.append(Markup('<mark class="del">') + a + Markup("</mark>"))
        if b:
            b_parts.append(Markup('<mark class="ins">') + b + Markup("</mark>"))
    return Markup("").join(a_parts), Markup("").join(b_parts)


def _pair_rows(base: dict | None, tuned: dict | None, metric: str) -> list[dict]:
    """The same prompt's base and fine-tuned output, the fixes first (base fails, fine-tuned passes), then
    the cases the fine-tuned model still fails."""
    base_by_index = {s.get("index"): s for s in (base or {}).get("samples") or []}
    fixed, still = [], []
    for sample in (tuned or {}).get("samples") or []:
        before = base_by_index.get(sample.get("index"))
        if before is None or sample.get("scenario") == "general":
            continue
        b_ok, t_ok = (before.get("scores") or {}).get(metric), (sample.get("scores") or {}).get(metric)
        if b_ok == t_ok and t_ok:
            continue
        b_html, t_html = diff_markup(before.get("output") or "", sample.get("output") or "")
        row = {"scenario": fmt(sample.get("scenario")), "prompt": _prompt_text(sample.get("prompt")),
               "reference": fmt(sample.get("reference")), "base": b_html, "tuned": t_html,
               "base_ok": bool(b_ok), "tuned_ok": bool(t_ok)}
        (fixed if t_ok and not b_ok else still).append(row)
    return fixed[:MAX_PAIRS - min(len(still), MAX_PAIRS // 3)] + still[:MAX_PAIRS // 3]


def _story_context(report: dict, base: dict | None, tuned: dict | None) -> dict:
    told = story(report)
    if told is None:
        return {"story": None}
    rows = [{"scenario": r["scenario"], "n": fmt(r["n"]), "base": pct(r["base"]), "base_guard": pct(r["base_guard"]),
             "tuned": pct(r["tuned"]), "tuned_guard": pct(r["tuned_guard"])} for r in told["rows"]]
    g = told["general"]
    general = None if g is None else {"metric": g["metric"], "n": fmt(g["n"]), "base": pct(g["base"]),
                                      "tuned": pct(g["tuned"]), "delta": _delta(g["tuned"], g["base"])}
    return {"story": {"metric": told["metric"], "guard": told["guard"], "rows": rows, "general": general,
                      "pairs": _pair_rows(base, tuned, told["metric"]) if base else []}}


def _tokens(planned: Any) -> Any:
    """The plan's train_tokens object as one line; other shapes pass through."""
    if not isinstance(planned, dict):
        return planned
    total, per_epoch, loss = planned.get("total"), planned.get("per_epoch"), planned.get("loss_bearing_per_epoch")
    return f"{fmt(total)} in all ({fmt(per_epoch)} per epoch, {fmt(loss)} loss-bearing)"


def _peak(actual: dict) -> Any:
    """Measured peak memory: the device's allocator peak on a GPU, else the host's resident set size."""
    peak = actual.get("peak_memory_gib") or actual.get("peak_memory_gib_per_device")
    if not isinstance(peak, dict):
        return peak
    if peak.get("device_allocated") is not None:
        return f"{peak['device_allocated']:.2f} (allocated; {fmt(peak.get('device_reserved'))} reserved)"
    return f"{fmt(peak.get('host_rss'))} host RSS (CPU run)" if peak.get("host_rss") is not None else None


def _plan_rows(plan: dict, actual: dict) -> list[dict]:
    paired = [
        ("Optimizer steps", plan.get("optimizer_steps"), actual.get("optimizer_steps")),
        ("Train tokens", _tokens(plan.get("train_tokens")), actual.get("train_tokens_seen")),
        ("Wall time (h)", plan.get("wall_time_hours"),
         None if actual.get("train_runtime_s") is None else actual["train_runtime_s"] / 3600),
        ("Peak memory / device (GiB)", plan.get("peak_memory_gib_per_device"), _peak(actual)),
    ]
    used = {"optimizer_steps", "train_tokens", "wall_time_hours", "train_runtime_s", "peak_memory_gib_per_device",
            "train_tokens_seen", "peak_memory_gib"}
    rows = [{"label": label, "plan": fmt(p), "actual": fmt(a)} for label, p, a in paired]
    rows += [{"label": k, "plan": fmt(v), "actual": DASH} for k, v in plan.items() if k not in used]
    rows += [{"label": k, "plan": DASH, "actual": fmt(v)} for k, v in actual.items() if k not in used]
    return rows


def _kv(table: Any) -> list[tuple[str, str]]:
    return [(str(k), fmt(v)) for k, v in (table or {}).items()] if isinstance(table, dict) else []


def report_context(report: dict) -> dict:
    """Display strings for the template, every missing value already replaced by a dash."""
    plan, actual = report.get("plan") or {}, report.get("actual") or {}
    loss = report.get("loss") or {}
    evals = report.get("eval") or {}
    base, tuned = side_result(evals, "base"), side_result(evals, "finetuned")
    names = _metric_names(base, tuned)
    scenarios = sorted({*((base or {}).get("by_scenario") or {}), *((tuned or {}).get("by_scenario") or {})}, key=str)
    n_by_scenario = (tuned or {}).get("by_scenario_n") or (base or {}).get("by_scenario_n") or {}
    has_pp = any("metrics_postprocessed" in (r or {}) for r in (base, tuned))
    tuned_samples = (tuned or {}).get("samples") or []
    overfitting = report.get("overfitting")
    return {
        "title": fmt(report.get("name") or report.get("spec_name")),
        "header": [("Run", fmt(report.get("run_id"))), ("Spec", fmt(report.get("spec_name"))),
                   ("Method", fmt(report.get("method"))), ("Created", fmt(report.get("created"))),
                   ("Best checkpoint", fmt(report.get("best_checkpoint")))],
        "overfitting": None if overfitting is None else bool(overfitting),
        "plan_rows": _plan_rows(plan, actual),
        "fits": "not checked (CPU: host RAM)" if plan.get("fits") is None and plan.get("peak_memory_gib_per_device")
        is not None else fmt(plan.get("fits")),
        "loss_svg": loss_svg(loss.get("train"), loss.get("validation")),
        **reward_context(loss),
        "has_eval": bool(base or tuned),
        "has_base": bool(base),
        "has_pp": has_pp,
        "n_base": fmt((base or {}).get("n")),
        "n_tuned": fmt((tuned or {}).get("n")),
        "metric_rows": _metric_rows(base, tuned, names),
        "scenario_rows": [dict(row, n=fmt(n_by_scenario.get(s))) for s in scenarios
                          for row in _metric_rows(base, tuned, names, s)],
        "sample_rows": _sample_rows(base, tuned),
        "samples_total": len(tuned_samples),
        **_story_context(report, base, tuned),
        **versions_context(report),
        "versions": _kv(report.get("versions")),
        "fingerprint": _kv(report.get("fingerprint")),
    }


def render_report_html(report: dict) -> str:
    """The report as a standalone HTML document (no network access needed to view it)."""
    return _env.get_template("report.html.j2").render(**report_context(report))
