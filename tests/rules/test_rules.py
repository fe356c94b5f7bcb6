"""Every rule fires on a fixture that breaks it and stays silent on one that doesn't.

Fixtures are (spec YAML body, {file: content}) pairs written into tmp_path. A rule without an
entry in CASES fails ``test_every_rule_has_fixtures``.
"""

from __future__ import annotations

import json

import pytest

from ftspec.lint.engine import run_lint
from ftspec.spec.load import load_spec
from ftspec.lint.rules import all_rules, get_rule


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

def rec(msgs, **extra) -> str:
    return json.dumps({"messages": msgs, **extra})


def turn(role, content, **extra) -> dict:
    return {"role": role, "content": content, **extra}


def with_scenarios(n: int, share_a: float, start: int = 0, names=("a", "b")) -> str:
    cut = int(n * share_a)
    return "\n".join(rec([turn("user", f"question {i}"), turn("assistant", f"answer {i}")],
                         scenario=names[0] if i - start < cut else names[1]) for i in range(start, start + n)) + "\n"


def json_answers(n: int) -> str:
    return "\n".join(chat(i, json.dumps({"answer": i})) for i in range(n)) + "\n"


def tool_record(called: str) -> str:
    return json.dumps({"conversations": [{"from": "human", "value": "weather?"},
                                         {"from": "function_call", "value": json.dumps({"name": called, "arguments": {}})},
                                         {"from": "observation", "value": "{}"}, {"from": "gpt", "value": "sunny"}],
                       "tools": json.dumps([{"name": "get_weather", "parameters": {}}])}) + "\n"


def image_record(path: str) -> str:
    return rec([turn("user", [{"image": path}, {"text": "what is this?"}]), turn("assistant", "a cat")]) + "\n"


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
VLM = {"vlm/config.json": json.dumps({"model_type": "qwen2_vl", "vision_config": {"depth": 2},
                                      "max_position_embeddings": 32768})}

BASE = "name: t\ndata:\n  train: train.jsonl\n  validation: 0.2\n"


def prompts(n: int, **extra) -> str:
    return "\n".join(json.dumps({"prompt": [{"role": "user", "content": f"question {i}"}], "answer": f"A-{i}",
                                 **extra}) for i in range(n)) + "\n"


GRPO = ("name: t\nmethod: grpo\ndata:\n  train: p.jsonl\n  max_length: {max_length}\nrewards:\n{rewards}"
        "grpo:\n  num_generations: 4\n  max_completion_length: 32\ntraining:\n  batch_size: {batch}\n{extra}")
REWARD = "  - {metric: exact_match, reference: answer}\n"
GOOD_REWARD_PY = "def score(prompts, completions, **kwargs):\n    return [0.0 for _ in completions]\n"


def grpo(extra: str = "", *, rewards: str = REWARD, batch: int = 8, max_length: int = 256, **files):
    return (GRPO.format(rewards=rewards, batch=batch, max_length=max_length, extra=extra),
            {"p.jsonl": prompts(200), **files})
OK_FILES = {"train.jsonl": lines(2000), "hold.jsonl": lines(20, start=100000)}


def ok(extra: str = "", **files):
    return (BASE + extra + GOOD_EVAL, {**OK_FILES, **files})


def tiny_model_files(template: str | None) -> dict[str, str]:
    """builtin:tiny's files in m/, with ``template`` as its chat template (None: a model with no chat template)."""
    import json

    from ftspec.models.tiny import text_files

    files = {f"m/{name}": data.decode("utf-8") for name, data in text_files().items()}
    if template is None:
        config = json.loads(files["m/tokenizer_config.json"])
        config.pop("chat_template", None)
        return {**files, "m/tokenizer_config.json": json.dumps(config)}
    return {**files, "m/chat_template.jinja": template}


NO_MARKERS = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


def marked(end_inside: bool, bos: str = "") -> str:
    """A ChatML template with {% generation %} around each assistant answer, its <|im_end|> inside or not."""
    answer = ("{% generation %}{{ m.content }}<|im_end|>{% endgeneration %}" if end_inside else
              "{% generation %}{{ m.content }}{% endgeneration %}<|im_end|>")
    return (bos + "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}" + answer +
            "{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}")


