"""Continued pre-training: plain ``{"text": "..."}`` records, next-token loss on every token.

It is TRL's SFTTrainer on a language-modeling dataset: ``dataset_text_field`` names the column, EOS is appended to
each text, and ``packing`` (usually on) concatenates texts and cuts them every ``max_length`` tokens ("wrapped"), so
long documents are not truncated away.
"""

from __future__ import annotations

from typing import Any

from ftspec.data.formats import FORMATS, as_text
from ftspec.data.text_checks import BOS_RULE
from ftspec.data.tokens import Tokenized
from ftspec.methods.base import Method


class CPT(Method):
    name = "cpt"
    summary = "continued pre-training on plain text (TRL SFTTrainer, language modeling)"
    formats = tuple(f for f in FORMATS if f != "prompt")  # conversations are joined into plain text
    plain_text = True
    holdout_method = "sft"  # evaluation prompts the model with conversations
    packing_strategy = "wrapped"
    training_entry = "ftspec.train.cpt"
    starter_train_file = "data/train.txt"
    starter_packing = True
    starter_holdout = False

    def canonical(self, record: dict, fmt: str) -> dict:
        return as_text(record, fmt)

    def record_problems(self, canon: dict, fmt: str) -> list[tuple[str, str]]:
        text = canon.get("text")
        if not isinstance(text, str) or not text.strip():
            return [("missing or empty 'text'", "text")]
        return []

    def bounded(self, spec) -> bool:
        # Without packing a text is cut at max_length: no more than that is ever trained on.
        return spec.over_length == "drop" or not spec.data.packing

    def tokenize(self, records: list[dict], tok, *, assistant_only_loss: bool, max_length: int,
                 bounded: bool = False, checks=None) -> Tokenized:
        """Each text with EOS appended, encoded with special tokens, as SFTTrainer does for a text dataset."""
        t = Tokenized()
        eos = tok.eos_token or ""
        texts = [r["text"] if r["text"].endswith(eos) else r["text"] + eos for r in records]
        if bounded:
            texts = [tok.bounded(text, max_length) for text in texts]
        for index, enc in enumerate(tok.tokenizer.encode_batch(texts, add_special_tokens=True)):
            n = len(enc.ids)
            problem = checks.bos_problem(enc.ids, chat=False) if checks is not None else None
            if problem:  # pre-rendered chat text that starts with BOS, encoded with another one added
                t.problems.append((index, BOS_RULE, problem))
            t.lengths.append(n)
            t.first_loss.append(0)
            t.loss_tokens.append(min(n, max_length))
        return t

    def trainer_args(self, spec) -> dict[str, Any]:
        return {"packing": spec.data.packing, "packing_strategy": self.packing_strategy, "dataset_text_field": "text"}


METHOD = CPT()
