"""What the pipeline hands to lint, plan and apply: the rows, and their counts as the trainer will see them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ftspec.data.tokens import Tokenized


class NotLoaded:
    """The rows of a part the pipeline counted without reading them into memory (``prepare(records=False)``): only
    how many there are."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    def __iter__(self):
        raise TypeError("the rows were counted, not loaded: prepare(..., records=True) reads them")

    def __repr__(self) -> str:
        return f"NotLoaded({self.n})"


@dataclass
class PreparedData:
    method: str
    train: list[dict] | NotLoaded
    validation: list[dict] | NotLoaded
    holdout: list[dict]
    counts: dict[str, Any]
    tokens: Tokenized | None  # None when the model's tokenizer is not on this machine
    rows: int | None  # rows of the trainer's prepared train dataset (after TRL drops / packing)
    tokens_per_epoch: int | None  # tokens the model processes per epoch (no padding)
    loss_tokens_per_epoch: int | None
    max_seq_len: int | None  # longest row the trainer will see
    attention_seq_len: float | None  # sum(s^2)/sum(s): the mean length attention spans
    tokens_estimated: bool = False  # no local tokenizer: token figures are estimates
    render_date: datetime.date | None = None  # the day a calendar-reading chat template rendered (pinned)
    training_template: str | None = None  # ftspec's derived training template, when the trainer needs it
