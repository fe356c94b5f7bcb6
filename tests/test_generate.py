import json
from pathlib import Path

import pytest

from ftspec.evaluate.generate import generate_outputs, holdout_samples

pytest.importorskip("torch")
pytest.importorskip("peft")

HOLDOUT = Path(__file__).resolve().parent.parent / "examples" / "quickstart" / "holdout.jsonl"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from ftspec.models.tiny import tiny_model_dir

    # The conftest's per-test FTSPEC_HOME is not active for module fixtures; pin it to a temp folder.
    mp = pytest.MonkeyPatch()
    mp.setenv("FTSPEC_HOME", str(tmp_path_factory.mktemp("ftspec-home")))
    try:
        yield str(tiny_model_dir(with_weights=True))
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def prompts():
    records = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines()[:5]]
    return [s["prompt"] for s in holdout_samples(records)]


def test_holdout_samples_split_prompt_and_reference():
    records = [
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                      {"role": "assistant", "content": "Sikalastic-609"}], "scenario": "trained"},
        {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
    ]
    samples = holdout_samples(records)
    assert samples[0] == {"prompt": records[0]["messages"][:2], "tools": None, "reference": "Sikalastic-609",
                          "scenario": "trained"}
    assert samples[1]["scenario"] is None and samples[1]["prompt"] == [{"role": "user", "content": "u"}]
    with pytest.raises(ValueError, match="assistant"):
        holdout_samples([{"messages": [{"role": "user", "content": "u"}]}])


def test_generation_is_deterministic_and_batch_independent(tiny_dir, prompts):
    first = generate_outputs(tiny_dir, prompts, max_new_tokens=12, batch_size=2)
    again = generate_outputs(tiny_dir, prompts, max_new_tokens=12, batch_size=2)
    assert len(first) == len(prompts) and all(isinstance(o, str) for o in first)
    assert first == again
    # Left padding must not change what a prompt produces.
    assert generate_outputs(tiny_dir, prompts, max_new_tokens=12, batch_size=1) == first
    assert generate_outputs(tiny_dir, [], max_new_tokens=12) == []


def test_lora_adapter_loads_and_changes_outputs(tiny_dir, prompts, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    # Random (non-zero) LoRA B matrices, so the adapter visibly changes generation.
    config = LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(str(tmp_path / "adapter"))

    plain = generate_outputs(tiny_dir, prompts, max_new_tokens=12)
    adapted = generate_outputs(tiny_dir, prompts, adapter_dir=str(tmp_path / "adapter"), max_new_tokens=12)
    assert all(isinstance(o, str) for o in adapted)
    assert adapted != plain
    assert generate_outputs(tiny_dir, prompts, adapter_dir=tmp_path / "adapter", max_new_tokens=12) == adapted


def test_dpo_holdout_records_use_the_prompt_and_the_chosen_answer():
    from ftspec.evaluate.generate import holdout_samples

    record = {"prompt": [{"role": "user", "content": "code?"}], "chosen": [{"role": "assistant", "content": "K1-X"}],
              "rejected": [{"role": "assistant", "content": "K1 - X"}]}
    (sample,) = holdout_samples([record])
    assert sample["prompt"] == record["prompt"] and sample["reference"] == "K1-X"
