"""`ftspec compare`: what differs between runs (their resolved specs) and what it did to the holdout metrics, steps,
tokens, time and cost. The result is one JSON-able dict; the CLI prints it and ``ftspec.report.compare_html`` draws
it. Unfinished runs take part with their status: a half-done sweep is still worth comparing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftspec.report.compare_html import duration
from ftspec.runfolder.contract import SPEC
from ftspec.runs.listing import (FINAL, FINISHED, VALIDATION_LOSS, Run, RunsError, is_number, is_run_folder, number,
                                  read_run)

ABSENT = "(absent)"
NOT_STARTED = "not started"  # a sweep member `ftspec apply` has not reached yet


def member_runs(spec_path: Path) -> list[Run]:
    """The runs of a spec's ``sweep:`` members, each with the values it sets; a member not started yet takes part
    as such, so a half-done sweep shows what is missing."""
    from ftspec.spec.load import SpecErrors, load_spec

    try:
        loaded = load_spec(spec_path)
    except SpecErrors as exc:
        raise RunsError(f"{spec_path}: {exc.errors[0].message}") from None
    if loaded.spec.sweep is None:
        raise RunsError(f"{spec_path}: the spec has no sweep: section; compare its run folders instead "
                        f"(`ftspec runs {spec_path}` lists them)")
    from ftspec.plan.planning import NoPlan
    from ftspec.runs.sweep import member_run_dirs  # plans every member: only a sweep pays for it

    try:
        members = member_run_dirs(loaded)
    except SpecErrors as exc:
        raise RunsError(f"{spec_path}: {exc.errors[0].message}") from None
    except NoPlan as exc:
        first = exc.findings[0].message if exc.findings else ""
        raise RunsError(f"{exc.message}{': ' + first if first else ''}") from None
    runs = []
    for values, run_dir in members:
        run = read_run(run_dir) if is_run_folder(run_dir) else Run(dir=run_dir, status=NOT_STARTED)
        run.extra["values"] = values
        runs.append(run)
    if all(r.status == NOT_STARTED for r in runs):
        raise RunsError(f"{spec_path}: no member of its sweep has run yet (`ftspec apply {spec_path}` runs them)")
    return runs


def target_runs(targets: list[str]) -> list[Run]:
    """The runs to compare: run folders, or the members of one spec's sweep."""
    if not targets:
        raise RunsError("name two or more run folders, or a spec with a sweep: section")
    paths = [Path(t) for t in targets]
    if len(paths) == 1 and paths[0].is_file():
        return member_runs(paths[0])
    runs = []
    for path in paths:
        if not path.exists():
            raise RunsError(f"{path}: no such file or folder")
        if path.is_file():
            raise RunsError(f"{path}: a spec compares alone (its sweep's members); name run folders otherwise")
        if not is_run_folder(path):
            raise RunsError(f"{path}: not a run folder (it holds no spec.yaml, plan.json or report.json)")
        runs.append(read_run(path))
    return runs


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaf values; lists are leaves (an edited list is one change, not a dozen)."""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree} if prefix else {}


def resolved_spec(run: Run) -> dict | None:
    """plan.json's resolved spec (extends merged, defaults filled); spec.yaml as written when there is no plan."""
    spec = (run.plan or {}).get("spec")
    if isinstance(spec, dict):
        return spec
    import yaml

    try:
        spec = yaml.safe_load((run.dir / SPEC).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):  # the inputs are unknown; the run still takes part
        return None
    return spec if isinstance(spec, dict) else None


def differing_inputs(specs: list[dict | None]) -> dict[str, list[Any]]:
    """Every dotted key whose value is not the same in all runs with a spec, and its value in each run."""
    flat = [flatten(s) if s is not None else None for s in specs]
    keys: list[str] = []
    for table in flat:
        keys += [k for k in (table or {}) if k not in keys]
    out = {}
    for key in keys:
        values = [ABSENT if table is None else table.get(key, ABSENT) for table in flat]
        known = [json.dumps(v, sort_keys=True, default=str) for v, t in zip(values, flat) if t is not None]
        if len(set(known)) > 1:
            out[key] = values
    return out


