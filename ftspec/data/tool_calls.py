"""Tool calls as the chat template expects them. Records carry a call's arguments as an object (what transformers
documents and most templates render with ``tojson``); a template that concatenates them as text (DeepSeek-V3's
original) raises on an object, so for such a template ftspec writes the arguments as JSON text instead, in the rows
the plan counts and the trainer reads alike."""

from __future__ import annotations

import json
from typing import Any

_TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look a word up.",
                                            "parameters": {"type": "object",
                                                           "properties": {"word": {"type": "string"}}}}}]


def _probe(arguments: Any) -> list[dict]:
    return [{"role": "user", "content": "Look up apple."},
            {"role": "assistant", "content": "",
             "tool_calls": [{"type": "function", "function": {"name": "lookup", "arguments": arguments}}]},
            {"role": "tool", "content": "a fruit"}, {"role": "assistant", "content": "It is a fruit."}]


def arguments_as_text(tok) -> bool:
    """Whether ``tok``'s chat template renders a tool call only with its arguments as JSON text."""
    try:
        tok.render_chat(_probe({"word": "apple"}), tools=_TOOLS)
        return False
    except Exception:  # a template's own error on objects: try text
        pass
    try:
        tok.render_chat(_probe('{"word": "apple"}'), tools=_TOOLS)
        return True
    except Exception:
        return False


def has_tool_calls(record: dict) -> bool:
    return any(isinstance(m, dict) and m.get("tool_calls") for key in ("messages", "prompt", "chosen", "rejected")
               for m in (record.get(key) if isinstance(record.get(key), list) else ()))


def _text_call(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or isinstance(function.get("arguments"), str):
        return call
    return {**call, "function": {**function, "arguments": json.dumps(function.get("arguments"), ensure_ascii=False)}}


def with_text_arguments(record: dict) -> dict:
    """``record`` with every tool call's arguments written as JSON text (``record`` itself when it has none)."""
    if not has_tool_calls(record):
        return record
    out = dict(record)
    for key in ("messages", "prompt", "chosen", "rejected"):
        if isinstance(record.get(key), list):
            out[key] = [{**m, "tool_calls": [_text_call(c) for c in m["tool_calls"]]}
                        if isinstance(m, dict) and isinstance(m.get("tool_calls"), list) else m for m in record[key]]
    return out
