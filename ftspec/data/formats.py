"""Record formats: detect one, and convert a record into the shapes the methods train on. Pure functions.

Shapes (each method, in ``ftspec.methods``, picks one and validates it):
  conversation  {"messages": [{"role", "content", ...}, ...], "tools"?: [...]}
  preference    {"prompt": [msgs], "chosen": [assistant msg], "rejected": [assistant msg]}
  prompt        {"prompt": [msgs ending on a user turn], <any other column>: ...} (GRPO: rewards read the columns)
  text          {"text": str}
"""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("messages", "alpaca", "sharegpt", "preference", "prompt_completion", "prompt", "text")
ROLES = {"system", "user", "assistant", "tool"}
SHAREGPT_ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
    "function_call": "assistant", "observation": "tool", "tool": "tool", "function": "tool",
}


def detect_format(record: Any) -> str | None:
    """The format of one record, or None when nothing fits."""
    if not isinstance(record, dict):
        return None
    if ("chosen" in record and "rejected" in record) or "preferred_output" in record:
        return "preference"
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record or ("output" in record and "input" in record):
        return "alpaca"
    if "prompt" in record and "completion" in record:  # TRL's prompt-completion (strings or message lists)
        return "prompt_completion"
    if "prompt" in record:  # a prompt alone: what GRPO samples completions for
        return "prompt"
    if "text" in record:
        return "text"
    return None


# --- content helpers --------------------------------------------------------------------------

def _split_content(content: Any) -> tuple[Any, str | None, list]:
    """Content parts list -> (text, reasoning, image references). Strings pass through; other types are
    returned as-is. Image parts are ``{"image": file}`` (Bailian), ``{"type": "image", "image": …}`` or
    ``{"type": "image_url", "image_url": {"url": …}}`` (OpenAI)."""
    if not isinstance(content, list):
        return content, None, []
    texts, reasoning, images = [], [], []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            kind = part.get("type", "text")
            if "image" in part or kind in ("image", "image_url"):
                url = part.get("image", part.get("image_url"))
                images.append(url.get("url") if isinstance(url, dict) else url)
                continue
            value = part.get("text", part.get("value"))
            if kind in ("reasoning", "thinking"):
                reasoning.append(value if isinstance(value, str) else "")
            elif isinstance(value, str):
                texts.append(value)
    return "".join(texts), ("".join(reasoning) if reasoning else None), images


def _norm_msg(m: Any) -> Any:
    if not isinstance(m, dict):
        return m
    if "content" in m or "role" in m:
        out = dict(m)
        text, reasoning, images = _split_content(m.get("content"))
        if "content" in m:
            out["content"] = text
        if reasoning is not None:
            out["reasoning_content"] = reasoning
        if images:
            out["images"] = images
        if isinstance(m.get("tool_calls"), list):
            out["tool_calls"] = [_call_with_object_arguments(c) for c in m["tool_calls"]]
        return out
    if "from" in m:  # sharegpt turn
        speaker = m.get("from")
        role = SHAREGPT_ROLES.get(speaker, speaker) if isinstance(speaker, str) else speaker
        out = {"role": role, "content": m.get("value")}
        if m.get("from") == "function_call":
            calls = _tool_calls(m.get("value"))
            # Chat templates read a call from tool_calls (Qwen writes it as <tool_call>{...}</tool_call>); a value that
            # is not a call in JSON stays as text, flagged so lint still sees a tool-call turn.
            out = {"role": role, "content": "", "tool_calls": calls} if calls else {**out, "tool_call": True}
        return out
    return m


def _object_arguments(arguments: Any) -> Any:
    """Arguments given as a JSON string (OpenAI's wire format) as the object they encode: templates take objects
    (transformers' documented format); ftspec turns them back into text for a template that wants text."""
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return arguments
        return parsed if isinstance(parsed, dict) else arguments
    return arguments


def _call_with_object_arguments(call: Any) -> Any:
    if not (isinstance(call, dict) and isinstance(call.get("function"), dict) and "arguments" in call["function"]):
        return call
    return {**call, "function": {**call["function"], "arguments": _object_arguments(call["function"]["arguments"])}}


