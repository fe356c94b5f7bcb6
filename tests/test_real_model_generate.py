"""Evaluation generates as a real chat model is used: its own template and tools, plain greedy decoding that stops
at its end of turn, left padding, no prompt echo, no special tokens (on the Qwen fixtures, see test_real_models)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from ftspec.evaluate.generate import generate_outputs, render_prompts, use_greedy  # noqa: E402

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
PROMPTS = [[{"role": "user", "content": "Hi"}],
           [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the weather in a long "
                                                                                    "sentence about Paris today?"}],
           [{"role": "user", "content": "Weather in Rome?"}]]


@pytest.mark.parametrize("family", ["qwen25_dir", "qwen3_dir"])
def test_prompts_use_the_models_template_and_each_records_tools(family, request):
    tokenizer = transformers.AutoTokenizer.from_pretrained(request.getfixturevalue(family))
    texts = render_prompts(tokenizer, PROMPTS, [None, None, TOOLS])
    assert all(t.endswith("<|im_start|>assistant\n") for t in texts)
    assert "get_weather" in texts[2] and "<tools>" in texts[2]
    assert "get_weather" not in texts[0] + texts[1]
    if family == "qwen25_dir":  # Qwen2.5's template writes its default system prompt when there is none
        assert texts[0].startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")
        assert texts[1].startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_greedy_replaces_the_checkpoints_sampling_settings(qwen25_dir):
    tokenizer = transformers.AutoTokenizer.from_pretrained(qwen25_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(qwen25_dir, dtype=torch.float32)
    assert model.generation_config.repetition_penalty == 1.1 and model.generation_config.do_sample  # the hub's
    config = use_greedy(model, tokenizer, 5)
    # What generate() will really run with: it fills a passed config's unset values from model.generation_config.
    effective, _ = model._prepare_generation_config(config)
    assert effective.do_sample is False and effective.num_beams == 1
    assert effective.repetition_penalty in (None, 1.0)
    assert effective.eos_token_id[0] == 151645 and 151643 in effective.eos_token_id  # stops at <|im_end|>
    assert effective.max_new_tokens == 5 and effective.pad_token_id == 151643


def test_outputs_are_batch_independent_unechoed_and_clean(qwen25_dir):
    one = generate_outputs(str(qwen25_dir), PROMPTS, tools=[None, None, TOOLS], max_new_tokens=6, batch_size=1)
    batched = generate_outputs(str(qwen25_dir), PROMPTS, tools=[None, None, TOOLS], max_new_tokens=6, batch_size=3)
    assert batched == one  # left padding: the longest prompt in a batch does not change the others' answers
    for text, prompt in zip(one, PROMPTS):
        assert prompt[-1]["content"] not in text and "<|im_start|>" not in text and "<|im_end|>" not in text
