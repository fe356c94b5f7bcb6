"""On the real-model fixtures, the plan's rows, tokens, loss-bearing tokens, assistant masks and optimizer steps
equal what TRL 1.16's own trainers compute from the same run-folder rows.

The fixtures (tests/conftest.py, ftspec/models/fixtures.py) carry Qwen2.5-Instruct's and Qwen3's real vocabulary,
added tokens, tokenizer_config.json and chat templates (TRL's copies of the hub originals, which have no
``{% generation %}`` markers); TRL swaps in its training templates, and so must the plan. Each case writes a spec
and its data, compiles the plan (no torch), writes the rows the way ``apply`` does, reads them the way the trainer
does (ftspec.train.job.read_rows), builds the real TRL trainer on them and compares its prepared dataset.
"""

from __future__ import annotations

import json
import math

import pytest

from support import SHARED_DATA
from support.real_models import FORMATS, write_spec
from ftspec.data.chat_template import read_chat_template, training_tokenizer
from ftspec.methods import get_method
from ftspec.pipeline.prepare import prepare
from ftspec.spec.load import load_spec
from ftspec.plan.compile import build_plan
from ftspec.tokenizer.chat import ChatTokenizer

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")
transformers = pytest.importorskip("transformers")

FAMILY_FIXTURES = ("qwen25_dir", "qwen3_dir", "llama32_dir", "deepseek_dir")


@pytest.fixture(scope="module")
def hf_tokenizers(request):
    transformers.logging.set_verbosity_error()
    import datasets

    datasets.disable_progress_bars()
    folders = [request.getfixturevalue(name) for name in FAMILY_FIXTURES]
    return {str(d): transformers.AutoTokenizer.from_pretrained(d) for d in folders}


def trl_trainer(loaded, plan, prepared, tmp_path, hf_tokenizer):
    """TRL's trainer on the run-folder rows, with the plan's own arguments (only output settings overridden)."""
    from ftspec.runs.inputs import write_jsonl
    from ftspec.train.job import read_rows

    write_jsonl(tmp_path / "rows.jsonl", prepared.train)
    args = dict(plan.job.trainer_args)
    args.update(output_dir=str(tmp_path / "out"), report_to=[], save_strategy="no", logging_strategy="no",
                disable_tqdm=True, eval_strategy="no")
    args.pop("metric_for_best_model", None)
    dpo = plan.method == "dpo"
    config = (trl.DPOConfig if dpo else trl.SFTConfig)(**args)
    model = transformers.AutoModelForCausalLM.from_pretrained(plan.job.model.base, dtype=torch.float32)
    cls = trl.DPOTrainer if dpo else trl.SFTTrainer
    # What ftspec's trainer does around TRL: the plan's date, and its derived training template while TRL tokenizes.
    from ftspec.tokenizer.calendar import pin_transformers_calendar

    pin_transformers_calendar(plan.job.render_date)
    original = hf_tokenizer.chat_template
    if plan.job.training_chat_template:
        hf_tokenizer.chat_template = prepared.training_template
    try:
        return cls(model=model, args=config, processing_class=hf_tokenizer,
                   train_dataset=read_rows(tmp_path / "rows.jsonl"))
    finally:
        hf_tokenizer.chat_template = original


def _ours_masks(loaded, prepared, model_dir):
    """ftspec's assistant mask of every row the trainer keeps, truncated as the trainer truncates."""
    spec = loaded.spec
    method = get_method(spec.method)
    tok = training_tokenizer(ChatTokenizer.from_files(model_dir / "tokenizer.json"), chat=not method.plain_text,
                             assistant_only_loss=method.assistant_only(spec.data),
                             user_template=read_chat_template(loaded)).with_render_date(prepared.render_date)
    L = spec.data.max_length
    out = []
    for ids, mask in tok.encode_chat_batch([r["messages"] for r in prepared.train],
                                           tools=[r.get("tools") for r in prepared.train]):
        first = mask.index(1) if 1 in mask else None
        if first is not None and first < min(len(ids), L):  # TRL drops rows left without a label
            out.append((ids[:L], mask[:L]))
    return out


