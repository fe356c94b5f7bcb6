"""Offline architecture catalogue: config.json-shaped dicts for the models people fine-tune most.

``ftspec plan`` needs a model's shape to count parameters and size memory. A cached config.json wins; this
catalogue answers when the model is not on this machine (no network at plan time). Values are the published
config.json values; the parameter counts they give are checked against the published sizes in
tests/test_estimate.py. Base and Instruct checkpoints of one size share the shape; only Qwen2.5's
``max_position_embeddings`` differs between them (see _qwen25 below).
"""

from __future__ import annotations

import copy
import difflib


def _qwen25(hidden, intermediate, layers, heads, kv_heads, vocab, tied, base_max_pos) -> dict:
    # Qwen2 attention has bias on q/k/v and none on o_proj. Its real config.json has no
    # "attention_bias" key (the modeling code hard-wires it), so none is written here either:
    # the estimator knows model_type "qwen2" implies it.
    return {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
        "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": hidden // heads,
        "vocab_size": vocab, "tie_word_embeddings": tied, "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "torch_dtype": "bfloat16",
        # Instruct configs say 32768 (YaRN extends it at serving); the 1.5B and 7B-and-up base configs say 131072.
        "_base_max_position_embeddings": base_max_pos,
    }


def _llama3(hidden, intermediate, layers, heads, kv_heads, tied, max_pos, rope_scaling) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": hidden // heads,
        "vocab_size": 128256, "tie_word_embeddings": tied, "max_position_embeddings": max_pos,
        "attention_bias": False, "mlp_bias": False, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": rope_scaling, "torch_dtype": "bfloat16",
    }


def _qwen1(hidden, intermediate, layers, heads) -> dict:
    # Qwen (1.0) remote-code config: fused c_attn (with bias), w1/w2/c_proj MLP where
    # "intermediate_size" is twice the width of each of w1 and w2, multi-head attention.
    return {
        "architectures": ["QWenLMHeadModel"], "model_type": "qwen", "hidden_size": hidden,
        "intermediate_size": intermediate, "num_hidden_layers": layers, "num_attention_heads": heads,
        "kv_channels": hidden // heads, "vocab_size": 151936, "tie_word_embeddings": False,
        "max_position_embeddings": 8192, "seq_length": 8192, "no_bias": True, "layer_norm_epsilon": 1e-6,
    }


_LLAMA31_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 8192}
_LLAMA32_ROPE = {**_LLAMA31_ROPE, "factor": 32.0}

_QWEN25 = {
    "0.5B": _qwen25(896, 4864, 24, 14, 2, 151936, True, 32768),
    "1.5B": _qwen25(1536, 8960, 28, 12, 2, 151936, True, 131072),
    "3B": _qwen25(2048, 11008, 36, 16, 2, 151936, True, 32768),
    "7B": _qwen25(3584, 18944, 28, 28, 4, 152064, False, 131072),
    "14B": _qwen25(5120, 13824, 48, 40, 8, 152064, False, 131072),
    "32B": _qwen25(5120, 27648, 64, 40, 8, 152064, False, 131072),
    "72B": _qwen25(8192, 29568, 80, 64, 8, 152064, False, 131072),
}


def _build() -> dict[str, dict]:
    table: dict[str, dict] = {}
    for size, cfg in _QWEN25.items():
        base_max_pos = cfg["_base_max_position_embeddings"]
        shape = {k: v for k, v in cfg.items() if not k.startswith("_")}
        table[f"Qwen/Qwen2.5-{size}-Instruct"] = shape
        table[f"Qwen/Qwen2.5-{size}"] = {**shape, "max_position_embeddings": base_max_pos}
    llama = {
        "Llama-3.2-1B": _llama3(2048, 8192, 16, 32, 8, True, 131072, _LLAMA32_ROPE),
        "Llama-3.2-3B": _llama3(3072, 8192, 28, 24, 8, True, 131072, _LLAMA32_ROPE),
        "Llama-3.1-8B": _llama3(4096, 14336, 32, 32, 8, False, 131072, _LLAMA31_ROPE),
        "Meta-Llama-3-8B": _llama3(4096, 14336, 32, 32, 8, False, 8192, None),
        "Llama-3.1-70B": _llama3(8192, 28672, 80, 64, 8, False, 131072, _LLAMA31_ROPE),
    }
    for name, cfg in llama.items():
        table[f"meta-llama/{name}"] = cfg
        table[f"meta-llama/{name}-Instruct"] = cfg
    # Llama 3.3 ships only as Instruct and has 3.1-70B's shape.
    table["meta-llama/Llama-3.3-70B-Instruct"] = llama["Llama-3.1-70B"]
    # The hub renamed the 3.1 repos from "Meta-Llama-3.1-..." to "Llama-3.1-..."; both ids resolve.
    for size in ("8B", "70B"):
        for suffix in ("", "-Instruct"):
            table[f"meta-llama/Meta-Llama-3.1-{size}{suffix}"] = llama[f"Llama-3.1-{size}"]
    table["meta-llama/Llama-3-8B"] = llama["Meta-Llama-3-8B"]
    table["meta-llama/Llama-3-8B-Instruct"] = llama["Meta-Llama-3-8B"]
    # Qwen 1.0: the published memory measurements (QwenLM/Qwen README, ms-swift Benchmark.md) are on it.
    for size, cfg in {"7B": _qwen1(4096, 22016, 32, 32), "1_8B": _qwen1(2048, 11008, 24, 16)}.items():
        table[f"Qwen/Qwen-{size}"] = cfg
        table[f"Qwen/Qwen-{size}-Chat"] = cfg
    return table


ARCHITECTURES: dict[str, dict] = _build()
_BY_LOWER = {k.lower(): k for k in ARCHITECTURES}


class UnknownArchitecture(KeyError):
    """The model is neither on this machine nor in the offline catalogue."""

    def __init__(self, model_id: str):
        close = difflib.get_close_matches(model_id.lower(), list(_BY_LOWER), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(_BY_LOWER[c]) for c in close)}?" if close else ""
        self.model_id = model_id
        self.message = (f"no architecture known for {model_id!r}: it is not cached locally and not in the offline "
                        f"catalogue.{hint} Point `base` at a local folder with config.json, or cache the model.")
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the message quoted
        return self.message


def find_architecture(model_id: str) -> dict | None:
    """A copy of the catalogued config for a hub id (case-insensitive), or None."""
    key = _BY_LOWER.get(model_id.strip().lower())
    return copy.deepcopy(ARCHITECTURES[key]) if key else None


def get_architecture(model_id: str) -> dict:
    """Like find_architecture, but raises UnknownArchitecture (with a did-you-mean) when absent."""
    arch = find_architecture(model_id)
    if arch is None:
        raise UnknownArchitecture(model_id)
    return arch