def _tool_calls(value: Any) -> list | None:
    """A sharegpt function_call value ('{"name": ..., "arguments": {...}}', or a list of them) as OpenAI tool_calls."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    calls = parsed if isinstance(parsed, list) else [parsed]
    out = []
    for call in calls:
        if not (isinstance(call, dict) and isinstance(call.get("name"), str)):
            return None
        arguments = _object_arguments(call.get("arguments", {}))  # some exports nest them as a JSON string
        out.append({"type": "function", "function": {"name": call["name"], "arguments": arguments}})
    return out or None


def _msgs(value: Any) -> Any:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return value
    return [_norm_msg(m) for m in value]


def _tools(record: dict) -> Any:
    """The record's tool schemas; None when it has none ("tools": "[]" included: a template that tests
    `tools is not none` would otherwise render its tool preamble with no tools)."""
    tools = record.get("tools")
    if isinstance(tools, str) and tools.strip():
        try:
            tools = json.loads(tools)
        except ValueError:
            return tools
    return tools or None


def _chat_messages(record: dict, fmt: str) -> dict | None:
    """{"messages": [...]} of one record in ``fmt`` (preference data: the prompt and the chosen answer); {"text"}
    for plain text; None for an unknown format."""
    if fmt == "alpaca":
        msgs = _alpaca_prompt(record)
        msgs.append({"role": "assistant", "content": record.get("output")})
        return {"messages": msgs}
    if fmt == "prompt_completion":
        prompt, completion = record.get("prompt"), record.get("completion")
        prompt = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else _msgs(prompt)
        completion = [{"role": "assistant", "content": completion}] if isinstance(completion, str) else _msgs(completion)
        return {"messages": (prompt if isinstance(prompt, list) else []) + (completion if isinstance(completion, list) else [])}
    if fmt == "sharegpt":
        msgs = _msgs(record.get("conversations"))
        if record.get("system") and isinstance(msgs, list):
            msgs = [{"role": "system", "content": record["system"]}] + msgs
        return {"messages": msgs}
    if fmt == "messages":
        return {"messages": _msgs(record.get("messages"))}
    if fmt == "preference":
        pair = _preference_pair(record)
        p, c = pair["prompt"], pair["chosen"]
        return {"messages": (p if isinstance(p, list) else []) + (c if isinstance(c, list) else [])}
    return None


def _alpaca_prompt(record: dict) -> list:
    msgs: list = []
    if record.get("system"):
        msgs.append({"role": "system", "content": record["system"]})
    history = record.get("history")
    for pair in history if isinstance(history, list) else []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            msgs += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    instr, inp = record.get("instruction") or "", record.get("input") or ""
    user = f"{instr}\n{inp}" if instr and inp else (instr or inp)
    msgs.append({"role": "user", "content": user})
    return msgs


def _preference_pair(record: dict) -> dict:
    if "preferred_output" in record:  # OpenAI DPO
        inp = record.get("input")
        prompt = _msgs(inp.get("messages") if isinstance(inp, dict) else inp)
        return {"prompt": prompt, "chosen": _msgs(record.get("preferred_output")),
                "rejected": _msgs(record.get("non_preferred_output"))}
    if "messages" in record:
        prompt = _msgs(record.get("messages"))
    elif "conversations" in record:
        prompt = _msgs(record.get("conversations"))
    elif isinstance(record.get("prompt"), str):
        prompt = [{"role": "user", "content": record["prompt"]}]
    else:
        prompt = _msgs(record.get("prompt"))
    chosen, rejected = record.get("chosen"), record.get("rejected")
    if isinstance(chosen, str):
        chosen = {"role": "assistant", "content": chosen}
    if isinstance(rejected, str):
        rejected = {"role": "assistant", "content": rejected}
    return {"prompt": prompt, "chosen": _msgs(chosen), "rejected": _msgs(rejected)}


def _with_extras(out: dict, record: dict) -> dict:
    """The record's tools (a JSON string parsed), images and label, carried beside the conversation."""
    tools = _tools(record)
    if tools is not None:
        out["tools"] = tools
    if isinstance(record.get("images"), list) and record["images"]:
        out["images"] = record["images"]
    if "label" in record:
        out["label"] = record["label"]
    return out


# --- the shapes the methods train on: each never raises for dict input ------------------------------------------

