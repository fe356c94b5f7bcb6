"""Row and token counts without the model's tokenizer (a hub model that is not downloaded): bounds and estimates."""

from __future__ import annotations

import json

from ftspec.data.texts import char_token_estimate, message_texts
from ftspec.pipeline.prepared import PreparedData

# Byte-level BPE never makes a token out of less than one byte, so UTF-8 bytes plus a generous chat-template
# allowance bound a sample's token count from above, whatever the tokenizer.
TEMPLATE_TOKENS_PER_MESSAGE, TEMPLATE_TOKENS_PER_SAMPLE = 16, 32


# A template's tool preamble ("Environment: ipython", instructions to call functions) on top of the schemas themselves.
TOOL_PREAMBLE_TOKENS = 256


def _tools_text(record: dict) -> str:
    tools = record.get("tools")
    return json.dumps(tools, ensure_ascii=False) if tools else ""


def upper_bound_tokens(record: dict) -> int:
    texts = message_texts(record)
    tools = _tools_text(record)
    return (sum(len(t.encode("utf-8")) for t in texts) + TEMPLATE_TOKENS_PER_MESSAGE * len(texts)
            + TEMPLATE_TOKENS_PER_SAMPLE + (len(tools.encode("utf-8")) + TOOL_PREAMBLE_TOKENS if tools else 0))


def estimated_tokens(record: dict, overhead: tuple | None) -> int:
    texts = message_texts(record)
    content = char_token_estimate("".join(texts) + _tools_text(record))
    if overhead:  # the model's own template, measured
        return round(content + overhead[0] + overhead[1] * len(texts))
    return content + 4 * len(texts)  # ~4 template tokens per message


def from_estimates(spec, method, uppers: list[int], estimates: list[int], counts, train, validation,
                   holdout) -> PreparedData:
    """Counts without the model's tokenizer, from each training sample's upper bound and estimate (the streaming
    pipeline's facts): rows stay exact when no sample can reach max_length."""
    d = spec.data
    bound = max(uppers, default=0)
    per_epoch = method.estimated_epoch_tokens(spec, estimates)
    # Without packing, nothing is truncated or dropped when even the upper bound fits (or the method drops nothing).
    rows = len(estimates) if (not d.packing and (bound <= d.max_length or method.keeps_every_example)) else None
    counts["upper_bound_tokens"] = bound
    return PreparedData(method.name, train, validation, holdout, counts, None, rows, per_epoch, None,
                        min(max(estimates, default=0), d.max_length), None, tokens_estimated=True)