def with_experts(files: dict[str, str]) -> dict[str, str]:
    """The tiny model's files with a mixture-of-experts config (4 routed experts a layer)."""
    config = json.loads(files["m/config.json"])
    return {**files, "m/config.json": json.dumps({**config, "n_routed_experts": 4})}


def with_bos(files: dict[str, str]) -> dict[str, str]:
    """The tiny model's files with a BOS token (<|endoftext|>) its own template starts with."""
    config = json.loads(files["m/tokenizer_config.json"])
    config["bos_token"] = "<|endoftext|>"
    return {**files, "m/tokenizer_config.json": json.dumps(config)}

def parent_run(trained: str = "", finished: bool = True, model_files: dict | None = None) -> dict:
    """A finished run of spec ``v1`` under runs/ (what ``model.base: run:v1`` finds): its plan, report and adapter."""
    import hashlib

    folder = "runs/v1/0123456789ab"
    weights = "adapter weights"
    plan = {"name": "v1", "method": "sft", "spec_file": "/elsewhere/v1.yaml",
            "job": {"model": {"base": "builtin:tiny", "revision": None}, "peft": {"r": 8},
                    "data": {"train": "data/train.jsonl", "validation": None}},
            "fingerprint": {"model": {"files": model_files or {}}}}
    report = {"status": "completed", "created": "2026-12-01T00:00:00+00:00",
              "final_weights": {"path": "adapter",
                                "sha256": {"adapter_model.safetensors": hashlib.sha256(weights.encode()).hexdigest()}}}
    files = {f"{folder}/plan.json": json.dumps(plan), f"{folder}/spec.yaml": "name: v1\n",
             f"{folder}/adapter/adapter_model.safetensors": weights, f"{folder}/data/train.jsonl": trained or lines(5, 500)}
    if finished:
        files[f"{folder}/report.json"] = json.dumps(report)
    return files


V2 = "model:\n  base: run:v1\n"

