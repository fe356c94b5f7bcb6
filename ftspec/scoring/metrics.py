"""Holdout metrics: deterministic, per-sample pass/fail scores and their rates (stdlib only).

Metric definitions (``prediction`` is the model output, ``reference`` the expected assistant turn):

- ``exact_match``: ``prediction.strip() == reference.strip()``.
- ``contains``: ``reference.strip()`` occurs in the prediction.
- ``json_valid``: the prediction, with surrounding Markdown code fences removed, parses as JSON.
- ``accuracy``: classification label match. Both sides are normalised (strip, casefold, strip
  trailing punctuation); the sample passes if they are equal, or if the prediction starts with the
  reference label followed by a non-alphanumeric character (``"positive, because ..."``).
- ``format_alignment``: the output keeps the reference's symbol format. Every maximal
  non-whitespace run of the reference that contains "-" or "/" (``Sikalastic-609``,
  ``型号:Tremco-755/3``, ``20kg/桶``) appears verbatim in the prediction, and the prediction has no
  whitespace beside a "-" or "/" beyond what the reference itself has. So ``Sikalastic - 609`` fails
  against ``Sikalastic-609``, while ``9 - 4`` passes against ``9 - 4``. A reference with no such run
  passes iff the prediction adds no spaced symbols.
- ``{regex: PATTERN, name: NAME}``: ``re.search(PATTERN, prediction)`` finds a match.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from typing import Any, Iterable

BUILTIN_METRICS = ("exact_match", "contains", "json_valid", "accuracy", "format_alignment")

_SYMBOLS = "-/"
_FENCE = re.compile(r"^```[^\n]*\n?(.*?)\n?```$", re.DOTALL)
# A "-" or "/" with whitespace on at least one side; the whole spaced form is the unit compared.
_SPACED_SYMBOL = re.compile(r"\s+[-/]\s*|[-/]\s+")


def _field(obj: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a dict or a spec model object alike."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def apply_postprocess(text: str, rules: Iterable[Any] | None) -> str:
    """Apply ``[{regex, replace}]`` rules in order with ``re.sub``."""
    for rule in rules or ():
        text = re.sub(_field(rule, "regex"), _field(rule, "replace", "") or "", text)
    return text


def metric_name(metric: Any) -> str:
    """A built-in metric's name, or a regex metric's ``name`` (default ``regex:<pattern>``)."""
    if isinstance(metric, str):
        return metric
    return _field(metric, "name") or f"regex:{_field(metric, 'regex')}"


def _normalise_label(text: str) -> str:
    text = text.strip().casefold()
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1].rstrip()
    return text


def _accuracy(prediction: str, reference: str) -> bool:
    pred, ref = _normalise_label(prediction), _normalise_label(reference)
    if pred == ref:
        return True
    return bool(ref) and pred.startswith(ref) and not pred[len(ref)].isalnum()


def json_valid(prediction: str) -> bool:
    text = prediction.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _spaced_symbols(text: str) -> Counter:
    # Whitespace kinds and widths are folded together: " - " and "\t-  " are the same defect.
    return Counter(re.sub(r"\s+", " ", m.group()) for m in _SPACED_SYMBOL.finditer(text))


def _appears_whole(run: str, text: str) -> bool:
    """``run`` occurs in ``text`` and is not part of a longer code ("Knauf-425" is not in "Knauf-425/6")."""
    return re.search(rf"(?<![A-Za-z0-9/-]){re.escape(run)}(?![A-Za-z0-9/-])", text) is not None


def _format_alignment(prediction: str, reference: str) -> bool:
    runs = [run for run in reference.split() if any(s in run for s in _SYMBOLS)]
    if not all(_appears_whole(run, prediction) for run in runs):
        return False
    return not (_spaced_symbols(prediction) - _spaced_symbols(reference))


def score_sample(metric: Any, prediction: str, reference: str) -> bool:
    """Whether one prediction passes one metric (see the module docstring for the definitions)."""
    if not isinstance(metric, str):
        return re.search(_field(metric, "regex"), prediction) is not None
    if metric == "exact_match":
        return prediction.strip() == reference.strip()
    if metric == "contains":
        return reference.strip() in prediction
    if metric == "json_valid":
        return json_valid(prediction)
    if metric == "accuracy":
        return _accuracy(prediction, reference)
    if metric == "format_alignment":
        return _format_alignment(prediction, reference)
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(BUILTIN_METRICS)} or a regex metric")


def _rates(score_rows: list[dict[str, bool]], names: list[str]) -> dict[str, float | None]:
    # An empty set has no rate; None renders as a dash rather than a misleading 0%.
    if not score_rows:
        return {name: None for name in names}
    return {name: sum(row[name] for row in score_rows) / len(score_rows) for name in names}


def evaluate_outputs(samples: list[dict], metrics: Iterable[Any], postprocess: Iterable[Any] | None = None) -> dict:
    """Score model outputs against references, raw and post-processed separately.

    ``samples``: ``[{"prompt": [messages], "reference": str, "output": str, "scenario"?: str}]``.

    Returns ``{"n", "metrics": {name: rate}, "samples": [...]}`` plus, when postprocess rules exist,
    ``"metrics_postprocessed"``, and, when any sample has a scenario, ``"by_scenario"`` /
    ``"by_scenario_n"`` (and ``"by_scenario_postprocessed"`` with rules). Each per-sample entry is
    ``{"index", "scenario", "prompt", "reference", "output", "output_postprocessed", "scores"}``
    plus ``"scores_postprocessed"`` with rules. Rates are fractions in [0, 1], None when n is 0.
    Raw and post-processed scores stay apart so the regex guard never takes credit for the model.
    """
    metrics = list(metrics)
    rules = list(postprocess or [])
    names = [metric_name(m) for m in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate metric names: {names}")

    rows = []
    for index, sample in enumerate(samples):
        output, reference = sample.get("output") or "", sample.get("reference") or ""
        fixed = apply_postprocess(output, rules)
        row = {
            "index": index,
            "scenario": sample.get("scenario"),
            "prompt": sample.get("prompt") or [],
            "reference": reference,
            "output": output,
            "output_postprocessed": fixed,
            "scores": {name: score_sample(m, output, reference) for name, m in zip(names, metrics)},
        }
        if rules:
            row["scores_postprocessed"] = {name: score_sample(m, fixed, reference) for name, m in zip(names, metrics)}
        rows.append(row)

    result: dict[str, Any] = {"n": len(rows), "metrics": _rates([r["scores"] for r in rows], names)}
    if rules:
        result["metrics_postprocessed"] = _rates([r["scores_postprocessed"] for r in rows], names)
    scenarios = sorted({r["scenario"] for r in rows if r["scenario"] is not None}, key=str)
    if scenarios:
        groups = {s: [r for r in rows if r["scenario"] == s] for s in scenarios}
        result["by_scenario"] = {s: _rates([r["scores"] for r in g], names) for s, g in groups.items()}
        result["by_scenario_n"] = {s: len(g) for s, g in groups.items()}
        if rules:
            result["by_scenario_postprocessed"] = {
                s: _rates([r["scores_postprocessed"] for r in g], names) for s, g in groups.items()
            }
    result["samples"] = rows
    return result
