import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftspec.scoring.metrics import apply_postprocess, evaluate_outputs, metric_name, score_sample
from ftspec.spec.schema import PostProcess, RegexMetric

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = ROOT / "examples" / "quickstart" / "holdout.jsonl"
GUARD = [{"regex": r"\s*([-/])\s*", "replace": r"\1"}]


def test_exact_match_and_contains():
    assert score_sample("exact_match", "  Sikalastic-609\n", "Sikalastic-609")
    assert not score_sample("exact_match", "型号:Sikalastic-609", "Sikalastic-609")
    assert score_sample("contains", "型号:Sikalastic-609", " Sikalastic-609 ")
    assert not score_sample("contains", "Sikalastic - 609", "Sikalastic-609")


@pytest.mark.parametrize("text, ok", [
    ('{"a": 1}', True), ("[1, 2]", True), ('```json\n{"a": [1]}\n```', True), ("```\n3\n```", True),
    ("{'a': 1}", False), ("", False), ("sure: {}", False),
])
def test_json_valid(text, ok):
    assert score_sample("json_valid", text, "") is ok


@pytest.mark.parametrize("prediction, reference, ok", [
    ("Positive", "positive", True), ("positive.", "Positive", True), ("积极。", "积极", True),
    ("positive, because the user is happy", "positive", True), ("positive: yes", "positive", True),
    ("positively", "positive", False), ("negative", "positive", False), ("", "positive", False),
])
def test_accuracy(prediction, reference, ok):
    assert score_sample("accuracy", prediction, reference) is ok


def test_regex_metric_and_names():
    metric = {"regex": r"^\d+$", "name": "digits"}
    assert score_sample(metric, "42", "") and not score_sample(metric, "42a", "")
    assert metric_name(metric) == "digits"
    assert metric_name({"regex": "x+"}) == "regex:x+"
    assert metric_name(RegexMetric(regex="x+")) == "regex:x+"
    assert score_sample(RegexMetric(regex="x+"), "axxb", "")
    with pytest.raises(ValueError, match="unknown metric"):
        score_sample("bleu", "a", "b")


@pytest.mark.parametrize("prediction, reference, ok", [
    ("Sikalastic-609", "Sikalastic-609", True),
    ("好的,Sikalastic-609 有货。", "Sikalastic-609", True),
    ("Sikalastic - 609", "Sikalastic-609", False),
    ("Sikalastic -609", "Sikalastic-609", False),
    ("Sikalastic- 609", "Sikalastic-609", False),
    ("Sikalastic-609 或 PE19 / 24", "Sikalastic-609", False),  # a spaced symbol the reference lacks
    ("PE19/24", "PE19/24", True),
    ("水吧台/岛台区域", "水吧台/岛台区域", True),
    ("水吧台 / 岛台区域", "水吧台/岛台区域", False),
    ("型号:Tremco-755/3", "型号:Tremco-755/3", True),
    ("Tremco-755/3", "型号:Tremco-755/3", False),  # the whole non-whitespace run must survive
    ("Sikalastic-609 20kg/桶", "Sikalastic-609 20kg/桶", True),
    ("Sikalastic-609 20kg / 桶", "Sikalastic-609 20kg/桶", False),
    ("Sikalastic-609", "Sikalastic-609 20kg/桶", False),
    ("9 - 4 = 5", "9 - 4 = 5", True),  # spacing the reference itself has is kept, not punished
    ("hello", "hello", True),
    ("a - b", "hello", False),
])
def test_format_alignment(prediction, reference, ok):
    assert score_sample("format_alignment", prediction, reference) is ok


def test_postprocess_rules_apply_in_order():
    rules = [{"regex": "a", "replace": "b"}, PostProcess(regex="b+", replace="c")]
    assert apply_postprocess("aab", rules) == "c"
    assert apply_postprocess("Sikalastic - 609, 水吧台 / 岛台区域", GUARD) == "Sikalastic-609, 水吧台/岛台区域"
    assert apply_postprocess("x", None) == "x"