CASES = {
    "FT015": (ok(V2, **parent_run(finished=False)), ok(V2, **parent_run())),
    "FT016": ((BASE + "  chat_template: t.jinja\n" + V2 + GOOD_EVAL, {**OK_FILES, **parent_run(), "t.jinja": NO_MARKERS}),
              ok(V2, **parent_run())),
    "FT408": ((BASE + "eval:\n  select_by: exact_match\n", OK_FILES), (BASE + GOOD_EVAL + "  select_by: exact_match\n", OK_FILES)),
    "FT407": (ok(V2, **parent_run(trained=lines(3, start=100000))), ok(V2, **parent_run())),
    "FT001": (ok("model:\n  base: some-org/some-model\n"), ok("model:\n  base: some-org/some-model\n  revision: " + "a" * 40 + "\n")),
    "FT002": (ok("model:\n  trust_remote_code: true\n"), ok()),
    "FT003": (("name: t\ndata:\n  train: nope.jsonl\n", {}), ok()),
    "FT004": (ok("model:\n  base: ./m\n", **tiny_model_files("{% for m in messages %}{{ m.content }}")),
              ok("model:\n  base: ./m\n", **tiny_model_files("{% for m in messages %}{{ m.content }}{% endfor %}"))),
    "FT008": (ok("compute:\n  nodes: 2\n  slurm: {partition: debug}\n"),
              ok("compute:\n  nodes: 1\n  slurm: {partition: debug}\n")),
    "FT009": (ok("compute:\n  accelerator: h100\n  gpus_per_node: 8\n  distributed: zero3\n"),
              ok("compute:\n  accelerator: h100\n  gpus_per_node: 8\n  distributed: fsdp\n")),
    "FT017": (ok("training:\n  attention: flash_attention_2\n"), ok("training:\n  attention: eager\n")),
    "FT101": (ok(**{"train.jsonl": lines(5)}), ok()),
    "FT102": (ok(**{"train.jsonl": lines(60)}), ok()),
    "FT103": (ok("method: dpo\n", **{"train.jsonl": pairs(40)}), ok("method: dpo\n", **{"train.jsonl": pairs(150)})),
    "FT104": (("name: t\nmethod: cpt\ndata:\n  train: w.txt\n", {"w.txt": "hello world\n" * 50}), ok()),
    "FT105": (ok(**{"train.jsonl": lines(100)}), ok()),
    "FT110": ((BASE + "  max_length: 8\n" + GOOD_EVAL, OK_FILES), ok()),
    "FT120": (grpo(**{"p.jsonl": prompts(40)}), grpo()),
    "FT121": (grpo(rewards="  []\n"), grpo()),
    "FT122": (grpo(rewards="  - {metric: exact_match, reference: solution}\n"), grpo()),
    "FT123": (grpo(rewards="  - {python: 'rw:score'}\n",
                   **{"rw.py": "def score(completions):\n    return [0.0 for _ in completions]\n"}),
              grpo(rewards="  - {python: 'rw:score'}\n", **{"rw.py": GOOD_REWARD_PY})),
    "FT124": (grpo(batch=6), grpo()),
    "FT125": (grpo(max_length=64, **{"p.jsonl": prompts(199) + json.dumps({"prompt": "word " * 60, "answer": "x"})}),
              grpo(max_length=64)),
    "FT126": ((grpo()[0].replace("  max_length: 256\n", "  max_length: 256\n  validation: 0.2\n"), grpo()[1]), grpo()),
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
    # A model with no chat template cannot render chat samples; one without markers trains with a derived template.
    "FT313": (ok("model:\n  base: ./m\n", **tiny_model_files(None)), ok("model:\n  base: ./m\n",
                                                                        **tiny_model_files(NO_MARKERS))),
    # The template refuses system messages; one record has one (a shape of its own, so lint renders it).
    "FT314": (ok("model:\n  base: ./m\n", **tiny_model_files(NO_MARKERS.replace(
        "{{ m.content }}", "{% if m.role == 'system' %}{{ raise_exception('no system role here') }}{% endif %}"
                           "{{ m.content }}")),
        **{"train.jsonl": lines(2000) + rec([turn("system", "s"), turn("user", "a"), turn("assistant", "b")]) + "\n"}),
        ok("model:\n  base: ./m\n", **tiny_model_files(NO_MARKERS))),
    "FT007": (ok("model:\n  base: some-org/some-model\n"), ok()),
    "FT206": (ok("model:\n  base: ./m\n", **with_experts(tiny_model_files(NO_MARKERS))),
              ok("model:\n  base: ./m\nadapter:\n  dropout: 0\n", **with_experts(tiny_model_files(NO_MARKERS)))),
    "FT315": (ok("model:\n  base: ./m\n", **tiny_model_files(marked(end_inside=False))),
              ok("model:\n  base: ./m\n", **tiny_model_files(marked(end_inside=True)))),
    # The model starts its conversations with BOS; a data.chat_template copied from elsewhere does not.
    "FT316": ((BASE + "  chat_template: other.jinja\nmodel:\n  base: ./m\n" + GOOD_EVAL,
               {**OK_FILES, **with_bos(tiny_model_files(marked(True, bos="{{ bos_token }}"))),
                "other.jinja": marked(True)}),
              ok("model:\n  base: ./m\n", **with_bos(tiny_model_files(marked(True, bos="{{ bos_token }}"))))),
    "FT401": (("name: t\ndata:\n  train: train.jsonl\n" + GOOD_EVAL, OK_FILES), ok()),
    "FT402": (ok(**{"hold.jsonl": lines(3, start=10)}), ok()),
    "FT403": ((BASE + "eval:\n  baseline: false\n", OK_FILES), ok()),
    "FT005": ((BASE + "  max_length: 4096\n" + GOOD_EVAL, OK_FILES), ok()),
    "FT006": ((BASE + "  max_length: 16384\nlint:\n  profile: bailian\n" + GOOD_EVAL, OK_FILES),
              ok("lint:\n  profile: bailian\n")),
    "FT106": (ok("task: generation\n", **{"train.jsonl": lines(400)}), ok("task: qa\n")),
    "FT205": (ok("training:\n  save_per_epoch: false\n"), ok("training:\n  save_per_epoch: true\n")),
    "FT307": ((BASE + GOOD_EVAL + "  metrics: [json_valid]\n", OK_FILES),
              (BASE + GOOD_EVAL + "  metrics: [json_valid]\n", {**OK_FILES, "train.jsonl": json_answers(2000)})),
    "FT308": (ok(**{"train.jsonl": lines(2000) + tool_record("search")}),
              ok(**{"train.jsonl": lines(2000) + tool_record("get_weather")})),
    "FT309": (ok(**{"train.jsonl": lines(2000) + rec([turn("user", "a"), turn("assistant", "b",
                                                                              reasoning_content="think")]) + "\n"}),
              ok()),
    "FT310": (ok(**{"train.jsonl": with_scenarios(2000, 0.9)}), ok(**{"train.jsonl": with_scenarios(2000, 0.5)})),
    "FT311": (ok(**{"train.jsonl": lines(2000) + image_record("img/missing.png")}),
              ok(**{"train.jsonl": lines(2000) + image_record("img/cat.png"), "img/cat.png": PNG})),
    "FT312": (ok(**{"train.jsonl": lines(2000) + image_record("img/cat.png"), "img/cat.png": PNG}),
              ok("model:\n  base: ./vlm\n", **{"train.jsonl": lines(2000) + image_record("img/cat.png"),
                                                "img/cat.png": PNG, **VLM})),
    "FT404": (ok(), ok(**{"hold.jsonl": lines(120, start=100000)})),
    "FT405": (ok(**{"hold.jsonl": "\n".join(rec([turn("system", "You are terse."), turn("user", f"q{i}"),
                                                  turn("assistant", "a")]) for i in range(20)) + "\n"}), ok()),
    "FT406": (ok(**{"train.jsonl": with_scenarios(2000, 0.5), "hold.jsonl": with_scenarios(20, 1.0, 100000, ("c", "c"))}),
              ok(**{"train.jsonl": with_scenarios(2000, 0.5), "hold.jsonl": with_scenarios(20, 0.5, 100000)})),
    "FT601": (ok("lint:\n  profile: openai\n", **{"train.jsonl": lines(2000) + rec([turn("user", "a"),
                                                                                     turn("assistant", "b", foo=1)]) + "\n"}),
              ok("lint:\n  profile: openai\n")),
    "FT602": (ok("lint:\n  profile: openai\n", **{"train.jsonl": "\n".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"})
                                                                              for i in range(2000)) + "\n"}),
              ok("  system_prompt: Be brief.\nlint:\n  profile: openai\n")),
    "FT603": (ok(**{"train.jsonl": lines(2000) + rec([turn("user", "a"), turn("assistant", "b", weight=0.5)]) + "\n"}),
              ok(**{"train.jsonl": lines(2000) + rec([turn("user", "a"), turn("assistant", "b", loss_weight=0),
                                                      turn("user", "c"), turn("assistant", "d", loss_weight=1)]) + "\n"})),
    "FT604": (ok("lint:\n  profile: openai\ntraining:\n  epochs: 60\n"), ok("lint:\n  profile: openai\n")),
    "FT605": (ok("lint:\n  profile: bailian\n"), ok("lint:\n  profile: bailian\n", **{"train.jsonl": lines(100)})),
}


