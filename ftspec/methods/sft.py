"""Supervised fine-tuning: conversations (``{"messages": [...]}``, tools optional) trained with TRL's SFTTrainer.

TRL applies the chat template, truncates to ``max_length``, masks the loss to assistant tokens when
``assistant_only_loss`` is set (dropping examples left with no label; a turn weighted 0 is taken out of the mask here
and in the trainer), and packs with best-fit decreasing when ``packing`` is set.
"""

from __future__ import annotations

from typing import Any

from ftspec.data.chat_template import WAYS_OUT, TemplateError, has_generation_markers
from ftspec.data.errors import PipelineError
from ftspec.data.formats import FORMATS
from ftspec.data.text_checks import BOS_RULE, STOP_RULE
from ftspec.data.training_template import derive_training_template
from ftspec.data.tokens import Tokenized
from ftspec.data.turn_weights import TurnWeightError, all_turns_zero, apply_turn_weights, has_zero_weight
from ftspec.methods.base import Method

WEIGHT_RULE = "FT603"  # ftspec/lint/rules/ft603_message_weights.py reports the same problems in lint


class SFT(Method):
    name = "sft"
    summary = "supervised fine-tuning on conversations (TRL SFTTrainer)"
    formats = tuple(f for f in FORMATS if f not in ("text", "prompt"))
    holdout_method = "sft"
    training_entry = "ftspec.train.sft"

    def assistant_only(self, data) -> bool:
        return data.assistant_only_loss

    untrainable_count = "dropped_zero_weight"

    def untrainable(self, record: dict) -> bool:
        return all_turns_zero(record.get("messages"))  # every assistant turn weighted 0: nothing to learn from

    def tokenize(self, records: list[dict], tok, *, assistant_only_loss: bool, max_length: int,
                 bounded: bool = False, checks=None) -> Tokenized:
        """Token lengths and assistant masks exactly as SFTTrainer computes them (trl 1.16)."""
        t = Tokenized()
        at = max_length if bounded else None
        encoded = tok.encode_chat_batch([r["messages"] for r in records], tools=[r.get("tools") for r in records],
                                        over_length_at=at)
        if checks is not None:
            t.problems = self._text_problems(records, tok, encoded, checks, assistant_only_loss, at)
        for index, (ids, mask) in enumerate(encoded):
            n = len(ids)
            t.lengths.append(n)
            weighted = has_zero_weight(records[index]["messages"])
            if weighted and not assistant_only_loss:
                raise PipelineError(f"training sample {index + 1} weights an assistant turn 0, which needs the "
                                    "assistant mask", ("data", "assistant_only_loss"), code=WEIGHT_RULE,
                                    hint="set data.assistant_only_loss: true, or remove the weights")
            if assistant_only_loss:
                if at is not None and n > at:  # a bounded prefix of a sample the caller drops
                    if 1 not in mask:
                        t.first_loss.append(None)
                        t.loss_tokens.append(0)
                        continue
                elif weighted:
                    try:
                        mask = apply_turn_weights(mask, records[index]["messages"])
                    except TurnWeightError as exc:
                        raise PipelineError(f"training sample {index + 1}: {exc}", ("data", "train"), code=WEIGHT_RULE,
                                            hint="remove the weights, or use a chat template with one "
                                                 "{% generation %} block per assistant turn") from None
                if 1 not in mask:  # SFTTrainer raises on such a sample ("at least one example has no assistant tokens")
                    raise TemplateError(f"the chat template marks no assistant token in training sample {index + 1}: "
                                        "SFTTrainer stops on it", ("data", "assistant_only_loss"), hint=WAYS_OUT)
                t.first_loss.append(mask.index(1))
                t.loss_tokens.append(sum(mask[:max_length]))
            else:
                t.first_loss.append(0)
                t.loss_tokens.append(min(n, max_length))
        return t

    @staticmethod
    def _text_problems(records, tok, encoded, checks, assistant_only_loss: bool, at) -> list[tuple[int, str, str]]:
        """BOS and stop-token problems of each example; without assistant-only loss the assistant's turns are located
        with the derived training template, which renders the same text."""
        if not assistant_only_loss:
            spans = None
            if isinstance(tok.chat_template, str):
                spans = tok if has_generation_markers(tok.chat_template) else tok.with_template(
                    derive_training_template(tok.chat_template))
            encoded = spans.encode_chat_batch([r["messages"] for r in records],
                                              tools=[r.get("tools") for r in records]) if spans else encoded
        out = []
        for index, (ids, mask) in enumerate(encoded):
            if at is not None and len(ids) > at:
                continue  # a bounded prefix of an example the caller drops
            problem = checks.bos_problem(ids)
            if problem:
                out.append((index, BOS_RULE, problem))
            problem = checks.stop_problem(ids, mask) if 1 in mask else None
            if problem:
                out.append((index, STOP_RULE, problem))
        return out

    def text_problems(self, records: list[dict], tok, *, checks, assistant_only_loss: bool,
                      max_length: int) -> list[tuple[int, str, str]]:
        # Without the loss: message weights are FT603's concern, not the text's.
        encoded = tok.encode_chat_batch([r["messages"] for r in records], tools=[r.get("tools") for r in records],
                                        over_length_at=max_length)
        return self._text_problems(records, tok, encoded, checks, assistant_only_loss, max_length)

    def token_lengths(self, records: list[dict], tok, *, max_length: int, bounded: bool = True) -> list[int]:
        # Lengths only: what weights and masks do to the loss is the pipeline's and FT603's business.
        encoded = tok.encode_chat_batch([r["messages"] for r in records], tools=[r.get("tools") for r in records],
                                        over_length_at=max_length if bounded else None)
        return [len(ids) for ids, _ in encoded]

    def trainer_args(self, spec) -> dict[str, Any]:
        d = spec.data
        return {"packing": d.packing, "packing_strategy": self.packing_strategy,
                "assistant_only_loss": d.assistant_only_loss}


METHOD = SFT()
