"""Per-example token facts as the trainer will see them, from a method's tokenization (``ftspec.methods``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tokenized:
    """Per-example token facts, in the order the trainer receives the rows."""

    lengths: list[int] = field(default_factory=list)  # full length (DPO: prompt + longer completion)
    first_loss: list[int | None] = field(default_factory=list)  # first token with a label; None: none
    loss_tokens: list[int] = field(default_factory=list)  # tokens with a label, after truncation
    prompt_lengths: list[int] = field(default_factory=list)  # DPO only
    pair_lengths: list[tuple[int, int]] = field(default_factory=list)  # DPO only: (prompt+chosen, prompt+rejected)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (example, rule code, message): text checks

    def pair_tokens(self, max_length: int) -> list[int]:
        """DPO: tokens each pair puts through the model (chosen and rejected, each cut at max_length)."""
        return [min(c, max_length) + min(r, max_length) for c, r in self.pair_lengths]

    def select(self, keep: list[bool]) -> "Tokenized":
        def pick(xs: list) -> list:
            return [x for x, k in zip(xs, keep) if k]

        return Tokenized(pick(self.lengths), pick(self.first_loss), pick(self.loss_tokens), pick(self.prompt_lengths),
                         pick(self.pair_lengths))