# Thresholds too large for a fixture file are lowered for their rule's fixtures.
def _small_bailian_files(monkeypatch):
    from dataclasses import replace

    from ftspec.platforms import PLATFORMS

    monkeypatch.setitem(PLATFORMS, "bailian", replace(PLATFORMS["bailian"], file_bytes_limit=50_000))


def _one_node_partition(monkeypatch):
    from ftspec.core import slurm_query

    monkeypatch.setattr(slurm_query, "partition_nodes", lambda partition: 1 if partition == "debug" else None)


def _no_deepspeed(monkeypatch):
    from ftspec.lint.rules import ft009_zero_needs_deepspeed

    monkeypatch.setattr(ft009_zero_needs_deepspeed, "deepspeed_installed", lambda: False)


PATCHES = {"FT605": _small_bailian_files, "FT008": _one_node_partition, "FT009": _no_deepspeed}


def _lint(tmp_path, case, code, monkeypatch=None):
    body, files = case
    if code in PATCHES and monkeypatch is not None:
        PATCHES[code](monkeypatch)
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(body, encoding="utf-8")
    return [f for f in run_lint(load_spec(tmp_path / "spec.yaml")) if f.code == code]


RULE_CODES = [r.code for r in all_rules()]


def test_every_rule_has_fixtures():
    assert sorted(CASES) == sorted(RULE_CODES)


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_fires_on_bad_fixture(tmp_path, code, monkeypatch):
    assert code in CASES, f"{code} has no fixtures"
    found = _lint(tmp_path, CASES[code][0], code, monkeypatch)
    assert found, f"{code} did not fire"


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_silent_on_good_fixture(tmp_path, code, monkeypatch):
    assert code in CASES, f"{code} has no fixtures"
    assert _lint(tmp_path, CASES[code][1], code, monkeypatch) == []


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


