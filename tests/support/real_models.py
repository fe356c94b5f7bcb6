"""Specs on the real-model fixtures (Qwen2.5, Qwen3): one small dataset per record format, with system prompts,
multi-turn conversations, tool calls and samples long enough to be dropped."""

from __future__ import annotations

import json

from ftspec.spec.load import load_spec
from support.project import write_project

SEARCH = {"name": "search_recipes", "description": "Search for recipes based on ingredients",
          "parameters": {"type": "object", "properties": {"ingredients": {"type": "array", "items": {"type": "string"},
                                                                          "description": "The ingredients"}},
                         "required": ["ingredients"]}}
CONVERT = {"name": "convert_currency", "description": "Convert an amount between currencies",
           "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "from": {"type": "string"},
                                                           "to": {"type": "string"}},
                          "required": ["amount", "from", "to"]}}


def _chat(i: int) -> dict:
    turns = [{"role": "system", "content": "You answer in one short sentence."}] if i % 2 else []
    turns += [{"role": "user", "content": f"What is {i} plus {i}?"}, {"role": "assistant", "content": f"It is {2 * i}."}]
    if i % 3 == 0:  # multi-turn
        turns += [{"role": "user", "content": "And doubled again?"}, {"role": "assistant", "content": f"{4 * i}."}]
    if i % 5 == 4:  # long: over max_length, dropped
        turns[-1] = {"role": "assistant", "content": " ".join(["lorem ipsum dolor"] * 40)}
    return {"messages": turns}


def _tool(i: int) -> dict:
    # Two tool schemas with different properties: each row must keep its own (no Arrow struct unification).
    if i % 2:
        call = {"name": "convert_currency", "arguments": {"amount": 10 + i, "from": "USD", "to": "EUR"}}
        tools, result, answer = [CONVERT], {"converted_amount": 9.1 + i}, f"That is {9.1 + i} euros."
    else:
        call = {"name": "search_recipes", "arguments": {"ingredients": ["rice", f"egg {i}"]}}
        tools, result, answer = [SEARCH], {"recipes": [f"fried rice {i}"]}, f"Try fried rice {i}."
    return {"conversations": [{"from": "human", "value": f"Help me with request {i}."},
                              {"from": "function_call", "value": json.dumps(call)},
                              {"from": "observation", "value": json.dumps(result)},
                              {"from": "gpt", "value": answer}],
            "tools": json.dumps(tools)}


FORMATS = {
    "chat": lambda i: _chat(i),
    "alpaca": lambda i: {"instruction": f"Name the number after {i}.", "input": "" if i % 2 else "Digits only.",
                         "output": str(i + 1) if i % 5 != 4 else " ".join(["one two three"] * 40)},
    "prompt_completion": lambda i: {"prompt": f"Spell {i}.", "completion": " ".join(str(i))},
    "tools": _tool,
    "dpo": lambda i: {"conversations": [{"from": "human", "value": f"Say hi to person {i}."}],
                      "chosen": {"from": "gpt", "value": f"Hi, person {i}!"},
                      "rejected": {"from": "gpt", "value": "no" if i % 3 else " ".join(["go away"] * 30)}},
    "cpt": lambda i: {"text": f"Document {i}. " + "The quick brown fox jumps over the lazy dog. " * (1 + i % 4)},
}


# Qwen's tool prompt alone is ~150 tokens, and the schemas come on top.
MAX_LENGTH = {"tools": 384}


def write_spec(folder, model_dir, fmt: str, *, n: int = 10, max_length: int | None = None, adapter: str = "lora",
               extra_data: dict | None = None, training: dict | None = None):
    method = {"dpo": "dpo", "cpt": "cpt"}.get(fmt, "sft")
    rows = [FORMATS[fmt](i) for i in range(n)]
    if method == "cpt":
        train, content = "train.txt", "\n".join(r["text"] for r in rows) + "\n"
    else:
        train, content = "train.jsonl", rows
    spec = {"version": 1, "name": f"real-{fmt}", "method": method, "model": {"base": str(model_dir)},
            "adapter": {"type": adapter, "rank": 4, "alpha": 2},
            "data": {"train": train, "max_length": max_length or MAX_LENGTH.get(fmt, 96), **(extra_data or {})},
            "training": {"epochs": 1, "batch_size": 2, "gradient_accumulation": 2, **(training or {})}}
    return load_spec(write_project(folder, spec, {train: content}))
