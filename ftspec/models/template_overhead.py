"""What a catalogue model's own chat template adds around a conversation's contents, in tokens, for token estimates
when the model is not on this machine: (per sample, per message). Measured on the fixtures (ftspec.models.fixtures:
the real tokenizer and template) by rendering one-token contents: 2 and 4 messages give both terms. Qwen2.5's per
sample includes the system prompt its template adds when a conversation has none; Llama 3.x's the system header with
its knowledge and rendering dates."""

from __future__ import annotations

import re

# hub id pattern -> (tokens per sample, tokens per message, the fixture it was measured on)
_OVERHEAD = (
    (re.compile(r"^qwen/qwen2\.5-[\d.]+b-instruct$"), 21, 5, "qwen2.5-instruct"),
    (re.compile(r"^qwen/qwen3-[\d.]+b$"), 4, 5, "qwen3"),
    (re.compile(r"^meta-llama/(meta-)?llama-3\.[123]-[\d.]+b-instruct$"), 26, 5, "llama3.2-instruct / llama3.1-instruct"),
    (re.compile(r"^deepseek-ai/deepseek-v3$"), 1, 1.5, "deepseek-v3"),
)


def template_overhead(model_id: str) -> tuple[float, float, str] | None:
    """(per sample, per message, measured on) for a catalogue model's chat template; None when not known."""
    key = model_id.strip().lower()
    for pattern, per_sample, per_message, fixture in _OVERHEAD:
        if pattern.match(key):
            return per_sample, per_message, fixture
    return None
