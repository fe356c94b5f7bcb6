"""GRPO prompts are counted as TRL's GRPOTrainer tokenizes them, on every fixture family (Qwen2.5, Qwen3, Llama 3.2,
Llama 3.1, DeepSeek-V3: real vocabularies and original chat templates).

- ``GRPO.tokenize`` (ftspec's own renderer, no transformers) gives each prompt exactly the ids transformers'
  ``apply_chat_template(prompts, add_generation_prompt=True, tokenize=True, return_dict=True)`` gives, the call
  ``GRPOTrainer._tokenize_prompts`` makes: with and without a system message, multi-turn, Chinese text;
- each rendered prompt starts with exactly one BOS where the family's template puts one (Llama 3.x, DeepSeek-V3) and
  none for Qwen (config.json's bos_token_id, ``<|endoftext|>``, never leads);
- the family's own template passes the text checks (FT315/FT316); a ChatML template on Llama 3.2 is found: without a
  BOS (FT316), and with one, its ``<|im_end|>`` (plain text there) is not a token generation stops on (FT315);
- ``ftspec plan`` of a GRPO spec on a Llama and a Qwen fixture is exact, and its train_tokens per epoch is
  G x sum(transformers' prompt tokens + max_completion_length) over the prompts.
"""

from __future__ import annotations

import datetime
import functools
import json

import pytest

from ftspec.data.text_checks import BOS_RULE, STOP_RULE, text_checks
from ftspec.methods import get_method
from ftspec.plan.compile import build_plan
from ftspec.spec.load import load_spec
from ftspec.tokenizer.calendar import pin_transformers_calendar
from ftspec.tokenizer.chat import ChatTokenizer
from support.project import write_project

transformers = pytest.importorskip("transformers")

FAMILIES = ["qwen25_dir", "qwen3_dir", "llama32_dir", "llama31_dir", "deepseek_dir"]
LEADING_BOS = {"qwen25_dir": 0, "qwen3_dir": 0, "llama32_dir": 1, "llama31_dir": 1, "deepseek_dir": 1}
DAY = datetime.date(2024, 7, 26)  # Llama 3.x renders "Today Date": both renderers are pinned to it
PROMPTS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "system", "content": "Answer with one word."}, {"role": "user", "content": "Name a prime number."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Count to three."}],
    [{"role": "system", "content": "你是一个乐于助人的助手。"}, {"role": "user", "content": "你好，请问北京今天天气怎么样？"}],
]
RECORDS = [{"prompt": p, "answer": "4"} for p in PROMPTS]
CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
GRPO = get_method("grpo")


@pytest.fixture
def pinned_calendar(monkeypatch):
    """transformers' strftime_now pinned to a day for this test, restored afterwards."""
    from transformers.utils import chat_template_utils

    monkeypatch.setattr(chat_template_utils, "datetime", chat_template_utils.datetime)
    return pin_transformers_calendar


@functools.cache
def ours(model_dir) -> ChatTokenizer:
    return ChatTokenizer.from_files(model_dir / "tokenizer.json").with_render_date(DAY)


@functools.cache
def hf_tokenizer(model_dir):
    return transformers.AutoTokenizer.from_pretrained(model_dir)


def trl_prompt_ids(model_dir, prompts) -> list[list[int]]:
    """The prompt ids GRPOTrainer._tokenize_prompts gets (trl 1.16: no tools, the tokenizer's own template)."""
    return hf_tokenizer(model_dir).apply_chat_template(conversation=prompts, tools=None, add_generation_prompt=True,
                                                       tokenize=True, return_dict=True)["input_ids"]


def config_bos(model_dir) -> int:
    return json.loads((model_dir / "config.json").read_text())["bos_token_id"]


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_ids_are_what_grpo_trainer_tokenizes(family, request, pinned_calendar):
    model_dir = request.getfixturevalue(family)
    pinned_calendar(DAY)
    tok = ours(model_dir)
    expected = trl_prompt_ids(model_dir, PROMPTS)
    for prompt, theirs in zip(PROMPTS, expected):
        mine = tok.encode_chat(prompt, add_generation_prompt=True)[0]
        assert mine == theirs, (f"{family}: ftspec's prompt ids differ from transformers' for {prompt!r}\n"
                                f"ftspec:       {tok.decode(mine)!r}\ntransformers: {tok.decode(theirs)!r}")
    tokens = GRPO.tokenize(RECORDS, tok, assistant_only_loss=False, max_length=4096,
                           checks=text_checks(tok, tok, model_dir))
    assert tokens.lengths == tokens.prompt_lengths == [len(ids) for ids in expected]
    assert tokens.loss_tokens == [0] * len(RECORDS)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_prompt_starts_with_the_bos_its_family_expects(family, request, pinned_calendar):
    model_dir = request.getfixturevalue(family)
    pinned_calendar(DAY)
    tok, bos = ours(model_dir), config_bos(model_dir)
    for prompt, theirs in zip(PROMPTS, trl_prompt_ids(model_dir, PROMPTS)):
        mine = tok.encode_chat(prompt, add_generation_prompt=True)[0]
        for ids in (mine, theirs):
            leading = next(i for i, t in enumerate(ids) if t != bos)
            assert leading == LEADING_BOS[family], f"{family}: {leading} leading BOS ({bos}) in {ids[:4]}"
            assert ids.count(bos) == LEADING_BOS[family]  # and no second one further in


