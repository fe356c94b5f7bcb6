"""Every rule fires on a fixture that breaks it and stays silent on one that doesn't.

Fixtures are (spec YAML body, {file: content}) pairs written into tmp_path. A rule without an
entry in CASES fails ``test_every_rule_has_fixtures``.
"""

from __future__ import annotations

import json

import pytest

from ftspec.lint import run_lint
from ftspec.load import load_spec
from ftspec.rules import all_rules, get_rule


def chat(i: int, answer: str | None = None) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                    {"role": "assistant", "content": answer or f"answer {i}"}]})


def lines(n: int, start: int = 0) -> str:
    return "\n".join(chat(i) for i in range(start, start + n)) + "\n"


def pairs(n: int) -> str:
    return "\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}],
                                 "chosen": {"role": "assistant", "content": f"good {i}"},
                                 "rejected": {"role": "assistant", "content": f"bad {i}"}}) for i in range(n)) + "\n"


GOOD_EVAL = "eval:\n  holdout: hold.jsonl\n"
BASE = "name: t\ndata:\n  train: train.jsonl\n  validation: 0.2\n"
OK_FILES = {"train.jsonl": lines(2000), "hold.jsonl": lines(20, start=100000)}


def ok(extra: str = "", **files):
    return (BASE + extra + GOOD_EVAL, {**OK_FILES, **files})


def _model_files(template: str) -> dict:
    from ftspec.models.tiny import tiny_model_dir

    tiny = tiny_model_dir(with_weights=False)
    files = {f"m/{name}": (tiny / name).read_text(encoding="utf-8")
             for name in ("config.json", "tokenizer.json", "tokenizer_config.json")}
    return {**files, "m/chat_template.jinja": template}


CASES = {
    "FT001": (ok("model:\n  base: some-org/some-model\n"), ok("model:\n  base: some-org/some-model\n  revision: " + "a" * 40 + "\n")),
    "FT002": (ok("model:\n  trust_remote_code: true\n"), ok()),
    "FT003": (("name: t\ndata:\n  train: nope.jsonl\n", {}), ok()),
    "FT004": (ok("model:\n  base: ./m\n", **_model_files("{% for m in messages %}{{ m.content }}")),
              ok("model:\n  base: ./m\n", **_model_files("{% for m in messages %}{{ m.content }}{% endfor %}"))),
    "FT101": (ok(**{"train.jsonl": lines(5)}), ok()),
    "FT102": (ok(**{"train.jsonl": lines(60)}), ok()),
    "FT103": (ok("method: dpo\n", **{"train.jsonl": pairs(40)}), ok("method: dpo\n", **{"train.jsonl": pairs(150)})),
    "FT104": (("name: t\nmethod: cpt\ndata:\n  train: w.txt\n", {"w.txt": "hello world\n" * 50}), ok()),
    "FT105": (ok(**{"train.jsonl": lines(100)}), ok()),
    "FT201": (ok("adapter:\n  rank: 32\n  alpha: 8\n"), ok("adapter:\n  rank: 64\n  alpha: 6\n")),
    "FT202": (ok("training:\n  learning_rate: 0.001\n"), ok("training:\n  learning_rate: 0.0001\n")),
    "FT203": (ok("training:\n  epochs: 20\n"), ok("training:\n  epochs: 3\n")),
    "FT204": ((BASE.replace("  validation: 0.2\n", "  validation: 0.2\n  mix:\n    - {path: g.jsonl, ratio: 0.5}\n") + GOOD_EVAL,
               {**OK_FILES, "g.jsonl": lines(10, 5000)}),
              (BASE.replace("  validation: 0.2\n", "  validation: 0.2\n  mix:\n    - {path: g.jsonl, ratio: 0.2}\n") + GOOD_EVAL,
               {**OK_FILES, "g.jsonl": lines(10, 5000)})),
    "FT301": (ok(**{"train.jsonl": lines(2000) + '{"messages": [{"role": "bot", "content": "x"}]}\n{broken\n'}), ok()),
    "FT302": ((BASE + "  max_length: 16\n" + GOOD_EVAL, {**OK_FILES, "train.jsonl": lines(2000) + chat(1, "x" * 400) + "\n"}),
              ok()),
    "FT303": (ok(**{"train.jsonl": lines(2000) + chat(3) + "\n"}), ok()),
    "FT304": (ok(**{"train.jsonl": lines(2000) + json.dumps({"messages": [{"role": "user", "content": "a"},
                                                             {"role": "assistant", "content": "b"}], "label": True}) + "\n"}), ok()),
    "FT305": (ok(**{"train.jsonl": lines(2000) + json.dumps({"messages": [{"role": "user", "content": "a"},
                                                             {"role": "assistant", "content": "b", "reasoning_content": "think"}]}) + "\n"}), ok()),
    "FT306": (ok(**{"train.jsonl": lines(2000) + json.dumps({"conversations": [{"from": "human", "value": "a"},
                 {"from": "function_call", "value": "{}"}, {"from": "observation", "value": "{}"},
                 {"from": "gpt", "value": "done"}]}) + "\n"}), ok()),
    "FT401": (("name: t\ndata:\n  train: train.jsonl\n" + GOOD_EVAL, OK_FILES), ok()),
    "FT402": (ok(**{"hold.jsonl": lines(3, start=10)}), ok()),
    "FT403": ((BASE + "eval:\n  baseline: false\n", OK_FILES), ok()),
}


def _lint(tmp_path, case, code):
    body, files = case
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(body, encoding="utf-8")
    return [f for f in run_lint(load_spec(tmp_path / "spec.yaml")) if f.code == code]


RULE_CODES = [r.code for r in all_rules()]


def test_every_rule_has_fixtures():
    assert sorted(CASES) == sorted(RULE_CODES)


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_fires_on_bad_fixture(tmp_path, code):
    assert code in CASES, f"{code} has no fixtures"
    found = _lint(tmp_path, CASES[code][0], code)
    assert found, f"{code} did not fire"


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_silent_on_good_fixture(tmp_path, code):
    assert code in CASES, f"{code} has no fixtures"
    assert _lint(tmp_path, CASES[code][1], code) == []


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_metadata(code):
    r = get_rule(code)
    assert r.severity in ("error", "warning", "info") and r.summary and r.name
    for part in ("What it does", "Why it matters", "Example", "Source guide"):
        assert part in r.docs


def test_format_error_has_file_and_line(tmp_path):
    found = _lint(tmp_path, CASES["FT301"][0], "FT301")
    assert {f.line for f in found} == {2001, 2002}
    assert all(f.path.endswith("train.jsonl") for f in found)


def test_inline_and_spec_disable(tmp_path):
    body, files = ok("training:\n  epochs: 20  # ftspec: disable=FT203\n")
    assert _lint(tmp_path, (body, files), "FT203") == []
    body, files = ok("training:\n  epochs: 20\nlint:\n  disable: [FT203]\n")
    assert _lint(tmp_path, (body, files), "FT203") == []
