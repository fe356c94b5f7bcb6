"""Greedy generation on holdout prompts, for the base model and for base + adapter.

torch, transformers and peft are imported inside functions: ``ftspec lint`` / ``plan`` import this
package and must keep working without them.
"""

from __future__ import annotations

import sys

from typing import Any

from ftspec.models.adapters import merge_adapters as merged_adapters  # the keyword below has its name


def holdout_samples(records: list[dict], reference: str | None = None) -> list[dict]:
    """Canonical SFT records ``{"messages": [...], "tools"?, "scenario"?}`` -> ``{"prompt", "tools", "reference",
    "scenario"}``.

    The last message is the expected answer; everything before it is the prompt. DPO records
    (``prompt``/``chosen``/``rejected``) use the prompt and the chosen answer. With ``reference`` (GRPO's prompt
    records), the prompt is the record's and the answer its ``reference`` column.
    """
    samples = []
    for i, record in enumerate(records):
        if reference is not None and "prompt" in record:
            samples.append({"prompt": list(record["prompt"]), "tools": record.get("tools"),
                            "reference": str(record.get(reference) if record.get(reference) is not None else ""),
                            "scenario": record.get("scenario")})
            continue
        if "prompt" in record and "chosen" in record:  # a DPO holdout: the chosen answer is the reference
            messages = list(record["prompt"]) + list(record["chosen"])[-1:]
        else:
            messages = record.get("messages") or []
        if not messages or messages[-1].get("role") != "assistant":
            raise ValueError(f"holdout record {i} does not end with an assistant turn")
        samples.append({"prompt": messages[:-1], "tools": record.get("tools"),
                        "reference": messages[-1].get("content") or "", "scenario": record.get("scenario")})
    return samples


def _load(model_dir: str, adapter_dir: str | None, revision: str | None = None,
          merge_adapters: list[str] | None = None) -> tuple[Any, Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, revision=revision)
    # Left padding keeps every prompt's last token at the end, where generation continues.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # fp32 even on GPU: evaluation sizes are small and base-vs-finetuned must not differ by dtype.
    model = AutoModelForCausalLM.from_pretrained(model_dir, revision=revision, dtype=torch.float32)
    model = merged_adapters(model, merge_adapters)  # earlier versions' adapters, as the trainer merged them
    if adapter_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.to(device).eval()
    return tokenizer, model, device


def use_greedy(model, tokenizer, max_new_tokens: int):
    """Make ``model`` decode plain greedy and stop at its end of turn; returns the config.

    The checkpoint's generation_config (Qwen: do_sample, temperature 0.7, top_p 0.8, top_k 20, repetition_penalty
    1.1) is replaced, not overridden: ``generate`` fills every unset value of a passed config from
    ``model.generation_config``, so a repetition penalty would otherwise leak into "greedy" outputs."""
    from transformers import GenerationConfig

    stops = model.generation_config.eos_token_id
    stops = [] if stops is None else [stops] if isinstance(stops, int) else list(stops)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in stops:
        stops.insert(0, tokenizer.eos_token_id)  # <|im_end|> for Qwen's chat models
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, repetition_penalty=1.0,
                              eos_token_id=stops or None, pad_token_id=tokenizer.pad_token_id)
    model.generation_config = config
    return config


def render_prompts(tokenizer, prompts: list[list[dict]], tools: list | None = None,
                   chat_template: str | None = None) -> list[str]:
    """Generation prompts as the model was trained to read them: its chat template, each record's own tools."""
    tools = tools or [None] * len(prompts)
    return [tokenizer.apply_chat_template(m, tools=t, chat_template=chat_template, add_generation_prompt=True,
                                          tokenize=False) for m, t in zip(prompts, tools)]


def generate_outputs(
    model_dir: str,
    prompts: list[list[dict]],
    *,
    tools: list[list[dict] | None] | None = None,
    chat_template: str | None = None,
    adapter_dir: str | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    revision: str | None = None,
    merge_adapters: list[str] | None = None,
) -> list[str]:
    """Greedy completions for chat prompts (lists of messages, each with its record's tools), one stripped string
    per prompt: rendered with the model's own chat template (or ``chat_template``, the spec's data.chat_template),
    decoded without special tokens and without the prompt."""
    import torch

    if not prompts:
        return []
    if not sys.stderr.isatty():  # a log file gets no "Loading weights" bars
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    torch.manual_seed(seed)
    tokenizer, model, device = _load(str(model_dir), str(adapter_dir) if adapter_dir else None, revision,
                                     merge_adapters)
    texts = render_prompts(tokenizer, prompts, tools, chat_template)
    config = use_greedy(model.get_base_model() if hasattr(model, "get_base_model") else model, tokenizer,
                        max_new_tokens)

    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        # The chat template already writes every special token the model expects.
        batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.no_grad():
            generated = model.generate(**batch, generation_config=config)
        new_tokens = generated[:, batch["input_ids"].shape[1]:]
        outputs.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return outputs
