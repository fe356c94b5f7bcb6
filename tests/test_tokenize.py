"""ftspec.tokenizer.chat must agree token for token with transformers, without importing it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftspec.models.resolve import ModelRef, resolve_model
from ftspec.models.tiny import write_tiny_model_files
from ftspec.tokenizer.chat import ChatTokenizer

REPO = Path(__file__).resolve().parents[1]

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "查询天气 <b>&amp;</b>",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

CONVERSATIONS = {
    "single-user": [{"role": "user", "content": "hi"}],
    "multi-turn-system": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
        {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": "6"}],
    "chinese-emoji": [{"role": "user", "content": "你好，世界"},
                      {"role": "assistant", "content": "你好！有什么可以帮你？😀"}],
    "empty-contents": [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
    "whitespace-only": [{"role": "user", "content": " "}, {"role": "assistant", "content": "\n\t "}],
    "assistant-first": [{"role": "assistant", "content": "I speak first."}],
    "special-tokens-in-text": [{"role": "user", "content": "say <|im_end|> please"},
                               {"role": "assistant", "content": "ok <|im_start|>x<|endoftext|>"}],
    "tool-calls": [
        {"role": "user", "content": "北京天气?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "北京"}}}]},
        {"role": "tool", "content": "晴 25°C"}, {"role": "tool", "content": "湿度 40%"},
        {"role": "assistant", "content": "晴天。"}],
    "content-and-two-calls": [
        {"role": "user", "content": "two calls"},
        {"role": "assistant", "content": "sure", "tool_calls": [
            {"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": [1, 2], "s": "é"}}]}],
    "late-system-and-reasoning": [
        {"role": "system", "content": "s1"}, {"role": "user", "content": "u"},
        {"role": "system", "content": "s2"},
        {"role": "assistant", "content": "a", "reasoning_content": "hidden"}],
    "long-multiline": [{"role": "user", "content": "line1\nline2\r\n\n" * 20},
                       {"role": "assistant", "content": "```python\nprint('x')\n```\n" * 10}],
}

TEXTS = ["", "hello world", "  leading and trailing  ", "中文，标点。", "e\u0301 vs é", "tabs\tand\nnewlines\r\n",
         "<|im_start|>user\nhi<|im_end|>", "emoji 👩‍👩‍👧 and \x00 control", "a" * 500]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_tiny_model_files(tmp_path_factory.mktemp("tiny") / "model", with_weights=False)


@pytest.fixture(scope="module")
def ours(model_dir) -> ChatTokenizer:
    return ChatTokenizer.from_files(model_dir / "tokenizer.json")


@pytest.fixture(scope="module")
def theirs(model_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(model_dir)


@pytest.mark.parametrize("tools", [None, TOOLS], ids=["no-tools", "tools"])
@pytest.mark.parametrize("add_generation_prompt", [False, True], ids=["train", "prompt"])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_chat_ids_and_assistant_mask_match_transformers(ours, theirs, name, add_generation_prompt, tools):
    messages = CONVERSATIONS[name]
    expected = theirs.apply_chat_template(messages, tools=tools, add_generation_prompt=add_generation_prompt,
                                          tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = ours.encode_chat(messages, add_generation_prompt=add_generation_prompt, tools=tools)
    assert ids == expected["input_ids"]
    assert mask == expected["assistant_masks"]
    assert ours.render_chat(messages, add_generation_prompt=add_generation_prompt, tools=tools) == \
        theirs.apply_chat_template(messages, tools=tools, add_generation_prompt=add_generation_prompt, tokenize=False)


def test_mask_covers_content_and_end_of_turn_only(ours):
    ids, mask = ours.encode_chat(CONVERSATIONS["chinese-emoji"])
    masked = [i for i, m in zip(ids, mask) if m]
    assert ours.decode(masked) == "你好！有什么可以帮你？😀<|im_end|>"
    assert masked[-1] == ours.eos_token_id


@pytest.mark.parametrize("text", TEXTS)
def test_encode_matches_transformers_and_round_trips(ours, theirs, text):
    assert ours.encode(text) == theirs(text, add_special_tokens=False)["input_ids"]
    assert ours.encode(text, add_special_tokens=True) == theirs(text, add_special_tokens=True)["input_ids"]
    assert ours.decode(ours.encode(text)) == text


def test_special_token_ids(ours, theirs):
    assert (ours.eos_token, ours.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert (ours.eos_token_id, ours.pad_token_id) == (theirs.eos_token_id, theirs.pad_token_id) == (258, 256)


def test_errors_match_transformers(ours, theirs):
    jinja2 = pytest.importorskip("jinja2")
    with pytest.raises(ValueError, match="empty conversation"):
        ours.encode_chat([])
    with pytest.raises(ValueError, match="empty conversation"):
        theirs.apply_chat_template([])
    bad_role = [{"role": "robot", "content": "beep"}]
    with pytest.raises(jinja2.exceptions.TemplateError, match="Unknown role: robot"):
        ours.render_chat(bad_role)
    with pytest.raises(jinja2.exceptions.TemplateError, match="Unknown role: robot"):
        theirs.apply_chat_template(bad_role, tokenize=False)


def test_chat_template_file_wins_and_sees_special_tokens(model_dir, tmp_path):
    transformers = pytest.importorskip("transformers")
    folder = shutil.copytree(model_dir, tmp_path / "custom")
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}{{ m.role }}: {% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}"
        "{{ pad_token }}{% endfor %}", encoding="utf-8")
    ours = ChatTokenizer.from_files(folder / "tokenizer.json")
    theirs = transformers.AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "答"}]
    expected = theirs.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert ours.encode_chat(messages) == (expected["input_ids"], expected["assistant_masks"])
    assert ours.render_chat(messages) == "user: q<|im_end|><|endoftext|>assistant: 答<|im_end|><|endoftext|>"


def test_legacy_list_of_templates(model_dir, tmp_path):
    folder = shutil.copytree(model_dir, tmp_path / "legacy")
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = [{"name": "default", "template": "D{{ messages|length }}"},
                               {"name": "tool_use", "template": "T{{ tools|length }}"}]
    config_path.write_text(json.dumps(config), encoding="utf-8")
    ours = ChatTokenizer.from_files(folder / "tokenizer.json")
    messages = [{"role": "user", "content": "x"}]
    assert ours.render_chat(messages) == "D1"
    assert ours.render_chat(messages, tools=TOOLS) == "T1"


def test_from_model(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSPEC_HOME", str(tmp_path))
    assert ChatTokenizer.from_model(resolve_model("builtin:tiny")).eos_token_id == 258
    assert ChatTokenizer.from_model(ModelRef(base="org/not-cached", kind="hub")) is None


def test_lint_path_never_imports_torch_or_transformers(tmp_path):
    code = (
        "import json, sys\n"
        "from ftspec.models.resolve import resolve_model\n"
        "from ftspec.tokenizer.chat import ChatTokenizer\n"
        "tok = ChatTokenizer.from_model(resolve_model('builtin:tiny'))\n"
        "ids, mask = tok.encode_chat([{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': 'hi'}])\n"
        "assert sum(mask) == 3 and tok.encode('hi') == [104, 105]\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'huggingface_hub', 'safetensors', 'numpy'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "FTSPEC_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
