"""How many positions a model can be trained on, read from its config.json: ``max_position_embeddings`` stretched by
its RoPE scaling, the way transformers' ``modeling_rope_utils`` stretches it.

transformers 4.x configs keep the scaling under ``rope_scaling``; 5.x writes ``rope_parameters`` (and still reads
``rope_scaling``, which wins when both are there: ``RotaryEmbeddingConfigMixin.convert_rope_params_to_dict``). Either
may name the type as ``rope_type`` or the older ``type``. Per type, the positions the scaled frequencies were made for:

* ``linear``: every frequency divided by ``factor`` (``_compute_linear_scaling_rope_parameters``), so ``factor`` x
  ``max_position_embeddings``: Vicuna-7B-v1.5-16k says 4096 and factor 4.
* ``dynamic``: frequencies unchanged up to ``max_position_embeddings``; past it the base is recomputed in every
  forward pass from that batch's longest sequence (``_compute_dynamic_ntk_parameters``, ``dynamic_rope_update``).
  ``factor`` x ``max_position_embeddings`` is the stretch its factor is tuned for; ``beyond`` marks the positions
  whose frequencies move from batch to batch.
* ``yarn``, ``longrope``, ``llama3``: they carry ``original_max_position_embeddings`` (the pretraining length;
  transformers fills in ``max_position_embeddings`` when it is absent, ``standardize_rope_params``). A config whose
  ``max_position_embeddings`` is already above the original states the scaled length itself (Llama 3.1: 131072 over
  8192 with llama3 factor 8; DeepSeek-V3: 163840 over 4096 with yarn factor 40; Phi-3 longrope): that is used, the
  factor not applied again (Llama 3.1's 8 x 8192 would even say 65536, Llama 3.2's 32 x 8192 262144). Otherwise it is
  ``factor`` x original: Qwen2.5's README adds yarn factor 4 over 32768 and leaves max_position_embeddings at 32768.
* ``default`` and ``mrope`` (Qwen2-VL: sections of the head, no stretch): ``max_position_embeddings``.
* any other type: ``max_position_embeddings``, and the reason says the type was not scaled.

A value that does not make a scaling (a factor that is no number >= 1, an original that is no positive integer, a
``rope_scaling`` that is no mapping) falls back to ``max_position_embeddings`` with a note; nothing here raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Types whose original pretraining length is the config's ``original_max_position_embeddings``.
_WITH_ORIGINAL = ("yarn", "longrope", "llama3")
_UNSCALED = ("default", "mrope")
_ALIASES = {"su": "longrope"}  # Phi-3's first configs; transformers 4.x renamed it
# Linear scaling whose max_position_embeddings already includes the factor: Gemma 3 says 131072 and linear factor 8
# for its global layers (pretrained at 32768); factor x 131072 would claim a million positions.
_LINEAR_ALREADY_SCALED = ("gemma3", "gemma3_text")


@dataclass(frozen=True)
class ModelContext:
    positions: int  # what data.max_length is judged against
    why: str  # how ``positions`` was reached, for the message
    beyond: int | None = None  # dynamic NTK: past this length the frequencies are recomputed per batch

    def describe(self) -> str:
        return f"{self.positions} positions: {self.why}"


def _posint(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _g(x: float) -> str:
    return f"{x:g}"


def rope_settings(config: dict) -> tuple[object, str]:
    """The config's RoPE scaling as written (``rope_scaling`` first, as transformers reads it) and its key."""
    for key in ("rope_scaling", "rope_parameters"):
        value = config.get(key)
        if value:
            return value, key
    return None, ""


def _full_attention(params: dict, key: str) -> tuple[dict | None, str]:
    """Per-layer-type parameters (transformers 5, e.g. Gemma 3: full_attention / sliding_attention) reduced to the
    layers that see the whole sequence: sliding-window layers never attend past their window."""
    flat = any(k in params for k in ("rope_type", "type", "factor"))
    if flat or not any(isinstance(v, dict) for v in params.values()):
        return params, ""
    chosen = params.get("full_attention")
    if isinstance(chosen, dict):
        return chosen, f"{key}.full_attention "
    return None, f"{key} is per layer type with no full_attention entry"


def model_context(config: dict | None) -> ModelContext | None:
    """The positions ``config`` (a config.json as a dict) can train, with why; None when it states no length."""
    if not isinstance(config, dict):
        return None
    if "max_position_embeddings" not in config and isinstance(config.get("text_config"), dict):
        config = config["text_config"]  # multimodal configs keep the language model's settings there
    declared = config.get("max_position_embeddings")
    declared = declared if _posint(declared) else None
    raw, key = rope_settings(config)

    def plain(note: str = "no RoPE scaling") -> ModelContext | None:
        return ModelContext(declared, f"max_position_embeddings, {note}") if declared else None

    if raw is None:
        return plain()
    if not isinstance(raw, dict):
        return plain(f"{key} ignored: it is not a mapping ({raw!r:.40})")
    params, where = _full_attention(raw, key)
    if params is None:
        return plain(f"{where}: RoPE scaling not read")
    rope_type = params.get("rope_type", params.get("type", "default"))
    if not isinstance(rope_type, str):
        return plain(f"{key} ignored: its rope_type {rope_type!r:.40} is not a name")
    rope_type = _ALIASES.get(rope_type, rope_type)
    if rope_type in _UNSCALED:
        return plain(f"{where}RoPE type {rope_type}, which does not stretch positions" if rope_type != "default"
                     else "no RoPE scaling")
    if rope_type not in ("linear", "dynamic") + _WITH_ORIGINAL:
        return plain(f"{where}RoPE type {rope_type!r} is not one ftspec knows how to scale, so its scaled context is "
                     "unknown")
    factor, original = params.get("factor"), params.get("original_max_position_embeddings")
    if factor is not None and not (_number(factor) and factor >= 1):
        return plain(f"{key} ignored: factor {factor!r:.40} is not a number >= 1")
    if original is not None and not _posint(original):
        return plain(f"{key} ignored: original_max_position_embeddings {original!r:.40} is not a positive integer")
    if original and declared and declared > original:
        return ModelContext(declared, f"max_position_embeddings, already the {rope_type}-scaled context "
                                      f"(original {original}; the factor is not applied again)")
    base = original or declared  # transformers' default for the original, and linear's and dynamic's reference
    if factor is None:
        # yarn and longrope then derive the factor from max_position_embeddings / original: no stretch beyond it.
        return plain(f"{where}{rope_type} without a factor" if rope_type in _WITH_ORIGINAL
                     else f"{key} ignored: {rope_type} scaling without a factor")
    if not base:
        return None
    if rope_type == "linear" and config.get("model_type") in _LINEAR_ALREADY_SCALED and declared:
        return ModelContext(declared, f"max_position_embeddings, which {config['model_type']} states with its linear "
                                      f"factor {_g(factor)} already applied")
    reference = "original" if original else "max_position_embeddings"
    return ModelContext(round(factor * base), f"{where}{rope_type} factor {_g(factor)} x {reference} {base}",
                        beyond=base if rope_type == "dynamic" else None)