def show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def diff_lines(reference: dict, values: dict[str, Any]) -> list[str]:
    """Terraform-style lines against the reference run: ``~`` changed, ``+`` only here, ``-`` only there."""
    lines = []
    for key, value in values.items():
        ref = reference[key]
        if ref == value:
            continue
        if ref == ABSENT:
            lines.append(f"+ {key}: {show(value)}")
        elif value == ABSENT:
            lines.append(f"- {key}: {show(ref)}")
        else:
            lines.append(f"~ {key}: {show(ref)} → {show(value)}")
    return lines


def by_scenario(report: dict | None, side: str) -> dict[str, dict[str, float]]:
    details = (((report or {}).get("eval") or {}).get("details") or {}).get(side) or {}
    table = details.get("by_scenario") or {}
    return {str(s): dict(m) for s, m in table.items() if isinstance(m, dict)}


def actual_or_planned(actual: Any, planned: Any) -> dict:
    return {"planned": planned, "actual": actual}


def run_entry(run: Run) -> dict:
    report, plan = run.report or {}, run.plan or {}
    evals = report.get("eval") or {}
    actual, planned = report.get("actual") or {}, report.get("plan") or plan
    tokens = planned.get("train_tokens")
    runtime = actual.get("train_runtime_s")
    return {
        **run.summary(),
        "sweep": report.get("sweep") or plan.get("sweep"),
        "values": run.extra.get("values"),
        "error": (run.error or {}).get("message") or (run.error or {}).get("error"),
        "base": evals.get("base"),
        "finetuned": evals.get("finetuned"),
        "base_by_scenario": by_scenario(report, "base"),
        "finetuned_by_scenario": by_scenario(report, "finetuned"),
        "optimizer_steps": actual_or_planned(actual.get("optimizer_steps"), planned.get("optimizer_steps")),
        "train_tokens": actual_or_planned(actual.get("train_tokens_seen"),
                                          tokens.get("total") if isinstance(tokens, dict) else tokens),
        "wall_time_hours": actual_or_planned(None if runtime is None else runtime / 3600,
                                             planned.get("wall_time_hours")),
        "cost_usd": planned.get("cost_usd"),
        "selected": report.get("selected"),
        "loss": {"train": (report.get("loss") or {}).get("train") or [],
                 "validation": (report.get("loss") or {}).get("validation") or []},
        "checkpoint_eval": report.get("checkpoint_eval"),
    }


def lower_is_better(metric: str) -> bool:
    return metric.endswith("loss")


def _validation_loss_at(entry: dict) -> float | None:
    step = (entry["selected"] or {}).get("step")
    return next((v for s, v in entry["loss"]["validation"] if s == step), None)


def best_run(entries: list[dict]) -> dict | None:
    """The best finished run: by what every run selected its checkpoint by when they all agree (a metric, or the
    validation loss at the selected step), else by the first fine-tuned holdout metric; ``tied`` names every run
    with the best value."""
    done = [e for e in entries if e["status"] == FINISHED]
    chosen = {(e["selected"] or {}).get("by") for e in done}
    agreed = chosen.pop() if len(chosen) == 1 else None
    if agreed == VALIDATION_LOSS:
        metric, scores = agreed, {e["run_id"]: _validation_loss_at(e) for e in done}
    else:
        metric = agreed if agreed not in (None, FINAL) else next(
            (name for e in done for name in (e["finetuned"] or {})), None)
        scores = {e["run_id"]: (e["finetuned"] or {}).get(metric) for e in done}
    scores = {k: v for k, v in scores.items() if is_number(v)}
    if metric is None or not scores:
        return None
    pick = min if lower_is_better(metric) else max
    value = pick(scores.values())
    tied = [k for k, v in scores.items() if v == value]
    return {"metric": metric, "run_id": tied[0], "value": value, "tied": tied,
            "lower_is_better": lower_is_better(metric)}


def swept_key(differs: dict[str, list[Any]], entries: list[dict]) -> str | None:
    """The one input that differs, when its values are numbers: the x axis of the metric-by-value plot."""
    if len(differs) != 1:
        return None
    key, values = next(iter(differs.items()))
    usable = [v for v, e in zip(values, entries) if e["status"] == FINISHED]
    if usable and all(is_number(v) for v in usable):
        return key
    return None


