"""The built-in tiny causal LM (``builtin:tiny``): offline default for the quickstart and the tests.

Everything here is generated, never downloaded: a byte-level BPE tokenizer with no merges (the 256
byte tokens plus three ChatML specials, so any text round-trips exactly and no corpus is needed),
a ChatML chat template with ``{% generation %}`` markers for assistant-only loss, and a small Llama.

Config and tokenizer files are plain JSON written by hand so that lint and plan can materialize
them without torch or transformers; only the weights need torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TINY_ID = "builtin:tiny"

PAD_TOKEN = "<|endoftext|>"
BOS_TOKEN = "<|im_start|>"
EOS_TOKEN = "<|im_end|>"
# Byte b has id b, so the specials come right after the 256 byte tokens.
SPECIAL_TOKENS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN)
PAD_TOKEN_ID, IM_START_ID, EOS_TOKEN_ID = 256, 257, 258
VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)

WEIGHTS_FILE = "model.safetensors"
# Part of the cache key: bump when the way weights are drawn changes, so old caches are not reused.
_WEIGHTS_SCHEME = "normal-0.02/lm-head-1-over-sqrt-h/ones-norms/zero-pad-row/v2"

# Qwen2.5's ChatML layout, minus its default system prompt (it would cost ~70 byte tokens per
# sample on a model that reads one token per byte). The generation block covers exactly what the
# model must produce after the generation prompt: the content, tool calls and <|im_end|>. The
# newline after <|im_end|> stays outside so the mask ends on the stop token.
CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- elif messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == 'system' and loop.first %}
        {#- already written above -#}
    {%- elif message.role == 'user' or message.role == 'system' %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {{- '<|im_start|>assistant\n' }}
        {%- generation %}
            {%- if message.content %}
                {{- message.content }}
            {%- endif %}
            {%- for tool_call in message.tool_calls or [] %}
                {%- if tool_call.function is defined %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {%- if message.content or not loop.first %}
                    {{- '\n' }}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' + tool_call.name + '", "arguments": ' }}
                {{- tool_call.arguments | tojson }}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
            {{- '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- raise_exception('Unknown role: ' + message.role) }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""


@dataclass(frozen=True)
class TinySizes:
    """The tiny model's shape. Defaults train a few hundred short chats for several epochs in seconds on CPU."""

    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    intermediate_size: int = 512
    max_position_embeddings: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    @property
    def parameter_count(self) -> int:
        h, i, layers = self.hidden_size, self.intermediate_size, self.num_hidden_layers
        kv = self.num_key_value_heads * (h // self.num_attention_heads)
        per_layer = h * h * 2 + h * kv * 2 + 3 * h * i + 2 * h  # q,o + k,v + mlp + 2 norms
        return 2 * VOCAB_SIZE * h + layers * per_layer + h  # untied embed/lm_head + final norm


DEFAULT_SIZES = TinySizes()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-printable-char table, which the ByteLevel pre-tokenizer and decoder use."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


def _added_token(token_id: int, content: str) -> dict:
    return {"id": token_id, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": True}


def tokenizer_json() -> dict:
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(256 + k, t) for k, t in enumerate(SPECIAL_TOKENS)],
        # No normalizer: NFC (as Qwen has) would rewrite decomposed text and break exact round-trips.
        "normalizer": None,
        "pre_tokenizer": byte_level,
        # trim_offsets=False keeps whitespace tokens addressable by char offsets, which the
        # assistant mask relies on.
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": {char: b for b, char in sorted(_bytes_to_unicode().items())},
            "merges": [],
        },
    }


def tokenizer_config_json(sizes: TinySizes = DEFAULT_SIZES) -> dict:
    return {
        "added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"}
                                 for t in tokenizer_json()["added_tokens"]},
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS_TOKEN,
        "model_max_length": sizes.max_position_embeddings,
        "pad_token": PAD_TOKEN,
        "split_special_tokens": False,
        # Not a model-specific class: transformers 5 classes like Qwen2Tokenizer or LlamaTokenizer
        # rebuild their own normalizer/pre-tokenizer; this one loads tokenizer.json as written.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }


def config_json(sizes: TinySizes = DEFAULT_SIZES) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": None,
        "dtype": "float32",
        "eos_token_id": EOS_TOKEN_ID,
        "head_dim": sizes.hidden_size // sizes.num_attention_heads,
        "hidden_act": "silu",
        "hidden_size": sizes.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": sizes.intermediate_size,
        "max_position_embeddings": sizes.max_position_embeddings,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": sizes.num_attention_heads,
        "num_hidden_layers": sizes.num_hidden_layers,
        "num_key_value_heads": sizes.num_key_value_heads,
        "pad_token_id": PAD_TOKEN_ID,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-06,
        "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
        # Untied: a shared embedding/lm_head tensor complicates writing safetensors by hand.
        "tie_word_embeddings": False,
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }


def generation_config_json() -> dict:
    # Like Qwen: stop on end-of-turn and on end-of-text.
    return {"bos_token_id": None, "eos_token_id": [EOS_TOKEN_ID, PAD_TOKEN_ID], "pad_token_id": PAD_TOKEN_ID}