@pytest.mark.parametrize("family", FAMILIES)
def test_the_familys_own_template_passes_the_text_checks(family, request):
    model_dir = request.getfixturevalue(family)
    tok = ours(model_dir)
    checks = text_checks(tok, tok, model_dir)
    assert checks.expect_bos_chat == bool(LEADING_BOS[family])
    assert GRPO.tokenize(RECORDS, tok, assistant_only_loss=False, max_length=4096, checks=checks).problems == []


def test_a_chatml_template_on_llama_is_found(llama32_dir):
    tok = ours(llama32_dir)
    assert tok.token_id("<|im_end|>") is None  # five plain-text tokens on Llama: never a stop token
    # Without a BOS: the row's start is wrong first (FT316), on every record.
    bare = GRPO.tokenize(RECORDS, tok.with_template(CHATML), assistant_only_loss=False, max_length=4096,
                         checks=text_checks(tok, tok.with_template(CHATML), llama32_dir))
    assert [(i, code) for i, code, _ in bare.problems] == [(i, BOS_RULE) for i in range(len(RECORDS))]
    # With Llama's BOS in front, the completion's end is what is wrong: `<|im_end|>` is not <|eot_id|> (FT315).
    foreign = tok.with_template("{{ bos_token }}" + CHATML)
    found = GRPO.tokenize(RECORDS, foreign, assistant_only_loss=False, max_length=4096,
                          checks=text_checks(tok, foreign, llama32_dir))
    assert [(i, code) for i, code, _ in found.problems] == [(i, STOP_RULE) for i in range(len(RECORDS))]
    assert all("would not learn to stop" in message and "<|eot_id|>" in message for *_, message in found.problems)


@pytest.mark.parametrize("family", ["llama32_dir", "qwen25_dir"])
def test_plan_counts_grpo_tokens_as_the_trainer_does(family, request, tmp_path, pinned_calendar):
    model_dir = request.getfixturevalue(family)
    prompts = [PROMPTS[i % len(PROMPTS)][:-1] + [{"role": "user", "content": f"Question {i}: what is {i} + {i}?"}]
               for i in range(120)]
    rows = [{"prompt": p, "answer": str(2 * i)} for i, p in enumerate(prompts)]
    spec = {"version": 1, "name": "grpo-family", "method": "grpo", "model": {"base": str(model_dir)},
            "adapter": {"rank": 4, "alpha": 8}, "data": {"train": "prompts.jsonl"},
            "rewards": [{"metric": "exact_match", "reference": "answer"}],
            "grpo": {"num_generations": 4, "max_completion_length": 16}, "training": {"batch_size": 4},
            "compute": {"accelerator": "cpu"}}
    plan = build_plan(load_spec(write_project(tmp_path, spec, {"prompts.jsonl": rows})))
    if plan.job.render_date:  # Llama's "Today Date": transformers renders the plan's day
        pinned_calendar(plan.job.render_date)
    # generation batch 4 = 4 completions of 1 prompt: every one of the 120 prompts is used, none left over.
    expected = 4 * sum(len(ids) + 16 for ids in trl_prompt_ids(model_dir, prompts))
    assert plan.optimizer_steps_exact and not plan.tokens_estimated
    assert plan.train_tokens.per_epoch == expected


@pytest.mark.parametrize("family", ["llama32_dir", "qwen3_dir"])
def test_grpo_trains_and_evaluates_on_a_real_family(family, tmp_path, request):
    """The whole apply on a fixture (its real tokenizer, template and stop tokens; tiny random weights): GRPOTrainer
    renders the prompts with the plan's pinned date, reaches the planned step, and the holdout is scored."""
    pytest.importorskip("trl")
    from support import run_cli

    model_dir = request.getfixturevalue(family)
    rows = [{"prompt": [{"role": "user", "content": f"Name a colour, number {i}."}], "answer": "red"} for i in range(8)]
    spec = write_project(tmp_path, {
        "version": 1, "name": "fam", "method": "grpo", "model": {"base": str(model_dir)},
        "adapter": {"type": "lora", "rank": 2, "alpha": 1.4},
        "data": {"train": "p.jsonl", "max_length": 128},
        "rewards": [{"metric": "contains", "reference": "answer"}, {"length_penalty": 2}],
        "grpo": {"num_generations": 2, "max_completion_length": 4},
        "training": {"epochs": 1, "batch_size": 2, "learning_rate": 1e-3},
        "eval": {"holdout": "h.jsonl", "metrics": ["contains"], "max_new_tokens": 4},
        "compute": {"accelerator": "cpu", "cpu_threads": 1},
        "lint": {"disable": ["FT120", "FT105", "FT404", "FT202"]}},
        {"p.jsonl": rows, "h.jsonl": [{"prompt": "Name a colour.", "answer": "red"}] * 2})
    done = run_cli("apply", spec, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = (tmp_path / "runs" / "fam").glob("*/report.json")
    report = json.loads(report.read_text())
    assert report["actual"]["optimizer_steps"] == report["plan"]["optimizer_steps"] == 8
    assert report["eval"]["details"]["finetuned"]["n"] == 2 and len(report["loss"]["reward"]) == 8
    # GRPOTrainer's own token count stays within the plan's bound (every completion at 4 tokens).
    assert 0 < report["actual"]["train_tokens_seen"] <= report["plan"]["train_tokens"]["total"]
