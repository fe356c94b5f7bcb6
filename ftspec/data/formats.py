"""Record formats: detect, convert to canonical form, and validate. Pure functions, shared with training.

Canonical forms:
  SFT  {"messages": [{"role", "content", ...}, ...], "tools"?: [...]}
  DPO  {"prompt": [msgs], "chosen": [assistant msg], "rejected": [assistant msg]}
  CPT  {"text": str}
"""

from __future__ import annotations

import json
import re
from typing import Any

FORMATS = ("messages", "alpaca", "sharegpt", "preference", "prompt_completion", "text")
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
        arguments = call.get("arguments", {})
        if isinstance(arguments, str):  # some exports nest the arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass
        out.append({"type": "function", "function": {"name": call["name"], "arguments": arguments}})
    return out or None


def _msgs(value: Any) -> Any:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return value
    return [_norm_msg(m) for m in value]


def _tools(record: dict) -> Any:
    tools = record.get("tools")
    if isinstance(tools, str) and tools.strip():
        try:
            return json.loads(tools)
        except ValueError:
            return tools
    return tools or None


def to_canonical(record: Any, fmt: str, method: str = "sft") -> dict:
    """Convert one record of ``fmt`` into the canonical form for ``method``. Never raises for dict input."""
    if not isinstance(record, dict):
        return {}
    out: dict
    if fmt == "text":
        return {"text": record.get("text")}
    if fmt == "alpaca":
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
        out = {"messages": msgs}
        if method == "dpo" and "chosen" in record:
            return {"prompt": msgs, "chosen": _msgs(record.get("chosen")), "rejected": _msgs(record.get("rejected"))}
        msgs.append({"role": "assistant", "content": record.get("output")})
        return out
    if fmt == "prompt_completion":
        prompt, completion = record.get("prompt"), record.get("completion")
        prompt = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else _msgs(prompt)
        completion = [{"role": "assistant", "content": completion}] if isinstance(completion, str) else _msgs(completion)
        out = {"messages": (prompt if isinstance(prompt, list) else []) + (completion if isinstance(completion, list) else [])}
    elif fmt == "sharegpt":
        msgs = _msgs(record.get("conversations"))
        if record.get("system") and isinstance(msgs, list):
            msgs = [{"role": "system", "content": record["system"]}] + msgs
        out = {"messages": msgs}
    elif fmt == "messages":
        out = {"messages": _msgs(record.get("messages"))}
    elif fmt == "preference":
        if "preferred_output" in record:  # OpenAI DPO
            inp = record.get("input")
            prompt = _msgs(inp.get("messages") if isinstance(inp, dict) else inp)
            out = {"prompt": prompt, "chosen": _msgs(record.get("preferred_output")),
                   "rejected": _msgs(record.get("non_preferred_output"))}
        else:
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
            out = {"prompt": prompt, "chosen": _msgs(chosen), "rejected": _msgs(rejected)}
        if method != "dpo":  # preference data used for SFT: train on the chosen answer
            p, c = out["prompt"], out["chosen"]
            out = {"messages": (p if isinstance(p, list) else []) + (c if isinstance(c, list) else [])}
    else:
        return {}
    tools = _tools(record)
    if tools is not None:
        out["tools"] = tools
    if isinstance(record.get("images"), list) and record["images"]:
        out["images"] = record["images"]
    if "label" in record:
        out["label"] = record["label"]
    if method == "cpt" and "messages" in out and isinstance(out["messages"], list):
        return {"text": "\n".join(str(m.get("content") or "") for m in out["messages"] if isinstance(m, dict))}
    return out


# --- validation -------------------------------------------------------------------------------

def _check_messages(msgs: Any, field: str, problems: list, *, has_tools: bool) -> None:
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


def validate_record(record: Any, fmt: str | None, method: str = "sft") -> list[tuple[str, str]]:
    """Format problems of one raw record as (message, field) pairs; empty when the record is fine.

    Fields ending in ``.reasoning`` (reasoning content), ``tools`` (tool calls without tools) and
    ``label`` (KTO-style labels, an unsupported method) are flagged so callers can tell them apart.
    """
    return validate_and_convert(record, fmt, method)[0]


def validate_and_convert(record: Any, fmt: str | None, method: str = "sft") -> tuple[list[tuple[str, str]], dict]:
    """``validate_record``'s problems and the record's canonical form, converted once (lint's hot loop)."""
    if not isinstance(record, dict):
        return [(f"record is a {type(record).__name__}, not an object", "")], {}
    if fmt is None:
        return [("record matches no known format (messages, alpaca, sharegpt, preference, prompt_completion, text)", "")], {}
    problems: list[tuple[str, str]] = []
    if "label" in record and isinstance(record.get("label"), bool):
        problems.append(("record has a KTO-style boolean 'label': KTO is not a supported method (use sft, dpo or cpt)", "label"))
    canon = to_canonical(record, fmt, method)
    return _problems(canon, fmt, method, problems), canon


def _problems(canon: dict, fmt: str, method: str, problems: list) -> list[tuple[str, str]]:
    if method == "cpt":
        text = canon.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(("missing or empty 'text'", "text"))
        return problems
    has_tools = bool(canon.get("tools"))
    if method == "dpo":
        if "prompt" not in canon:
            problems.append((f"a {fmt} record has no chosen/rejected pair: DPO needs preference data", ""))
            return problems
        _check_messages(canon["prompt"], "prompt", problems, has_tools=has_tools)
        for key in ("chosen", "rejected"):
            v = canon[key]
            _check_messages(v, key, problems, has_tools=has_tools)
            if isinstance(v, list) and v and isinstance(v[-1], dict) and v[-1].get("role") != "assistant":
                problems.append((f"'{key}' must be an assistant message", key))
        p = canon["prompt"]
        if isinstance(p, list) and p and isinstance(p[-1], dict) and p[-1].get("role") != "user":
            problems.append(("DPO prompt must end on a user turn", "prompt"))
        if canon["chosen"] == canon["rejected"]:
            problems.append(("chosen and rejected are identical", "chosen"))
        return problems
    msgs = canon.get("messages")
    if fmt == "text" and "messages" not in canon:
        problems.append(("plain-text record in an SFT dataset: SFT needs conversations", "text"))
        return problems
    _check_messages(msgs, "messages", problems, has_tools=has_tools)
    if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") != "assistant":
        problems.append(("conversation does not end on an assistant turn (nothing to train on)", "messages"))
    return problems


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
