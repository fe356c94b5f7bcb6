"""A decoder's shape read from its config.json (or the architecture catalogue), and its parameter counts: total,
those in matrix multiplies, and LoRA's trainable ones, as PEFT counts them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ftspec.plan.estimate_terms import EstimateError


@dataclass(frozen=True)
class LinearModule:
    name: str  # the name PEFT's target_modules matches
    d_in: int
    d_out: int
    bias: bool


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden: int
    intermediate: int  # width of each SwiGLU branch
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    linears: tuple[LinearModule, ...]  # per decoder layer
    norm_params_per_layer: int

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim


REQUIRED_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


def model_shape(arch: dict) -> ModelShape:
    """Read a config.json-shaped dict (catalogue entry or a local config) into the shape the model needs."""
    if "hidden_size" not in arch and isinstance(arch.get("text_config"), dict):
        arch = arch["text_config"]  # multimodal wrappers keep the language model's shape inside
    missing = [k for k in REQUIRED_KEYS if arch.get(k) is None]
    if missing:
        raise EstimateError(f"architecture lacks {', '.join(missing)}: cannot size the model")
    model_type = str(arch.get("model_type", "llama"))
    h, layers, heads = int(arch["hidden_size"]), int(arch["num_hidden_layers"]), int(arch["num_attention_heads"])
    vocab = int(arch["vocab_size"])
    # The Llama/Qwen config classes default to untied embeddings when the key is absent.
    tied = bool(arch.get("tie_word_embeddings", False))
    if model_type == "qwen":
        # Qwen 1.0 remote code: fused c_attn (always with bias), MHA, w1/w2 each half of intermediate_size.
        head_dim = int(arch.get("kv_channels") or h // heads)
        inter = int(arch["intermediate_size"]) // 2
        bias = not arch.get("no_bias", True)
        q = heads * head_dim
        linears = (LinearModule("c_attn", h, 3 * q, True), LinearModule("c_proj", q, h, bias),
                   LinearModule("w1", h, inter, bias), LinearModule("w2", h, inter, bias),
                   LinearModule("c_proj", inter, h, bias))
        return ModelShape(model_type, h, inter, layers, heads, heads, head_dim, vocab, tied, linears, 2 * h)
    head_dim = int(arch.get("head_dim") or h // heads)
    kv_heads = int(arch.get("num_key_value_heads") or heads)
    inter = int(arch["intermediate_size"])
    # Qwen2's modeling code puts bias on q/k/v (not o) without a config key; Llama's attention_bias
    # covers all four projections.
    qkv_bias = bool(arch.get("attention_bias", model_type == "qwen2"))
    o_bias = bool(arch.get("attention_bias", False))
    mlp_bias = bool(arch.get("mlp_bias", False))
    q, kv = heads * head_dim, kv_heads * head_dim
    linears = (LinearModule("q_proj", h, q, qkv_bias), LinearModule("k_proj", h, kv, qkv_bias),
               LinearModule("v_proj", h, kv, qkv_bias), LinearModule("o_proj", q, h, o_bias),
               LinearModule("gate_proj", h, inter, mlp_bias), LinearModule("up_proj", h, inter, mlp_bias),
               LinearModule("down_proj", inter, h, mlp_bias))
    norms = 2 * h + (2 * head_dim if model_type == "qwen3" else 0)  # Qwen3 adds q_norm and k_norm
    return ModelShape(model_type, h, inter, layers, heads, kv_heads, head_dim, vocab, tied, linears, norms)


def as_shape(arch: dict | ModelShape) -> ModelShape:
    return arch if isinstance(arch, ModelShape) else model_shape(arch)


def count_parameters(arch: dict | ModelShape) -> int:
    """Total parameters, tied embeddings counted once (what ``model.num_parameters()`` reports)."""
    s = as_shape(arch)
    per_layer = sum(m.d_in * m.d_out + (m.d_out if m.bias else 0) for m in s.linears) + s.norm_params_per_layer
    embeddings = s.vocab * s.hidden * (1 if s.tied else 2)
    return s.layers * per_layer + embeddings + s.hidden  # + the final norm


def matmul_parameters(arch: dict | ModelShape) -> int:
    """Parameters that take part in a matrix multiply per token: decoder Linears and the LM head.

    The input embedding is a lookup (no FLOPs); a tied LM head still multiplies, so it counts once either way.
    """
    s = as_shape(arch)
    return s.layers * sum(m.d_in * m.d_out for m in s.linears) + s.vocab * s.hidden


def quantisable_parameters(s: ModelShape) -> int:
    # bitsandbytes quantises the decoder Linears' weights; embeddings, lm_head, norms and biases stay bf16.
    return s.layers * sum(m.d_in * m.d_out for m in s.linears)


def target_linears(s: ModelShape, target_modules: str | Sequence[str]) -> list[LinearModule]:
    if isinstance(target_modules, str):
        if target_modules == "all-linear":
            return list(s.linears)  # PEFT: every Linear in the blocks, lm_head excluded
        target_modules = [target_modules]
    names = {m.name for m in s.linears}
    unknown = [t for t in target_modules if t not in names]
    if unknown:
        raise EstimateError(f"target_modules {unknown} not in this architecture; it has "
                            f"{', '.join(sorted(names))} (or use 'all-linear')")
    wanted = set(target_modules)
    return [m for m in s.linears if m.name in wanted]


def lora_trainable_parameters(arch: dict | ModelShape, rank: int, target_modules: str | Sequence[str]) -> int:
    """PEFT's count: r x (d_in + d_out) per adapted Linear, over all layers."""
    if rank <= 0:
        raise EstimateError(f"LoRA rank must be positive, got {rank}")
    s = as_shape(arch)
    return s.layers * sum(rank * (m.d_in + m.d_out) for m in target_linears(s, target_modules))
