"""Lint specs pointing at the real LLaMA-Factory demo datasets."""

import pytest

from ftspec.data.formats import detect_format
from ftspec.methods import get_method
from ftspec.data.reader import read_records
from ftspec.lint.engine import run_lint
from ftspec.spec.load import load_spec

from support import SHARED_DATA

DATA = SHARED_DATA
FILES = sorted(p.name for p in DATA.glob("*")) if DATA.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason="real datasets not available")


def method_for(name: str) -> str:
    return "dpo" if name.startswith("dpo") else "cpt" if name.startswith(("c4", "wiki")) else "sft"


def lint(tmp_path, name, method=None, extra=""):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: t\nmethod: {method or method_for(name)}\ndata:\n  train: {DATA / name}\n  validation: 0.2\n{extra}")
    return run_lint(load_spec(spec))


@pytest.mark.parametrize("name", FILES)
def test_no_crash_and_no_format_errors(tmp_path, name):
    findings = lint(tmp_path, name)
    assert not [f for f in findings if f.code in ("FT003",)]
    if not name.startswith("kto"):
        assert not [f for f in findings if f.code == "FT301"], [f.message for f in findings if f.code == "FT301"][:3]


def test_identity_below_recommended(tmp_path):
    found = [f for f in lint(tmp_path, "identity.json") if f.code == "FT102"]
    assert found and "91 SFT examples" in found[0].message


def test_kto_label_flagged(tmp_path):
    found = [f for f in lint(tmp_path, "kto_en_demo.json") if f.code == "FT304"]
    assert found and "300 records" in found[0].message and found[0].path.endswith("kto_en_demo.json")


def test_glaive_tool_calls_parse():
    items = list(read_records(DATA / "glaive_toolcall_en_demo.json"))
    assert len(items) == 300 and all(i.error is None for i in items)
    assert items[0].line == 2
    rec = items[0].record
    fmt = detect_format(rec)
    assert fmt == "sharegpt"
    problems, canon = get_method("sft").convert(rec, fmt)
    assert canon["tools"] and any(m.get("tool_calls") for m in canon["messages"])
    assert any(m["role"] == "tool" for m in canon["messages"])
    assert problems == []


def test_dpo_sharegpt_pairs(tmp_path):
    findings = lint(tmp_path, "dpo_en_demo.json")
    assert not [f for f in findings if f.code in ("FT103", "FT301")]


def test_cpt_token_volume(tmp_path):
    found = [f for f in lint(tmp_path, "wiki_demo.txt") if f.code == "FT104"]
    assert found and "exact (model tokenizer" in found[0].message  # builtin:tiny has a tokenizer


def test_glaive_tool_calls_name_defined_tools(tmp_path):
    # Independently of lint: every function_call in the file names a function of its record's tools.
    import json

    undefined = 0
    for item in read_records(DATA / "glaive_toolcall_en_demo.json"):
        tools = {t["name"] for t in json.loads(item.record.get("tools") or "[]")}
        for turn in item.record["conversations"]:
            if turn["from"] == "function_call" and json.loads(turn["value"])["name"] not in tools:
                undefined += 1
    found = [f for f in lint(tmp_path, "glaive_toolcall_en_demo.json") if f.code == "FT308"]
    assert (undefined == 0) == (not found)


def test_profiles_on_real_data(tmp_path):
    openai = lint(tmp_path, "glaive_toolcall_en_demo.json", extra="lint:\n  profile: openai\n")
    assert any(f.code == "FT602" and "is sharegpt data; openai takes messages" in f.message for f in openai)
    reason = lint(tmp_path, "reason_tool_use_demo_50.jsonl", extra="lint:\n  profile: openai\n")
    roles = [f for f in reason if f.code == "FT602" and "unrecognized_role: 'tool'" in f.message]
    assert roles and roles[0].path.endswith("reason_tool_use_demo_50.jsonl")
    # Every record of the reasoning demo has reasoning: no mixed thinking mode.
    assert not [f for f in reason if f.code == "FT309"]
    assert [f for f in reason if f.code == "FT305"][0].message.startswith("50 records")


def test_kto_file_leaves_no_training_rows(tmp_path):
    found = [f for f in lint(tmp_path, "kto_en_demo.json") if f.code == "FT110"]
    assert found and "300 KTO-labelled" in found[0].message