def as_conversation(record: Any, fmt: str) -> dict:
    """{"messages": [...], "tools"?, "images"?, "label"?}: a conversation to train on (preference data: the prompt
    and its chosen answer); plain text stays {"text": ...}; {} for what fits no format."""
    if not isinstance(record, dict):
        return {}
    if fmt == "text":
        return {"text": record.get("text")}
    out = _chat_messages(record, fmt)
    return {} if out is None else _with_extras(out, record)


def as_preference(record: Any, fmt: str) -> dict:
    """{"prompt": [...], "chosen": [...], "rejected": [...], ...} for preference data (and alpaca records with
    chosen/rejected); any other record as ``as_conversation`` gives it, without a pair."""
    if not isinstance(record, dict):
        return {}
    if fmt == "alpaca" and "chosen" in record:
        return {"prompt": _alpaca_prompt(record), "chosen": _msgs(record.get("chosen")),
                "rejected": _msgs(record.get("rejected"))}
    if fmt == "preference":
        return _with_extras(_preference_pair(record), record)
    return as_conversation(record, fmt)


# The keys a format's conversation is read from; every other key of a prompt record is a column rewards can read.
_CONVERSATION_KEYS = {"messages": ("messages",), "sharegpt": ("conversations", "system"),
                      "alpaca": ("instruction", "input", "output", "system", "history"),
                      "prompt_completion": ("prompt", "completion"), "prompt": ("prompt",)}


def as_prompt(record: Any, fmt: str, reference: str = "answer") -> dict:
    """{"prompt": [messages], "tools"?, <columns>...}: a prompt to sample completions for, with the record's other
    columns. A conversation that ends on an assistant turn gives that turn to the ``reference`` column when the
    record has none (SFT data reused for RL keeps its answers as references); {} for what fits no format."""
    if not isinstance(record, dict) or fmt not in _CONVERSATION_KEYS:
        return as_conversation(record, fmt)
    if fmt == "prompt":
        p = record.get("prompt")
        messages = [{"role": "user", "content": p}] if isinstance(p, str) else _msgs(p)
    else:
        messages = _chat_messages(record, fmt)["messages"]
    out: dict = {}
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict) \
            and messages[-1].get("role") == "assistant" and reference not in record:
        out[reference] = messages[-1].get("content")
        messages = messages[:-1]
    out["prompt"] = messages
    tools = _tools(record)
    if tools is not None:
        out["tools"] = tools
    for key, value in record.items():
        if key not in _CONVERSATION_KEYS[fmt] and key not in ("tools", "prompt"):
            out[key] = value
    return out


def as_text(record: Any, fmt: str) -> dict:
    """{"text": ...}: plain text, or a conversation's message contents joined by newlines."""
    out = as_conversation(record, fmt)
    if isinstance(out.get("messages"), list):
        return {"text": "\n".join(str(m.get("content") or "") for m in out["messages"] if isinstance(m, dict))}
    return out


# --- validation -------------------------------------------------------------------------------

def check_tools(canon: dict, problems: list) -> None:
    """A record's tools must be a list of JSON schema objects (parquet can hold them as bytes, JSON as bad text)."""
    tools = canon.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        problems.append((f"'tools' must be a list of tool schemas (JSON objects), not {type(tools).__name__}",
                         "tools_schema"))


def check_messages(msgs: Any, field: str, problems: list, *, has_tools: bool) -> None:
    """Append (message, field) for each problem of a list of messages."""
    if not isinstance(msgs, list) or not msgs:
        problems.append((f"'{field}' must be a non-empty list of messages", field))
        return
    for i, m in enumerate(msgs):
        where = f"{field}[{i}]"
        if not isinstance(m, dict):
            problems.append((f"{where} is not an object", where))
            continue
        role = m.get("role")
        if not isinstance(role, str) or role not in ROLES:
            problems.append((f"{where}: unknown role {role!r} (expected system, user, assistant, tool)", f"{where}.role"))
        content = m.get("content")
        if m.get("tool_calls") or m.get("tool_call") or role == "tool":
            if not has_tools:
                problems.append((f"{where}: tool-call turn but the record has no 'tools'", "tools"))
            if m.get("tool_calls"):
                continue
        if (not isinstance(content, str) or not content.strip()) and not m.get("images"):
            problems.append((f"{where}: missing or empty content", f"{where}.content"))
        if m.get("reasoning_content") or m.get("reasoning") or m.get("thinking"):
            problems.append((f"{where}: has reasoning content; it trains only with a thinking-mode chat template", f"{where}.reasoning"))