def _holdout():
    return [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines()]


def test_quickstart_holdout_references_align_with_themselves():
    for record in _holdout():
        ref = record["messages"][-1]["content"]
        assert score_sample("format_alignment", ref, ref), ref
        assert score_sample("exact_match", ref, ref)


@given(index=st.integers(0, 127), side=st.sampled_from([" {}", "{} ", " {} "]), which=st.integers(0, 10))
def test_any_inserted_space_fails_and_the_guard_fixes_it(index, side, which):
    ref = _holdout()[index]["messages"][-1]["content"]
    symbols = [m.start() for m in re.finditer(r"[-/]", ref)]
    at = symbols[which % len(symbols)]
    broken = ref[:at] + side.format(ref[at]) + ref[at + 1:]
    assert not score_sample("format_alignment", broken, ref)
    assert score_sample("format_alignment", apply_postprocess(broken, GUARD), ref)


def test_evaluate_outputs_shapes_and_rates():
    prompt = [{"role": "user", "content": "Is PE19/24 in stock?"}]
    samples = [
        {"prompt": prompt, "reference": "PE19/24", "output": "PE19/24", "scenario": "trained"},
        {"prompt": prompt, "reference": "PE19/24", "output": "PE19 / 24", "scenario": "trained"},
        {"prompt": prompt, "reference": "Ardex-12-30/B", "output": "Ardex - 12-30/B", "scenario": "untrained"},
        {"prompt": prompt, "reference": "Ardex-12-30/B", "output": "Ardex", "scenario": "untrained"},
    ]
    result = evaluate_outputs(samples, ["exact_match", "format_alignment", {"regex": "Ardex", "name": "brand"}], GUARD)
    assert result["n"] == 4
    assert result["metrics"] == {"exact_match": 0.25, "format_alignment": 0.25, "brand": 0.5}
    # The guard fixes spacing but cannot restore what the model dropped.
    assert result["metrics_postprocessed"] == {"exact_match": 0.75, "format_alignment": 0.75, "brand": 0.5}
    assert result["by_scenario"]["trained"]["format_alignment"] == 0.5
    assert result["by_scenario"]["untrained"]["format_alignment"] == 0.0
    assert result["by_scenario_postprocessed"]["untrained"]["format_alignment"] == 0.5
    assert result["by_scenario_n"] == {"trained": 2, "untrained": 2}
    second = result["samples"][1]
    assert second["index"] == 1 and second["output"] == "PE19 / 24" and second["output_postprocessed"] == "PE19/24"
    assert second["scores"]["format_alignment"] is False and second["scores_postprocessed"]["format_alignment"] is True
    assert second["prompt"] == prompt and second["scenario"] == "trained"
    json.dumps(result)  # the result goes straight into report.json


def test_evaluate_outputs_without_rules_or_scenarios():
    result = evaluate_outputs([{"prompt": [], "reference": "a", "output": "a"}], ["exact_match"], [])
    assert result["metrics"] == {"exact_match": 1.0}
    assert "metrics_postprocessed" not in result and "by_scenario" not in result
    assert "scores_postprocessed" not in result["samples"][0]
    assert evaluate_outputs([], ["exact_match"])["metrics"] == {"exact_match": None}
    with pytest.raises(ValueError, match="duplicate"):
        evaluate_outputs([], ["exact_match", {"regex": "x", "name": "exact_match"}])


def test_format_alignment_needs_the_whole_code_not_a_prefix_of_a_longer_one():
    from ftspec.scoring.metrics import score_sample

    assert not score_sample("format_alignment", "Knauf-425/6", "Knauf-425")
    assert not score_sample("format_alignment", "SBS-III", "SBS-II")
    assert score_sample("format_alignment", "型号:Knauf-425。", "Knauf-425")
    assert score_sample("format_alignment", "Use Knauf-425 here", "Knauf-425")
