"""The result of a run in a few numbers, for the top of report.html and apply's console summary.

The story is the blog's (seed 002): the base model raw, the base model behind the spec's post-processing
guard, the fine-tuned model raw and behind the guard, per holdout scenario, for the spec's first metric.
A scenario named ``general`` holds general-ability cases (prompts like the mixed-in data, never trained
on); it is reported apart, on ``exact_match`` when the spec scores it, as the change in general ability.
"""

from __future__ import annotations

from typing import Any

from ftspec.report.contract import side_result

GENERAL = "general"


def _rate(result: dict | None, key: str, metric: str, scenario: str | None) -> float | None:
    table = (result or {}).get(key) or {}
    if scenario is not None:
        table = table.get(scenario) or {}
    value = table.get(metric)
    return value if isinstance(value, (int, float)) else None


def story(report: dict) -> dict[str, Any] | None:
    """``{"metric", "guard", "rows": [{scenario, n, base, base_guard, tuned, tuned_guard}], "general"}``,
    or None when the run has no evaluation. Rates are fractions; None where a side or the guard is absent."""
    ev = report.get("eval") or {}
    base, tuned = side_result(ev, "base"), side_result(ev, "finetuned")
    if not tuned or not tuned.get("metrics"):
        return None
    names = list(tuned["metrics"])
    metric = names[0]
    guard = bool(tuned.get("metrics_postprocessed"))
    counts = tuned.get("by_scenario_n") or {}
    scenarios = [s for s in counts if s != GENERAL]

    def row(scenario: str | None, n: int) -> dict:
        return {"scenario": scenario or "all", "n": n,
                "base": _rate(base, "by_scenario" if scenario else "metrics", metric, scenario),
                "base_guard": _rate(base, "by_scenario_postprocessed" if scenario else "metrics_postprocessed",
                                    metric, scenario),
                "tuned": _rate(tuned, "by_scenario" if scenario else "metrics", metric, scenario),
                "tuned_guard": _rate(tuned, "by_scenario_postprocessed" if scenario else "metrics_postprocessed",
                                     metric, scenario)}

    rows = [row(s, counts[s]) for s in scenarios] if scenarios else [row(None, tuned.get("n") or 0)]
    general = None
    if GENERAL in counts:
        g_metric = "exact_match" if "exact_match" in names else metric
        general = {"metric": g_metric, "n": counts[GENERAL],
                   "base": _rate(base, "by_scenario", g_metric, GENERAL),
                   "tuned": _rate(tuned, "by_scenario", g_metric, GENERAL)}
    return {"metric": metric, "guard": guard, "rows": rows, "general": general}


def _f(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.2f}"


def console_lines(report: dict, run_dir: Any) -> list[str]:
    """apply's summary: one line for the run, one per scenario, one for general ability and the report."""
    actual, plan = report.get("actual") or {}, report.get("plan") or {}
    steps = actual.get("optimizer_steps")
    planned = "as planned" if steps == plan.get("optimizer_steps") else f"plan said {plan.get('optimizer_steps')}"
    train = (report.get("loss") or {}).get("train") or []
    loss = f", train loss {train[0][1]:.3f} -> {train[-1][1]:.3f}" if train else ""
    lines = [f"trained: {steps} optimizer steps ({planned}){loss}"]
    told = story(report)
    if told:
        width = max(len(r["scenario"]) for r in told["rows"])
        for r in told["rows"]:
            guard = (lambda v: f" (guard {_f(v)})") if told["guard"] else (lambda v: "")
            base = f"base {_f(r['base'])}{guard(r['base_guard'])} -> " if r["base"] is not None else ""
            lines.append(f"{told['metric']} {r['scenario']:<{width}} (n={r['n']}): {base}"
                         f"fine-tuned {_f(r['tuned'])}{guard(r['tuned_guard'])}")
        g = told["general"]
        tail = f"report {run_dir}/report.html"
        if g:
            before = f"base {_f(g['base'])} -> " if g["base"] is not None else ""
            lines.append(f"general ability ({g['metric']}, n={g['n']}): {before}fine-tuned {_f(g['tuned'])}; {tail}")
        else:
            lines.append(tail)
    else:
        lines.append(f"no holdout evaluation; report {run_dir}/report.html")
    return lines[:-1] + version_lines(report) + lines[-1:]


def version_lines(report: dict) -> list[str]:
    """The parent's scores beside this run's, and which checkpoint the weights folder holds (and why)."""
    out = []
    tuned = (report.get("eval") or {}).get("finetuned") or {}
    parent = report.get("parent")
    if parent and parent.get("eval"):
        pairs = ", ".join(f"{m} {_f(v)} -> {_f(tuned.get(m))}" for m, v in parent["eval"].items())
        worse = [m for m, v in parent["eval"].items() if tuned.get(m) is not None and v is not None and tuned[m] < v]
        out.append(f"vs parent {parent.get('name')}/{parent['run_id']} on this holdout: {pairs}"
                   + (f" (REGRESSION on {', '.join(worse)})" if worse else ""))
    selected, curve = report.get("selected"), report.get("checkpoint_eval")
    if selected and selected.get("by") != "final":
        value = f" {selected['metric']} {_f(selected['value'])}" if selected.get("value") is not None else ""
        among = f" of {len(curve)} checkpoints" if curve else ""
        out.append(f"weights: step {selected['step']} ({selected.get('checkpoint')}), best by {selected['by']}"
                   f"{among}:{value}")
    if selected and selected.get("disagreement"):
        out.append(f"note: {selected['disagreement']}")
    return out