def test_answers_failing_the_guard_and_a_regex_are_counted_with_lines(tmp_path):
    spaced = "\n".join(chat(i, f"Sikalastic - {i}" if i % 4 == 0 else f"Sikalastic-{i}") for i in range(200)) + "\n"
    body = (BASE + GOOD_EVAL + "  metrics: [exact_match, {regex: '^Sikalastic-\\d+$', name: code}]\n"
            "  postprocess:\n    - {regex: '\\s*([-/])\\s*', replace: '\\1'}\n")
    found = _lint(tmp_path, (body, {**OK_FILES, "train.jsonl": spaced}), "FT307")
    by_key = {f.message.split(" training answers")[0]: f for f in found}
    assert len(found) == 2, [f.message for f in found]
    for f in found:
        assert f.message.startswith("50 of 200 training answers")
        assert "quality 150/200 = 75.0%" in f.message and "train.jsonl:1 (lines 1, 5, 9, 13, 17)" in f.message
    assert any("'code' metric" in f.message for f in found)
    assert any("eval.postprocess guard" in f.message and f.line == 9 for f in found), by_key  # the rules


def test_scenario_shares_are_reported_for_train_and_holdout(tmp_path):
    files = {**OK_FILES, "train.jsonl": with_scenarios(2000, 0.8), "hold.jsonl": with_scenarios(100, 0.5, 100000)}
    (found,) = _lint(tmp_path, (BASE + GOOD_EVAL, files), "FT310")
    assert "scenario 'a' is 80% of train by 'scenario'" in found.message
    assert "train a 80%, b 20%" in found.message and "holdout a 50%, b 50%" in found.message


def test_named_scenario_key_and_untrained_holdout_scenarios(tmp_path):
    train = "\n".join(rec([turn("user", f"q{i}"), turn("assistant", f"a{i}")], intent="order") for i in range(200))
    hold = "\n".join(rec([turn("user", f"h{i}"), turn("assistant", "x")], intent="order" if i % 2 else "refund")
                     for i in range(100))
    body = BASE + "lint:\n  scenario_key: intent\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {"train.jsonl": train + "\n", "hold.jsonl": hold + "\n"}), "FT406")
    assert "50 of 100 holdout cases" in found.message and "'refund'" in found.message and found.severity == "info"


def test_llamafactory_style_images_beside_messages_are_checked(tmp_path):
    row = json.dumps({"messages": [turn("user", "<image>what is it?"), turn("assistant", "a cat")],
                      "images": ["img/a.png", "img/gone.png"]})
    files = {**OK_FILES, "train.jsonl": lines(2000) + row + "\n", "img/a.png": PNG}
    (found,) = _lint(tmp_path, (BASE + GOOD_EVAL, files), "FT311")
    assert found.message.startswith("1 image references") and "2 images counted" in found.message
    assert found.line == 2001
    bad = {**files, "img/gone.png": b"not an image at all"}
    (found,) = _lint(tmp_path, (BASE + GOOD_EVAL, bad), "FT311")
    assert "not readable" in found.message


