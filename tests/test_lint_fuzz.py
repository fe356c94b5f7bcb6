"""Property-based: corrupted datasets never make lint raise; every finding is located."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftspec.lint.engine import run_lint
from ftspec.spec.load import load_spec

GOOD_LINE = json.dumps({"messages": [{"role": "user", "content": "hi 你好"}, {"role": "assistant", "content": "K11-Pro"}]},
                       ensure_ascii=False)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
        ["messages", "role", "content", "instruction", "output", "input", "conversations", "from", "value",
         "chosen", "rejected", "prompt", "text", "tools", "label", "x"]), c, max_size=4),
    max_leaves=12,
)


def _lint(tmp_path, data: bytes, method: str, suffix: str = ".jsonl"):
    train = tmp_path / f"train{suffix}"
    train.write_bytes(data)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nname: fuzz\nmethod: {method}\ndata: {{train: train{suffix}, validation: 0.2}}\n")
    findings = run_lint(load_spec(spec))
    for f in findings:
        assert f.severity in ("error", "warning", "info") and f.code.startswith("FT") and f.message
        if f.path.endswith(suffix):
            assert f.line is None or f.line >= 1
    return findings


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(json_values, max_size=8), method=st.sampled_from(["sft", "dpo", "cpt"]))
def test_wrong_shaped_records(tmp_path, lines, method):
    data = "\n".join([GOOD_LINE] + [json.dumps(v, ensure_ascii=False) for v in lines]) + "\n"
    _lint(tmp_path, data.encode(), method)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(GOOD_LINE.encode())), noise=st.binary(max_size=40),
       suffix=st.sampled_from([".jsonl", ".json", ".txt"]))
def test_truncated_and_corrupted_bytes(tmp_path, cut, noise, suffix):
    raw = (GOOD_LINE + "\n").encode() * 3
    data = raw + raw[:cut] + noise
    _lint(tmp_path, data, "sft", suffix)


def test_corrupted_line_is_reported_with_its_line_number(tmp_path):
    data = (GOOD_LINE + "\n" + '{"messages": [{"role": "user"' + "\n" + GOOD_LINE + "\n").encode()
    findings = _lint(tmp_path, data, "sft")
    bad = [f for f in findings if f.code == "FT301"]
    assert bad and bad[0].line == 2 and bad[0].path.endswith("train.jsonl")
