"""Checks of the training text itself, on every family's tokenizer and template: the row starts with exactly one BOS
where the model expects one (none where it does not), and every assistant turn ends with a token generation stops on
(generation_config.json's eos ids and the tokenizer's eos), inside the loss under assistant-only loss. A template
copied from another family (ChatML on Llama: ``<|im_end|>`` is five plain tokens there, and no BOS) or a training
template whose generation block closes before the end-of-turn token trains a model that never stops: each is a
finding at the record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

STOP_RULE = "FT315"  # ftspec/lint/rules/ft315_stop_token.py
BOS_RULE = "FT316"  # ftspec/lint/rules/ft316_bos_count.py


@dataclass
class TextChecks:
    tok: object  # the ChatTokenizer rows are encoded with
    bos_id: int | None
    expect_bos_chat: bool  # the model's own chat template starts a conversation with its BOS
    expect_bos_text: bool  # its tokenizer adds BOS to plain text (what CPT rows get)
    stop_ids: frozenset[int]
    _blank: dict = field(default_factory=dict)

    def _is_blank(self, token_id: int) -> bool:
        if token_id not in self._blank:
            self._blank[token_id] = self.tok.decode([token_id]).strip() == "" and token_id not in self.stop_ids
        return self._blank[token_id]

    def _name(self, token_id: int) -> str:
        return repr(self.tok.decode([token_id]))

    def bos_problem(self, ids: list[int], *, chat: bool = True) -> str | None:
        """How the row starts: exactly one BOS where the model expects one, none where it does not."""
        if self.bos_id is None:
            return None
        expect = self.expect_bos_chat if chat else self.expect_bos_text
        leading = 0
        while leading < len(ids) and ids[leading] == self.bos_id:
            leading += 1
        bos = self._name(self.bos_id)
        if expect and leading != 1:
            return (f"the row starts with {leading} BOS token(s) {bos}; the model expects exactly one (a template from "
                    "another family, or text that already starts with BOS encoded with another one added)")
        if not expect and leading:
            return f"the row starts with {bos}; the model's tokenizer puts no BOS in these sequences"
        return None

    def stop_problem(self, ids: list[int], mask: list[int]) -> str | None:
        """The first assistant turn (a run of 1s in ``mask``) whose last non-blank token is not a stop token."""
        bits = bytes(mask)  # the runs are found in C: this runs on every sample that plan and lint count
        turn, start = 0, bits.find(1)
        while start >= 0:
            turn += 1
            after = bits.find(0, start)
            after = len(bits) if after < 0 else after
            end = after
            while end > start and self._is_blank(ids[end - 1]):
                end -= 1
            if ids[end - 1] not in self.stop_ids:
                names = ", ".join(self._name(t) for t in sorted(self.stop_ids)) or "none known"
                return (f"assistant turn {turn} ends with {self._name(ids[end - 1])}, not a token generation stops "
                        f"on ({names}): the model would not learn to stop")
            start = bits.find(1, after)
        return None


def stop_ids(tok, model_dir: Path | None) -> frozenset[int]:
    """generation_config.json's eos_token_id (an id or a list) and the tokenizer's eos token."""
    ids = set()
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    try:
        eos = json.loads((Path(model_dir) / "generation_config.json").read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError, TypeError, AttributeError):
        eos = None
    ids.update(e for e in (eos if isinstance(eos, list) else [eos]) if isinstance(e, int))
    return frozenset(ids)


def text_checks(original, rows_tok, model_dir: Path | None) -> TextChecks:
    """The checks for a model: ``original`` is its own tokenizer and template (what it expects), ``rows_tok`` what the
    rows are encoded with."""
    bos = original.special_tokens.get("bos_token")
    bos_id = original.token_id(bos)
    chat = text = False
    if bos_id is not None:
        encoded = original.tokenizer.encode("a", add_special_tokens=True).ids
        text = bool(encoded) and encoded[0] == bos_id
        if original.chat_template is not None:
            try:
                chat = original.render_chat([{"role": "user", "content": "a"}]).startswith(bos)
            except Exception:  # a template that needs more than one user message: judge by plain text
                chat = text
    return TextChecks(rows_tok, bos_id, chat, text, stop_ids(original, model_dir))
