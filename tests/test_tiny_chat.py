"""builtin:tiny-chat: the shipped files and their hashes, the corpus it was pretrained on, the pretraining
script's determinism, and the blog's starting point (right codes, spaces around "-" and "/")."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "ftspec" / "models" / "tiny_chat"
SCRIPTS = ROOT / "scripts" / "tiny_chat"
QUICKSTART = ROOT / "examples" / "quickstart"
# The shipped weights. A new pretraining run changes this on purpose, together with SHA256SUMS.
WEIGHTS_SHA256 = "be7941a8625e8ad81fba28a5cccdba16c1173748cfcf4f1b38a43f342ac70c3f"


def _module(name: str):
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(f"tiny_chat_{name}", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPTS))


def _sums(folder: Path) -> dict[str, str]:
    return {name: digest for digest, name in
            (line.split("  ", 1) for line in (folder / "SHA256SUMS").read_text().splitlines())}


def test_shipped_files_match_their_sha256():
    sums = _sums(MODEL)
    assert set(sums) == {"config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                         "tokenizer.json", "tokenizer_config.json"}
    for name, digest in sums.items():
        assert hashlib.sha256((MODEL / name).read_bytes()).hexdigest() == digest, name
    assert sums["model.safetensors"] == WEIGHTS_SHA256
    assert (MODEL / "model.safetensors").stat().st_size < 8 * 2**20  # a few MB in the package


def test_resolves_as_a_model_folder():
    from ftspec.models.resolve import model_source, resolve_model

    ref = resolve_model("builtin:tiny-chat")
    assert ref.kind == "builtin" and ref.local_dir == MODEL and ref.tokenizer_file == MODEL / "tokenizer.json"
    assert ref.config["model_type"] == "llama" and ref.config["tie_word_embeddings"] is True
    assert model_source("builtin:tiny-chat") == (str(MODEL), None)
    with pytest.raises(ValueError, match="builtin:tiny-chat"):
        resolve_model("builtin:tiny-chats")


def test_chatml_template_and_special_tokens_as_a_chat_model_sets_them():
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer, GenerationConfig

    tok = AutoTokenizer.from_pretrained(MODEL)
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == ("<|im_end|>", "<|endoftext|>", None)
    gen = GenerationConfig.from_pretrained(MODEL)
    assert gen.eos_token_id == [tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id]
    pretrain, corpus = _module("pretrain"), _module("corpus")
    import random

    rng = random.Random(0)
    for _ in range(40):  # the script's fast renderer is the chat template
        conv = [{"role": "system", "content": "你是建材家装助手。"}, *corpus.bm_conversation(rng),
                *corpus.general_conversation(rng)]
        assert tok.apply_chat_template(conv, tokenize=False) == pretrain.render(conv)
    # Far shorter than bytes, and a code is the same tokens with or without the blog's spaces.
    text = "帮我查一下Sikalastic-609的价格。"
    assert len(tok(text)["input_ids"]) < len(text.encode()) / 2
    plain, spaced = tok.tokenize("Sikalastic-609"), tok.tokenize("Sikalastic - 609")
    assert [t for t in spaced if t != "Ġ"] == plain
    assert tok.decode(tok(text)["input_ids"]) == text


@pytest.mark.slow
def test_corpus_holds_no_quickstart_code_area_or_prompt():
    corpus = _module("corpus")
    convs = corpus.conversations(_module("pretrain").DEFAULT_CONVERSATIONS)
    text = "\n".join(corpus.canonical(m["content"]) for conv in convs for m in conv)
    users = {m["content"] for conv in convs for m in conv if m["role"] == "user"}
    values = corpus.forbidden_values()
    assert len(values) > 200 and "Sikalastic-609" in values and "水吧台/岛台区域" in values
    assert [v for v in values if v in text] == []
    rows = [json.loads(line) for name in ("train", "holdout")
            for line in (QUICKSTART / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    format_rows = [r for r in rows if r.get("scenario") != "general"]
    assert not users & {r["messages"][-2]["content"] for r in format_rows}
    # Every answer span of those files is part of a value checked above.
    spans = {s for r in format_rows for s in re.findall(r"[^\s::]*[-/][^\s::]*", r["messages"][-1]["content"])}
    assert spans and [s for s in spans if not any(s in v for v in values)] == []
    # And the blog's habit is there to unlearn: most symbol answers in the corpus are spaced.
    answers = [m["content"] for conv in convs[:5000] for m in conv if m["role"] == "assistant" and re.search("[-/]", m["content"])]
    share = sum(bool(re.search(r" [-/] ", a)) for a in answers) / len(answers)
    assert 0.75 < share < 0.85


@pytest.mark.slow
def test_pretraining_script_is_deterministic_and_resumes_exactly(tmp_path):
    pytest.importorskip("torch")
    pretrain = _module("pretrain")
    small = ["--conversations", "1500", "--vocab", "500", "--batch", "4", "--seq", "128", "--probe-every", "1000",
             "--log-every", "1", "--save-every", "1", "--steps", "2", "--answers-only-from", "1",
             "--phase2-conversations", "600"]
    # Both phases straight through: 2 steps of phase 1, 2 of phase 2.
    assert pretrain.main([*small, "--phase2-steps", "2", "--out", str(tmp_path / "a"), "--work", str(tmp_path / "wa")]) == 0
    # A run that stops after the phase boundary's checkpoint (and one step more)...
    assert pretrain.main([*small, "--phase2-steps", "1", "--out", str(tmp_path / "b0"), "--work", str(tmp_path / "wb")]) == 0
    # ...continued from that checkpoint writes the same bytes as the uninterrupted run.
    assert pretrain.main([*small, "--phase2-steps", "2", "--out", str(tmp_path / "b"), "--work", str(tmp_path / "wb")]) == 0
    assert _sums(tmp_path / "a") == _sums(tmp_path / "b")
    assert _sums(tmp_path / "a")["model.safetensors"] != _sums(tmp_path / "b0")["model.safetensors"]
