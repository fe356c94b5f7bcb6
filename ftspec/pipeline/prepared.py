"""What the pipeline hands to lint, plan and apply: the rows, and their counts as the trainer will see them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ftspec.data.tokens import Tokenized


@dataclass
class PreparedData:
    method: str
    train: list[dict]
    validation: list[dict]
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
