"""`ftspec apply` end to end on the real-model fixtures (Qwen2.5-Instruct and Qwen3 tokenizers, templates and
special tokens; tiny random bodies): SFT chat with LoRA, SFT tool calls with full fine-tuning, DPO, CPT. Each run
ends on exactly the planned optimizer steps (apply exits 4 otherwise) and the trainer counts exactly the planned
tokens; the exported adapter and merged model load with the stock classes and answer as ftspec's evaluation did.
These are mechanics tests: the bodies are random, so no test here claims the model learns the task.
"""

from __future__ import annotations

import json

import pytest

from support import run_cli
from support.real_models import FORMATS, write_spec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def apply(spec):
    return run_cli("apply", spec, timeout=900)


def _weight_first_answers_zero(train_file) -> None:
    """Ark-style (the default profile's key): the first answer of each multi-turn conversation weighted 0 (the
    trainer tokenizes those rows)."""
    rows = [json.loads(line) for line in train_file.read_text().splitlines()]
    for row in rows:
        answers = [m for m in row["messages"] if m["role"] == "assistant"]
        if len(answers) > 1:
            answers[0]["loss_weight"] = 0
    train_file.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_case(folder, model_dir, fmt, *, n, holdout=0, baseline=True, weighted=False, dropout=None, **kwargs):
    loaded = write_spec(folder, model_dir, fmt, n=n, **kwargs)
    if weighted:
        _weight_first_answers_zero(folder / "train.jsonl")
    spec = json.loads((folder / "spec.yaml").read_text())
    if dropout is not None:
        spec["adapter"]["dropout"] = dropout
    if holdout:
        rows = [FORMATS[fmt](1000 + i) for i in range(holdout)]
        (folder / "holdout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        spec["eval"] = {"holdout": "holdout.jsonl", "max_new_tokens": 6, "metrics": ["exact_match"],
                        "baseline": baseline}
    spec["lint"] = {"disable": ["FT101", "FT102", "FT103", "FT104", "FT105", "FT202", "FT203", "FT401", "FT403"]}
    (folder / "spec.yaml").write_text(json.dumps(spec))
    proc = apply(folder / "spec.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    (run_dir,) = [p for p in (folder / "runs" / loaded.spec.name).iterdir() if p.is_dir()]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["actual"]["optimizer_steps"] == report["plan"]["optimizer_steps"]
    # One token count: what the trainer saw (TRL's num_tokens) is what the plan counted.
    assert report["actual"]["train_tokens_seen"] == report["plan"]["train_tokens"]["total"]
    return run_dir, report


@pytest.fixture(scope="module")
def sft_lora(tmp_path_factory, qwen25_dir):
    return run_case(tmp_path_factory.mktemp("sft-lora"), qwen25_dir, "chat", n=10, holdout=3, weighted=True,
                    training={"epochs": 2, "learning_rate": 5e-3})


def test_sft_lora_on_qwen25_trains_and_evaluates(sft_lora):
    run_dir, report = sft_lora
    train = [loss for _, loss in report["loss"]["train"]]
    assert train[-1] < train[0]  # the loss moves (mechanics; a random body learns little in 4 steps)
    samples = report["eval"]["details"]["finetuned"]["samples"]
    assert len(samples) == 3 and all("<|im_end|>" not in s["output"] for s in samples)


def test_exports_carry_the_models_template_and_answer_as_ftspec_did(sft_lora, qwen25_dir):
    from peft import PeftModel
    from safetensors import safe_open

    from ftspec.evaluate.generate import generate_outputs

    run_dir, report = sft_lora
    samples = report["eval"]["details"]["finetuned"]["samples"]
    prompts = [s["prompt"] for s in samples]
    expected = [s["output"] for s in samples]
    original = json.loads((qwen25_dir / "tokenizer_config.json").read_text())["chat_template"]

    assert run_cli("export", run_dir).returncode == 0
    adapter = run_dir / "export"
    assert transformers.AutoTokenizer.from_pretrained(adapter).chat_template == original  # not TRL's training one
    card = (adapter / "README.md").read_text()
    assert "## Prompt format" in card and "You are Qwen, created by Alibaba Cloud." in card
    base = transformers.AutoModelForCausalLM.from_pretrained(qwen25_dir, dtype=torch.float32)
    PeftModel.from_pretrained(base, adapter)  # loads with the stock class
    assert generate_outputs(str(qwen25_dir), prompts, adapter_dir=str(adapter), max_new_tokens=6) == expected

    proc = run_cli("export", run_dir, "--merge")
    assert proc.returncode == 0, proc.stderr
    merged = run_dir / "merged"
    with safe_open(str(next(merged.glob("*.safetensors"))), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}  # the base's dtype, not float32
    assert transformers.AutoTokenizer.from_pretrained(merged).chat_template == original
    model = transformers.AutoModelForCausalLM.from_pretrained(merged)
    assert model.config.vocab_size == 151936
    assert generate_outputs(str(merged), prompts, max_new_tokens=6) == expected


def test_sft_full_on_qwen3_tool_calls(tmp_path, qwen3_dir):
    run_dir, report = run_case(tmp_path, qwen3_dir, "tools", n=6, holdout=2, baseline=False, adapter="full",
                               training={"epochs": 1, "learning_rate": 1e-4})
    assert (run_dir / "model" / "config.json").is_file()
    rows = [json.loads(line) for line in (run_dir / "data" / "train.jsonl").read_text().splitlines()]
    assert all(r["messages"][1]["tool_calls"] for r in rows)
    holdout = [json.loads(line) for line in (run_dir / "data" / "holdout.jsonl").read_text().splitlines()]
    assert all(r["tools"] for r in holdout)  # evaluation prompts get them (render_prompts)


@pytest.mark.parametrize("fmt,family", [("dpo", "qwen25_dir"), ("cpt", "qwen3_dir")])
def test_dpo_and_cpt_with_lora(fmt, family, tmp_path, request):
    run_case(tmp_path, request.getfixturevalue(family), fmt, n=8, training={"epochs": 1})


# Families TRL has no training template for: ftspec derives one; the saved tokenizer keeps the original. DeepSeek-V3 is
# a mixture of experts: PEFT adapts its fused expert weights only without dropout (FT206).
FAMILY_CASES = [("llama32_dir", "chat", "<|eot_id|>", None), ("deepseek_dir", "tools", "<｜end▁of▁sentence｜>", 0.0)]


@pytest.mark.parametrize("family,fmt,stop,dropout", FAMILY_CASES, ids=[c[0][:-4] for c in FAMILY_CASES])
def test_every_family_applies_evaluates_and_exports(family, fmt, stop, dropout, tmp_path, request):
    """SFT LoRA with assistant-only loss (the default) on Llama 3.2 (chat: the derived training template, the
    pinned date) and DeepSeek-V3 (tool calls: arguments as the text its template expects): the planned steps and
    tokens, an evaluation that stops at the family's own stop token, and exports with the original template."""
    from ftspec.evaluate.generate import generate_outputs

    model_dir = request.getfixturevalue(family)
    run_dir, report = run_case(tmp_path, model_dir, fmt, n=8, holdout=2, dropout=dropout,
                               training={"epochs": 1, "learning_rate": 5e-3})
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["job"]["training_chat_template"] == "data/training_chat_template.jinja"
    assert (run_dir / plan["job"]["training_chat_template"]).is_file()
    original = json.loads((model_dir / "tokenizer_config.json").read_text())["chat_template"]
    assert transformers.AutoTokenizer.from_pretrained(run_dir / "adapter").chat_template == original
    samples = report["eval"]["details"]["finetuned"]["samples"]
    assert samples and all(stop not in s["output"] for s in samples)
    assert run_cli("export", run_dir, "--merge").returncode == 0
    merged = run_dir / "merged"
    assert transformers.AutoTokenizer.from_pretrained(merged).chat_template == original
    prompts = [s["prompt"] for s in samples]
    if plan["job"].get("render_date"):  # the calendar the run rendered with
        from ftspec.tokenizer.calendar import pin_transformers_calendar

        pin_transformers_calendar(plan["job"]["render_date"])
    tools = [s.get("tools") for s in samples]
    assert generate_outputs(str(merged), prompts, tools=tools, max_new_tokens=6) == [s["output"] for s in samples]
