"""Greedy generation on holdout prompts, for the base model and for base + adapter.

torch, transformers and peft are imported inside functions: ``ftspec lint`` / ``plan`` import this
package and must keep working without them.
"""

from __future__ import annotations

import sys

from typing import Any


def holdout_samples(records: list[dict]) -> list[dict]:
    """Canonical SFT records ``{"messages": [...], "scenario"?}`` -> ``{"prompt", "reference", "scenario"}``.

    The last message is the expected answer; everything before it is the prompt. DPO records
    (``prompt``/``chosen``/``rejected``) use the prompt and the chosen answer.
    """
    samples = []
    for i, record in enumerate(records):
        if "prompt" in record and "chosen" in record:  # a DPO holdout: the chosen answer is the reference
            messages = list(record["prompt"]) + list(record["chosen"])[-1:]
        else:
            messages = record.get("messages") or []
        if not messages or messages[-1].get("role") != "assistant":
            raise ValueError(f"holdout record {i} does not end with an assistant turn")
        samples.append(
            {"prompt": messages[:-1], "reference": messages[-1].get("content") or "", "scenario": record.get("scenario")}
        )
    return samples


def _load(model_dir: str, adapter_dir: str | None, revision: str | None = None) -> tuple[Any, Any, Any]:
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
    if adapter_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.to(device).eval()
    return tokenizer, model, device


def generate_outputs(
    model_dir: str,
    prompts: list[list[dict]],
    *,
    adapter_dir: str | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    revision: str | None = None,
) -> list[str]:
    """Greedy completions for chat prompts (lists of messages), one stripped string per prompt."""
    import torch

    if not prompts:
        return []
    if not sys.stderr.isatty():  # a log file gets no "Loading weights" bars
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    torch.manual_seed(seed)
    tokenizer, model, device = _load(str(model_dir), str(adapter_dir) if adapter_dir else None, revision)
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in prompts]

    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        # The chat template already writes every special token the model expects.
        batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.no_grad():
            generated = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        new_tokens = generated[:, batch["input_ids"].shape[1]:]
        outputs.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return outputs
