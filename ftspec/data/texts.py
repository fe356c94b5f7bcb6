"""The texts of a canonical record: for hashing (duplicates, leakage), token estimates without a tokenizer, and lint's
shape-calibrated counts."""

from __future__ import annotations

import json
import re
from typing import Any


def canonical_texts(canon: dict) -> tuple[str, str]:
    """(prompt text, answer text) of a canonical record, for hashing and length estimates."""
    if "text" in canon:
        return "", str(canon.get("text") or "")
    if "prompt" in canon:
        prompt, answer = canon.get("prompt"), canon.get("chosen")
    else:
        msgs = canon.get("messages") if isinstance(canon.get("messages"), list) else []
        prompt, answer = msgs[:-1], msgs[-1:]

    def join(ms: Any) -> str:
        if not isinstance(ms, list):
            return ""
        return "\x1e".join(f"{m.get('role')}\x1f{m.get('content')}" for m in ms if isinstance(m, dict))

    return join(prompt), join(answer)


def message_texts(canon: dict) -> list[str]:
    """All text that is tokenized for a canonical record, one string per message."""
    if "text" in canon:
        return [str(canon.get("text") or "")]
    out: list[str] = []
    for key in ("messages", "prompt", "chosen"):
        v = canon.get(key)
        if isinstance(v, list):
            out += [str(m.get("content") or "") for m in v if isinstance(m, dict)]
    return out


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


def char_token_estimate(text: str) -> int:
    """Tokens in ``text`` without a tokenizer: about 3 characters a token for CJK-heavy text, 4 otherwise."""
    n = len(text)
    cjk = len(_CJK.findall(text)) if n else 0
    return (n + 2) // 3 if cjk * 3 > n else (n + 3) // 4


def content_parts(message: Any) -> list[str]:
    """What of one message is tokenized besides the template: its content, reasoning and tool calls (as JSON)."""
    if not isinstance(message, dict):
        return []
    out = [str(message.get("content") or "")]
    for key in ("reasoning_content", "tool_calls"):
        value = message.get(key)
        if value:
            out.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return out


def conversation_shape(messages: Any) -> tuple:
    """Roles in order, with which messages carry reasoning, how many tool calls, images or no content: conversations
    of one shape get the same tokens from a chat template around their contents (and the same refusals)."""
    if not isinstance(messages, list):
        return ()
    return tuple((m.get("role"), bool(m.get("reasoning_content")), _calls(m.get("tool_calls")), "images" in m,
                  m.get("content") is None) if isinstance(m, dict) else None for m in messages)


def _calls(tool_calls: Any) -> tuple:
    # How many, and which keys each call has: a template may take one call and refuse two (Llama 3.1/3.2), or need a
    # call's name (DeepSeek-V3), so these are shapes of their own.
    if not isinstance(tool_calls, list):
        return (bool(tool_calls),)
    return tuple(tuple(sorted(c["function"])) if isinstance(c, dict) and isinstance(c.get("function"), dict)
                 else type(c).__name__ for c in tool_calls)


def tools_text(tools: Any) -> list[str]:
    return [json.dumps(tools, ensure_ascii=False)] if tools else []