def test_images_with_a_non_sft_method_are_an_error(tmp_path):
    pair = json.dumps({"messages": [turn("user", [{"image": "img/a.png"}, {"text": "which?"}])],
                       "chosen": turn("assistant", "left"), "rejected": turn("assistant", "right")})
    body = "name: t\nmethod: dpo\ndata:\n  train: train.jsonl\n  validation: 0.2\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {"train.jsonl": pairs(150) + pair + "\n", "img/a.png": PNG,
                                       "hold.jsonl": pairs(5)}), "FT312")
    assert "method dpo cannot take images" in found.message


def test_openai_profile_applies_its_data_prep_checks(tmp_path):
    rows = [rec([turn("system", "s"), turn("user", "q"), turn("assistant", "a", weight=0.5)]),
            rec([turn("user", "q"), turn("assistant", "a", loss_weight=1)]),
            rec([turn("system", "s"), turn("tool", "t"), turn("assistant", "a")])]
    files = {**OK_FILES, "train.jsonl": lines(2000) + "\n".join(rows) + "\n"}
    body = BASE + "  system_prompt: s\nlint:\n  profile: openai\ntraining:\n  dpo_beta: 3.0\n  epochs: 2.5\n" + GOOD_EVAL
    codes = {}
    for code in ("FT601", "FT602", "FT603", "FT604"):
        codes[code] = [f.message for f in _lint(tmp_path, (body, files), code)]
    assert any("message_unrecognized_key: 'loss_weight'" in m for m in codes["FT601"])
    assert any("unrecognized_role: 'tool'" in m for m in codes["FT602"])
    assert any("weight other than 0 or 1" in m for m in codes["FT603"])
    assert codes["FT604"] == ["epochs 2.5: OpenAI's n_epochs is a whole number from 1 to 50"]  # beta: DPO only
    # The same data under bailian: weights refused; under ark: 'weight' is not Ark's key.
    bailian = body.replace("profile: openai", "profile: bailian")
    assert {m.split(" on messages")[0] for m in (f.message for f in _lint(tmp_path, (bailian, files), "FT601"))} == {
        "'weight'", "'loss_weight'"}
    ark = body.replace("profile: openai", "profile: ark")
    assert [f for f in _lint(tmp_path, (ark, files), "FT601")] == []
    assert any("Ark takes loss_weight" in f.message for f in _lint(tmp_path, (ark, files), "FT603"))


def test_holdout_without_the_trained_system_prompt(tmp_path):
    train = "\n".join(rec([turn("system", "You sell tiles."), turn("user", f"q{i}"), turn("assistant", f"a{i}")])
                      for i in range(200)) + "\n"
    (found,) = _lint(tmp_path, (BASE + GOOD_EVAL, {"train.jsonl": train, "hold.jsonl": lines(20, 100000)}), "FT405")
    assert "20 of 20 holdout cases" in found.message and "no system prompt" in found.message
    # data.system_prompt is added to holdout records without one, as the pipeline does: then they match.
    body = BASE + "  system_prompt: You sell tiles.\n" + GOOD_EVAL
    assert _lint(tmp_path, (body, {"train.jsonl": train, "hold.jsonl": lines(20, 100000)}), "FT405") == []


def test_model_context_from_a_local_config(tmp_path):
    cfg = {"m/config.json": json.dumps({"model_type": "llama", "max_position_embeddings": 512})}
    body = BASE + "  max_length: 1024\nmodel:\n  base: ./m\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {**OK_FILES, **cfg}), "FT005")
    assert ("context of 512 tokens (512 positions: max_position_embeddings, no RoPE scaling; config.json)"
            in found.message)
    assert found.extra["fix"] == {"set": ["data", "max_length"], "value": 512}


LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}