def compare_runs(runs: list[Run]) -> dict:
    """The comparison: every run's entry, the inputs that differ (and each run's diff against the first), the base
    scores, the swept key and the best run."""
    entries = [run_entry(r) for r in runs]
    specs = [resolved_spec(r) for r in runs]
    differs = differing_inputs(specs)
    ref_index = next((i for i, s in enumerate(specs) if s is not None), 0)
    reference = {k: v[ref_index] for k, v in differs.items()}
    for i, entry in enumerate(entries):
        entry["inputs"] = {k: v[i] for k, v in differs.items()}
        entry["diff"] = [] if i == ref_index or specs[i] is None else diff_lines(reference, entry["inputs"])
    bases = [e["base"] for e in entries if e["base"]]
    base_scenarios = next((e["base_by_scenario"] for e in entries if e["base_by_scenario"]), {})
    return {"runs": entries, "reference": entries[ref_index]["run_id"] if entries else None,
            "differs": differs, "swept": swept_key(differs, entries),
            "base": bases[0] if bases else None, "base_by_scenario": base_scenarios,
            "base_varies": any(b != bases[0] for b in bases), "best": best_run(entries)}


def metric_names(comparison: dict) -> list[str]:
    names: list[str] = []
    for entry in comparison["runs"]:
        for table in (entry["finetuned"], entry["base"]):
            names += [n for n in table or {} if n not in names]
    return names


def scenarios(comparison: dict) -> list[str]:
    found: list[str] = []
    for entry in comparison["runs"]:
        found += [s for s in entry["finetuned_by_scenario"] if s not in found]
    return sorted(found)


def _cell(value: Any) -> str:
    return "-" if value is None else number(value)


def render_text(comparison: dict) -> list[str]:
    """The comparison for a terminal: inputs, holdout metrics, cost, and the verdict."""
    runs = comparison["runs"]
    ids = [e["run_id"] for e in runs]
    lines = ["runs:"]
    lines += [f"  {e['run_id']}  {e['name']}  {e['status']}" + (f" ({e['error']})" if e["error"] else "")
              for e in runs]
    lines.append("")
    if comparison["differs"]:
        lines.append(f"inputs that differ (against {comparison['reference']}):")
        for entry in runs:
            if entry["run_id"] != comparison["reference"]:
                lines.append(f"  {entry['run_id']}:")
                lines += [f"    {line}" for line in entry["diff"]] or ["    (no spec to compare)"]
    else:
        lines.append("inputs: the resolved specs are the same")
    names = metric_names(comparison)
    if names:
        lines += ["", "holdout metrics (base, then each run):"]
        header = ["scenario", "metric", "base", *ids]
        rows = [["(all)", n, _cell((comparison["base"] or {}).get(n)),
                 *[_cell((e["finetuned"] or {}).get(n)) for e in runs]] for n in names]
        for scenario in scenarios(comparison):
            base = comparison["base_by_scenario"].get(scenario) or {}
            rows += [[scenario, n, _cell(base.get(n)),
                      *[_cell((e["finetuned_by_scenario"].get(scenario) or {}).get(n)) for e in runs]] for n in names]
        lines += _table(header, rows)
        if comparison["base_varies"]:
            lines.append("  (the base scores differ between runs: their holdouts or eval settings differ)")
    lines += ["", "cost:"]
    rows = [[e["run_id"], _cell(e["optimizer_steps"]["actual"] or e["optimizer_steps"]["planned"]),
             _cell(e["train_tokens"]["actual"] or e["train_tokens"]["planned"]),
             duration(e["wall_time_hours"]["actual"]), duration(e["wall_time_hours"]["planned"]),
             "-" if e["cost_usd"] is None else f"${e['cost_usd']:.2f}"] for e in runs]
    lines += _table(["run", "optimizer steps", "tokens", "wall time", "planned time", "cost (planned)"], rows)
    best = comparison["best"]
    lines.append("")
    if best is None:
        lines.append("best: no finished run has a holdout metric")
    elif len(best["tied"]) > 1:
        lines.append(f"best: a tie on {best['metric']}={number(best['value'])} between {', '.join(best['tied'])}")
    else:
        lines.append(f"best: {best['run_id']} by {best['metric']}={number(best['value'])}")
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    return ["  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in (header, *rows)]