def _dump(obj: dict) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def text_files(sizes: TinySizes = DEFAULT_SIZES) -> dict[str, bytes]:
    """Every file of the model folder except the weights, as bytes (no torch needed)."""
    tok_config = tokenizer_config_json(sizes)
    return {
        "config.json": _dump(config_json(sizes)),
        "generation_config.json": _dump(generation_config_json()),
        "tokenizer.json": _dump(tokenizer_json()),
        "tokenizer_config.json": _dump(tok_config),
        "special_tokens_map.json": _dump({k: tok_config[k] for k in ("eos_token", "pad_token")}),
    }


@lru_cache(maxsize=None)
def definition_hash(sizes: TinySizes = DEFAULT_SIZES) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(text_files(sizes).items()):
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    digest.update(f"weights\0{_WEIGHTS_SCHEME}\0seed={sizes.seed}".encode())
    return digest.hexdigest()[:12]


def weights_bytes(sizes: TinySizes = DEFAULT_SIZES) -> bytes:
    """model.safetensors for the Llama layout, drawn from a fixed seed as transformers would init it."""
    import torch
    from safetensors.torch import save

    generator = torch.Generator().manual_seed(sizes.seed)
    h, i = sizes.hidden_size, sizes.intermediate_size
    head_dim = h // sizes.num_attention_heads
    kv = sizes.num_key_value_heads * head_dim

    def normal(*shape: int, std: float = 0.02) -> torch.Tensor:
        return torch.empty(shape).normal_(0.0, std, generator=generator)

    tensors: dict[str, torch.Tensor] = {}
    embed = normal(VOCAB_SIZE, h)
    embed[PAD_TOKEN_ID] = 0.0  # transformers zeroes the padding_idx row
    tensors["model.embed_tokens.weight"] = embed
    for layer in range(sizes.num_hidden_layers):
        p = f"model.layers.{layer}."
        tensors[p + "input_layernorm.weight"] = torch.ones(h)
        tensors[p + "self_attn.q_proj.weight"] = normal(sizes.num_attention_heads * head_dim, h)
        tensors[p + "self_attn.k_proj.weight"] = normal(kv, h)
        tensors[p + "self_attn.v_proj.weight"] = normal(kv, h)
        tensors[p + "self_attn.o_proj.weight"] = normal(h, sizes.num_attention_heads * head_dim)
        tensors[p + "post_attention_layernorm.weight"] = torch.ones(h)
        tensors[p + "mlp.gate_proj.weight"] = normal(i, h)
        tensors[p + "mlp.up_proj.weight"] = normal(i, h)
        tensors[p + "mlp.down_proj.weight"] = normal(h, i)
    tensors["model.norm.weight"] = torch.ones(h)
    # LoRA "all-linear" freezes lm_head and the final norm (whose output has norm sqrt(hidden)), so
    # logits are capped near |lm_head row| * sqrt(hidden) = std * hidden: only ~2.6 at std 0.02 and
    # hidden 128, and the loss stalls near ln(vocab). Rows of norm 1 let logits reach ~sqrt(hidden).
    tensors["lm_head.weight"] = normal(VOCAB_SIZE, h, std=h**-0.5)
    return save(tensors, metadata={"format": "pt"})


def _write_file_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is meant to be shared like HF's
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tiny_model_files(dest: Path, *, with_weights: bool, sizes: TinySizes = DEFAULT_SIZES) -> Path:
    """Write the model folder at ``dest`` all at once: it appears complete or not at all.

    Files are staged in a sibling temp folder and renamed into place, so a killed writer leaves only
    a hidden temp folder. If ``dest`` already exists (say a concurrent writer won), it is kept and
    only the weights are added when asked for and missing.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.is_dir() or not any(dest.iterdir()):
        staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
        staging.chmod(0o755)  # mkdtemp makes it private
        try:
            for name, data in text_files(sizes).items():
                (staging / name).write_bytes(data)
            if with_weights:
                (staging / WEIGHTS_FILE).write_bytes(weights_bytes(sizes))
            try:
                os.rename(staging, dest)  # replaces an empty dest; fails if someone else filled it
            except OSError:
                if not dest.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if with_weights and not (dest / WEIGHTS_FILE).exists():
        _write_file_atomically(dest / WEIGHTS_FILE, weights_bytes(sizes))
    return dest


def ftspec_home() -> Path:
    return Path(os.environ.get("FTSPEC_HOME") or Path.home() / ".cache" / "ftspec")


def tiny_model_dir(with_weights: bool = False, *, sizes: TinySizes = DEFAULT_SIZES) -> Path:
    """The cached tiny model folder, written on first use. Without weights it needs no torch."""
    dest = ftspec_home() / "builtin" / f"tiny-{definition_hash(sizes)}"
    if dest.is_dir() and (not with_weights or (dest / WEIGHTS_FILE).exists()):
        return dest
    return write_tiny_model_files(dest, with_weights=with_weights, sizes=sizes)
