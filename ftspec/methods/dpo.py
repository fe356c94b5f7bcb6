"""Direct preference optimization: ``{"prompt": [...], "chosen": [...], "rejected": [...]}`` conversational pairs,
trained with TRL's DPOTrainer.

DPOTrainer tokenizes the prompt and both answers, cuts each sequence at ``max_length`` and drops a pair whose prompt
alone reaches it; chosen and rejected both run through the policy (and the reference model).
"""

from __future__ import annotations

from typing import Any

from ftspec.data.formats import as_preference, check_messages, check_tools
from ftspec.data.text_checks import BOS_RULE, STOP_RULE
from ftspec.data.texts import content_parts, conversation_shape, message_texts, tools_text
from ftspec.data.tokens import Tokenized
from ftspec.methods.base import Method
from ftspec.tokenizer.chat import RenderError


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class DPO(Method):
    name = "dpo"
    loss_kernels = ("fused", "liger")  # DPOTrainer takes every log-probability from its fused LM head
    token_fields = ("lengths", "first_loss", "loss_tokens", "prompt_lengths", "pair_chosen", "pair_rejected")
    summary = "direct preference optimization on chosen/rejected pairs (TRL DPOTrainer)"
    formats = ("preference", "alpaca")
    holdout_method = "dpo"
    packing_strategy = None
    sequences_per_example = 2
    training_entry = "ftspec.train.dpo"

    def canonical(self, record: dict, fmt: str) -> dict:
        return as_preference(record, fmt)

    def record_problems(self, canon: dict, fmt: str) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if "prompt" not in canon:
            problems.append((f"a {fmt} record has no chosen/rejected pair: DPO needs preference data", ""))
            return problems
        has_tools = bool(canon.get("tools"))
        check_tools(canon, problems)
        check_messages(canon["prompt"], "prompt", problems, has_tools=has_tools)
        for key in ("chosen", "rejected"):
            v = canon[key]
            check_messages(v, key, problems, has_tools=has_tools)
            if isinstance(v, list) and v and isinstance(v[-1], dict) and v[-1].get("role") != "assistant":
                problems.append((f"'{key}' must be an assistant message", key))
        p = canon["prompt"]
        if isinstance(p, list) and p and isinstance(p[-1], dict) and p[-1].get("role") != "user":
            problems.append(("DPO prompt must end on a user turn", "prompt"))
        if canon["chosen"] == canon["rejected"]:
            problems.append(("chosen and rejected are identical", "chosen"))
        return problems

    def tokenize(self, records: list[dict], tok, *, assistant_only_loss: bool, max_length: int,
                 bounded: bool = False, checks=None) -> Tokenized:
        """Prompt, prompt + chosen and prompt + rejected, as DPOTrainer tokenizes them (trl 1.16)."""
        t = Tokenized()
        at = max_length if bounded else None
        for index, r in enumerate(records):
            tools = r.get("tools")
            try:
                prompt, _ = tok.encode_chat(r["prompt"], add_generation_prompt=True, tools=tools, over_length_at=at)
                chosen, _ = tok.encode_chat(r["prompt"] + r["chosen"], tools=tools, over_length_at=at)
                rejected, _ = tok.encode_chat(r["prompt"] + r["rejected"], tools=tools, over_length_at=at)
            except Exception as exc:  # the template's refusal of this pair, located by the caller
                raise RenderError(index, exc) from exc
            plen = min(_common_prefix(prompt, chosen), _common_prefix(prompt, rejected))
            if checks is not None and (at is None or max(len(chosen), len(rejected)) <= at):
                for ids in (chosen, rejected):
                    problem = checks.bos_problem(ids)
                    if problem is None and len(ids) > plen:
                        completion = [1 if i >= plen else 0 for i in range(len(ids))]
                        problem = checks.stop_problem(ids, completion)
                        code = STOP_RULE
                    else:
                        code = BOS_RULE
                    if problem:
                        t.problems.append((index, code, problem))
                        break
            t.lengths.append(max(len(chosen), len(rejected)))
            t.pair_lengths.append((len(chosen), len(rejected)))
            t.prompt_lengths.append(plen)
            t.first_loss.append(plen if plen < max_length else None)
            t.loss_tokens.append(max(0, min(len(chosen), max_length) - plen)
                                 + max(0, min(len(rejected), max_length) - plen))
        return t

    def trainer_rows(self, data, tokens: Tokenized) -> tuple[list[int], int, int]:
        # DPOTrainer drops examples whose prompt alone reaches max_length.
        kept = [fl is not None for fl in tokens.first_loss]
        seqs = [min(n, data.max_length) for n, k in zip(tokens.lengths, kept) if k]
        return seqs, sum(x for x, k in zip(tokens.loss_tokens, kept) if k), kept.count(False)

    def tokens_per_epoch(self, tokens: Tokenized, seqs: list[int], max_length: int) -> int:
        # Chosen and rejected both go through the policy (and the reference), each cut at max_length.
        return sum(n for n, fl in zip(tokens.pair_tokens(max_length), tokens.first_loss) if fl is not None)

    def count_parts(self, record: dict) -> tuple[tuple, list[list[str]]]:
        # Prompt plus the longer answer: each answer is a group of its own.
        tools = record.get("tools")
        prompt = [t for m in record.get("prompt") or [] for t in content_parts(m)] + tools_text(tools)
        chosen = [t for m in record.get("chosen") or [] for t in content_parts(m)]
        rejected = [t for m in record.get("rejected") or [] for t in content_parts(m)]
        key = (self.name, conversation_shape(record.get("prompt")), conversation_shape(record.get("chosen")),
               conversation_shape(record.get("rejected")), bool(tools))
        return key, [prompt, chosen, rejected]

    def estimate_texts(self, record: dict) -> list[str]:
        texts = message_texts(record)
        if isinstance(record.get("rejected"), list):
            texts = texts + [str(m.get("content") or "") for m in record["rejected"] if isinstance(m, dict)]
        return texts

    def trainer_args(self, spec) -> dict[str, Any]:
        return {"beta": spec.training.dpo_beta}

    def plan_notes(self, spec) -> list[str]:
        return ["DPO: the frozen reference model's forward passes are not in the FLOPs (about +1/3)"]


METHOD = DPO()