CASES = [(family, fmt) for family in FAMILY_FIXTURES for fmt in FORMATS]


@pytest.mark.parametrize("family,fmt", CASES, ids=[f"{f[:-4]}-{m}" for f, m in CASES])
def test_plan_equals_trl_on_real_templates(family, fmt, request, tmp_path, hf_tokenizers):
    model_dir = request.getfixturevalue(family)
    loaded = write_spec(tmp_path, model_dir, fmt)
    plan = build_plan(loaded)  # the issue: this was "FT000 no training rows are left" on real templates
    prepared = prepare(loaded)
    trainer = trl_trainer(loaded, plan, prepared, tmp_path, hf_tokenizers[str(model_dir)])
    ds = trainer.train_dataset
    L = loaded.spec.data.max_length

    assert len(ds) == plan.data.rows > 0
    if fmt == "dpo":
        pairs = [(len(p), len(c), len(r)) for p, c, r in zip(ds["prompt_ids"], ds["chosen_ids"], ds["rejected_ids"])]
        assert plan.train_tokens.per_epoch == sum(min(p + c, L) + min(p + r, L) for p, c, r in pairs)
        assert plan.train_tokens.loss_bearing_per_epoch == sum(
            max(0, min(p + c, L) - p) + max(0, min(p + r, L) - p) for p, c, r in pairs)
    else:
        assert plan.train_tokens.per_epoch == sum(len(x) for x in ds["input_ids"])
        if fmt == "cpt":
            assert plan.train_tokens.loss_bearing_per_epoch == sum(len(x) for x in ds["input_ids"])
        else:
            labels = [[t != -100 for t in row] for row in ds["labels"]]
            assert plan.train_tokens.loss_bearing_per_epoch == sum(map(sum, labels))
            # The template TRL trains with is the one the plan rendered with, and the masks agree token by token.
            ours = training_tokenizer(ChatTokenizer.from_files(model_dir / "tokenizer.json"), chat=True,
                                      assistant_only_loss=True)
            original = ChatTokenizer.from_files(model_dir / "tokenizer.json").chat_template
            if plan.job.training_chat_template:  # no TRL template: TRL tokenized with ftspec's derived one
                assert trainer.chat_template is None and prepared.training_template == ours.chat_template != original
            else:
                assert trainer.chat_template == ours.chat_template != original
            masks = _ours_masks(loaded, prepared, model_dir)
            assert [ids for ids, _ in masks] == list(ds["input_ids"])
            assert [[bool(b) for b in m] for _, m in masks] == labels
    batches = len(trainer.get_train_dataloader())
    t = loaded.spec.training
    assert plan.optimizer_steps == math.ceil(batches / t.gradient_accumulation) * t.epochs
    assert plan.data.dropped_by_trainer == len(prepared.train) - len(ds)


def test_the_cases_exercise_drops_and_tools(tmp_path, qwen25_dir):
    chat = build_plan(write_spec(tmp_path, qwen25_dir, "chat")).data.model_dump()
    assert chat["dropped_over_length"] == 2  # rows 4 and 9 are long
    dpo = build_plan(write_spec(tmp_path, qwen25_dir, "dpo", max_length=48)).data.model_dump()
    assert dpo["dropped_over_length"] > 0
    prepared = prepare(write_spec(tmp_path, qwen25_dir, "tools"))
    assert all(isinstance(r["tools"], list) and r["messages"][1]["tool_calls"] for r in prepared.train)


def test_tool_rows_keep_their_own_schema_and_render_tool_call_tags(tmp_path, qwen25_dir, hf_tokenizers):
    """The glaive regression: each row renders its own tools only, and its call as <tool_call>...</tool_call>."""
    loaded = write_spec(tmp_path, qwen25_dir, "tools")
    plan = build_plan(loaded)
    prepared = prepare(loaded)
    trainer = trl_trainer(loaded, plan, prepared, tmp_path, hf_tokenizers[str(qwen25_dir)])
    tok = hf_tokenizers[str(qwen25_dir)]
    text0 = tok.decode(trainer.train_dataset[0]["input_ids"])
    assert "search_recipes" in text0 and "convert_currency" not in text0 and "null" not in text0
    assert '<tool_call>\n{"name": "search_recipes", "arguments": {"ingredients": ["rice", "egg 0"]}}\n</tool_call>' in text0
    assert "<tool_response>" in text0