# (config.json's max_position_embeddings, its RoPE key and value, the context FT005 must judge against, and why)
@pytest.mark.parametrize("max_pos, key, rope, context, why", [
    (4096, "rope_scaling", None, 4096, "max_position_embeddings, no RoPE scaling"),
    # Vicuna-7B-v1.5-16k: 4096 and linear factor 4.
    (4096, "rope_scaling", {"type": "linear", "factor": 4.0}, 16384, "linear factor 4 x max_position_embeddings 4096"),
    # transformers 5 writes rope_parameters (rope_theta inside); 4.x rope_scaling with "type".
    (4096, "rope_parameters", {"rope_type": "linear", "factor": 4.0, "rope_theta": 10000.0}, 16384,
     "linear factor 4 x max_position_embeddings 4096"),
    # Qwen2.5's README: yarn factor 4 over 32768, max_position_embeddings left at 32768.
    (32768, "rope_scaling", {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}, 131072,
     "yarn factor 4 x original 32768"),
    (8192, "rope_parameters", {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8192}, 32768,
     "yarn factor 4 x original 8192"),
    # Llama 3.1 states the scaled length itself: 131072, not 131072 x 8 (nor 8 x 8192 = 65536).
    (131072, "rope_scaling", LLAMA3_ROPE, 131072, "max_position_embeddings, already the llama3-scaled context "
                                                  "(original 8192; the factor is not applied again)"),
    (8192, "rope_scaling", LLAMA3_ROPE, 65536, "llama3 factor 8 x original 8192"),
    # DeepSeek-V3: 163840 over an original 4096 with yarn factor 40.
    (163840, "rope_scaling", {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096}, 163840,
     "already the yarn-scaled context (original 4096"),
    # Phi-3 mini 128k: longrope with no factor, 131072 over 4096.
    (131072, "rope_scaling", {"type": "longrope", "short_factor": [1.0], "long_factor": [4.0],
                              "original_max_position_embeddings": 4096}, 131072, "already the longrope-scaled"),
    (4096, "rope_scaling", {"type": "dynamic", "factor": 2.0}, 8192, "dynamic factor 2 x max_position_embeddings 4096"),
    (4096, "rope_parameters", {"rope_type": "proportional", "factor": 2.0}, 4096,
     "RoPE type 'proportional' is not one ftspec knows how to scale"),
    (4096, "rope_scaling", {"type": "linear", "factor": "four"}, 4096,
     "rope_scaling ignored: factor 'four' is not a number >= 1"),
    (4096, "rope_scaling", {"type": "linear", "factor": 0.5}, 4096, "factor 0.5 is not a number >= 1"),
    (4096, "rope_scaling", {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": "8k"}, 4096,
     "original_max_position_embeddings '8k' is not a positive integer"),
    (4096, "rope_scaling", ["linear", 4], 4096, "rope_scaling ignored: it is not a mapping"),
    (4096, "rope_scaling", {"type": "linear"}, 4096, "linear scaling without a factor"),
])
def test_model_context_follows_rope_scaling(tmp_path, max_pos, key, rope, context, why):
    config = {"model_type": "llama", "max_position_embeddings": max_pos, key: rope}
    files = {**OK_FILES, "m/config.json": json.dumps(config)}

    def lint_at(max_length):
        body = BASE + f"  max_length: {max_length}\nmodel:\n  base: ./m\n" + GOOD_EVAL
        return [f for f in _lint(tmp_path, (body, files), "FT005") if f.severity == "error"]

    (found,) = lint_at(context + 1)
    assert f"over the model's context of {context} tokens ({context} positions: " in found.message
    assert why in found.message and found.extra["fix"]["value"] == context
    assert lint_at(context) == []


@pytest.mark.parametrize("config, context, why", [
    # transformers 5 keeps Gemma 3's RoPE per layer type; its 131072 already includes the global layers' linear 8.
    ({"model_type": "gemma3_text", "max_position_embeddings": 131072,
      "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0},
                          "sliding_attention": {"rope_type": "default"}}},
     131072, "which gemma3_text states with its linear factor 8 already applied"),
    ({"model_type": "llama", "max_position_embeddings": 4096,
      "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2.0}, "sliding_attention": {}}},
     8192, "rope_parameters.full_attention linear factor 2"),
    # Qwen2-VL's mrope splits the head into sections; it stretches nothing.
    ({"model_type": "qwen2_vl", "max_position_embeddings": 32768,
      "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}}, 32768, "RoPE type mrope"),
])
def test_model_context_per_layer_type_and_multimodal_rope(tmp_path, config, context, why):
    body = BASE + f"  max_length: {context + 1}\nmodel:\n  base: ./m\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {**OK_FILES, "m/config.json": json.dumps(config)}), "FT005")
    assert f"context of {context} tokens" in found.message and why in found.message


def test_dynamic_ntk_past_the_pretraining_length_is_a_warning_that_says_why(tmp_path):
    config = {"model_type": "llama", "max_position_embeddings": 4096, "rope_scaling": {"type": "dynamic", "factor": 4}}
    body = BASE + "  max_length: 16384\nmodel:\n  base: ./m\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {**OK_FILES, "m/config.json": json.dumps(config)}), "FT005")
    assert found.severity == "warning" and "past max_position_embeddings 4096" in found.message
    assert "16384 positions: dynamic factor 4 x max_position_embeddings 4096" in found.message
    assert "every forward pass from that batch's longest sequence" in found.message


@pytest.mark.parametrize("rope", ["yarn", 7, {"full_attention": "x"}, {"rope_type": None, "factor": None},
                                  {"rope_type": "llama3", "factor": float("nan")}])
def test_malformed_rope_scaling_never_breaks_lint(tmp_path, rope):
    config = {"max_position_embeddings": 512, "rope_scaling": rope}
    body = BASE + "  max_length: 1024\nmodel:\n  base: ./m\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {**OK_FILES, "m/config.json": json.dumps(config)}), "FT005")
    assert "context of 512 tokens (512 positions: max_position_embeddings" in found.message


def test_catalogued_llama31_is_not_scaled_twice(tmp_path):
    body = BASE + "  max_length: 131073\nmodel:\n  base: meta-llama/Llama-3.1-8B-Instruct\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, OK_FILES), "FT005")
    assert "context of 131072 tokens" in found.message and "the offline catalogue" in found.message


def test_profile_only_rules_are_silent_under_other_profiles(tmp_path):
    body = BASE + "  max_length: 16384\nlint:\n  profile: ark\n" + GOOD_EVAL
    assert _lint(tmp_path, (body, OK_FILES), "FT006") == []


def test_weight_zero_turns_are_trained_out_and_what_cannot_be_applied_is_refused(tmp_path):
    row = rec([turn("user", "a"), turn("assistant", "draft", loss_weight=0), turn("user", "again"),
               turn("assistant", "final")])
    assert _lint(tmp_path, ok(**{"train.jsonl": lines(2000) + row + "\n"}), "FT603") == []  # SFT applies it
    (found,) = _lint(tmp_path, ok("  assistant_only_loss: false\n", **{"train.jsonl": lines(2000) + row + "\n"}),
                     "FT603")
    assert found.line == 2001 and "data.assistant_only_loss is false" in found.message and found.severity == "error"
    half = rec([turn("user", "a"), turn("assistant", "b", loss_weight=0.3)])
    (found,) = _lint(tmp_path, ok(**{"train.jsonl": lines(2000) + half + "\n"}), "FT603")
    assert "other than 0 or 1" in found.message and "no fractional loss weights" in found.message


def test_stratify_by_key_missing_from_records(tmp_path):
    body = BASE + "  stratify_by: intent\n" + GOOD_EVAL
    (found,) = _lint(tmp_path, (body, {**OK_FILES, "train.jsonl": with_scenarios(2000, 0.5)}), "FT310")
    assert "2000 of 2000 training records have no such key" in found.message
    assert _lint(tmp_path, (body.replace("intent", "scenario"), {**OK_FILES, "train.jsonl": with_scenarios(2000, 0.5)}),
                 "FT310") == []


def test_a_parent_trained_on_another_model_is_an_error(tmp_path):
    # The parent was planned with other tokenizer files than the base model folder holds now (another model there).
    case = ok(V2, **parent_run(model_files={"tokenizer.json": "0" * 64}))
    (found,) = _lint(tmp_path, case, "FT016")
    assert found.severity == "error" and "tokenizer.json" in found.message and "0123456789ab" in found.message
    assert (found.line, found.column) == (6, 9)  # model.base in the spec