def test_a_custom_template_without_markers_trains_with_a_derived_template(tmp_path, qwen25_dir, hf_tokenizers):
    """data.chat_template with no {% generation %} markers and no TRL training version: it used to be FT313 (SFTTrainer
    refuses it); now ftspec trains with a template derived from it, and TRL's masks equal the plan's."""
    write_spec(tmp_path, qwen25_dir, "chat")
    custom = tmp_path / "custom.jinja"
    custom.write_text("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    spec = json.loads((tmp_path / "spec.yaml").read_text())
    spec["data"]["chat_template"] = "custom.jinja"
    (tmp_path / "spec.yaml").write_text(json.dumps(spec, indent=1))
    loaded = load_spec(tmp_path / "spec.yaml")
    plan = build_plan(loaded)
    prepared = prepare(loaded)
    assert plan.job.training_chat_template and plan.job.chat_template
    assert any("derived" in note for note in plan.notes)
    trainer = trl_trainer(loaded, plan, prepared, tmp_path, hf_tokenizers[str(qwen25_dir)])
    labels = [[t != -100 for t in row] for row in trainer.train_dataset["labels"]]
    assert plan.train_tokens.loss_bearing_per_epoch == sum(map(sum, labels)) > 0
    tok = hf_tokenizers[str(qwen25_dir)]
    trained = tok.decode([i for row, lab in zip(trainer.train_dataset["input_ids"], labels) for i, m in zip(row, lab) if m])
    assert "<|im_end|>" in trained and "<|im_start|>user" not in trained  # the answers and their stop tokens only


def test_no_rows_left_names_the_cause(tmp_path, qwen25_dir):
    from support import run_cli

    write_spec(tmp_path, qwen25_dir, "chat", max_length=16)
    proc = run_cli("plan", tmp_path / "spec.yaml")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "FT110" in out and "FT000" not in out
    assert "10 of 10 samples are longer than data.max_length 16" in out


def test_lint_counts_what_the_plan_counts(tmp_path, qwen25_dir):
    """Lint's exact counts are the pipeline's: DPO's rejected side (long here, chosen short) and lint's step count."""
    from ftspec.lint.engine import run_lint

    loaded = write_spec(tmp_path, qwen25_dir, "dpo", n=12, max_length=48)
    plan = build_plan(loaded)
    findings = {f.code: f for f in run_lint(loaded)}
    over = plan.data.over_max_length
    assert over == 4  # rows 0, 3, 6, 9: a long rejected answer
    assert findings["FT302"].message.startswith(f"{over} of 12 samples") and "exact" in findings["FT302"].message
    assert findings["FT105"].message.startswith(f"{plan.optimizer_steps} optimizer steps (exact")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data")
def test_glaive_tool_calls_plan_equals_trainer(tmp_path, qwen25_dir, hf_tokenizers):
    """The issue's case: 60 glaive records at max_length 384 planned 18 rows where the trainer kept 14, because
    Arrow unified the tools structs across rows (row 0: 571 -> 773 tokens)."""
    records = json.loads((SHARED_DATA / "glaive_toolcall_en_demo.json").read_text())[:60]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    spec = {"version": 1, "name": "glaive", "model": {"base": str(qwen25_dir)}, "data": {"train": "train.jsonl",
            "max_length": 384}, "training": {"epochs": 1, "batch_size": 4}}
    (tmp_path / "spec.yaml").write_text(json.dumps(spec))
    loaded = load_spec(tmp_path / "spec.yaml")
    plan = build_plan(loaded)
    trainer = trl_trainer(loaded, plan, prepare(loaded), tmp_path, hf_tokenizers[str(qwen25_dir)])
    assert len(trainer.train_dataset) == plan.data.rows > 0
    assert sum(len(x) for x in trainer.train_dataset["input_ids"]) == plan.train_tokens.per_epoch
    assert plan.optimizer_steps == math.ceil(len(trainer.get_train_dataloader()) / 1)


def _weighted_chat(i: int) -> dict:
    """OpenAI-style weights: a draft answer weighted 0 before the final one; every 7th sample all weighted 0."""
    turns = [{"role": "user", "content": f"Draft an answer to {i}."},
             {"role": "assistant", "content": f"draft number {i}", "weight": 0},
             {"role": "user", "content": "Now the final one."},
             {"role": "assistant", "content": f"final {i}", "weight": 0 if i % 7 == 6 else 1}]
    return {"messages": turns if i % 2 == 0 else turns[2:]}


@pytest.mark.parametrize("family", ["qwen25_dir", "qwen3_dir"])
def test_weight_zero_turns_carry_no_loss_in_plan_and_trainer(family, request, tmp_path, hf_tokenizers):
    from ftspec.runs.inputs import write_jsonl
    from ftspec.train.job import read_rows
    from ftspec.train.weighted import tokenize_weighted, training_template, weighted_datasets

    model_dir = request.getfixturevalue(family)
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(_weighted_chat(i)) + "\n" for i in range(14)))
    spec = {"version": 1, "name": "weights", "model": {"base": str(model_dir)}, "adapter": {"rank": 4, "alpha": 2},
            "data": {"train": "train.jsonl", "max_length": 128},
            "training": {"epochs": 1, "batch_size": 2, "gradient_accumulation": 1}}
    (tmp_path / "spec.yaml").write_text(json.dumps(spec))
    loaded = load_spec(tmp_path / "spec.yaml")
    plan, prepared = build_plan(loaded), prepare(loaded)
    assert prepared.counts["dropped_zero_weight"] == 2 and len(prepared.train) == 12  # samples 6 and 13

    tokenizer = hf_tokenizers[str(model_dir)]
    write_jsonl(tmp_path / "rows.jsonl", prepared.train)
    args = dict(plan.job.trainer_args, output_dir=str(tmp_path / "out"), report_to=[], save_strategy="no",
                logging_strategy="no", disable_tqdm=True, eval_strategy="no")
    args.pop("metric_for_best_model", None)
    config = trl.SFTConfig(**args)
    rows = read_rows(tmp_path / "rows.jsonl")
    train, _ = weighted_datasets(rows, None, tokenizer, config)  # what ftspec.train.sft does before SFTTrainer
    model = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    ds = trl.SFTTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=train).train_dataset

    labelled = [[t for t in row if t != -100] for row in ds["labels"]]
    assert len(ds) == plan.data.rows == 12
    assert plan.train_tokens.loss_bearing_per_epoch == sum(map(len, labelled))
    assert plan.train_tokens.per_epoch == sum(len(x) for x in ds["input_ids"])
    for row, record in zip(labelled, prepared.train):
        text = tokenizer.decode(row)
        assert "final" in text and "draft" not in text, text  # the weight-0 draft is out of the loss
    # The rows ftspec tokenized are TRL's own: on the same conversations without weights they are identical.
    unweighted = [{"messages": [{k: v for k, v in m.items() if k != "weight"} for m in r["messages"]]}
                  for r in prepared.train]
    write_jsonl(tmp_path / "plain.jsonl", unweighted)
    own = trl.SFTTrainer(model=model, args=config, processing_class=tokenizer,
                         train_dataset=read_rows(tmp_path / "plain.jsonl")).train_dataset
    ours = trl.SFTTrainer(model=model, args=config, processing_class=tokenizer,
                          train_dataset=tokenize_weighted(read_rows(tmp_path / "plain.jsonl"), tokenizer,
                                                          training_template(tokenizer, True))).train_dataset
    assert list(ours["input_ids"]) == list(own["input_ids"]) and list(ours["labels"]) == list(own["labels"])
    assert sum(t != -100 for row in own["labels"] for t in row) > plan.train_tokens.loss_bearing_per_epoch
