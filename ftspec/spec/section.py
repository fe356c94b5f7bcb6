"""The base of every spec section, shared by ``schema.py`` and ``rewards.py``."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # allow_inf_nan: .inf or .nan in a setting is a typo, and the trainer would only fail after launch.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def compiled_regex(pattern: str) -> re.Pattern:
    """``pattern`` compiled; ValueError with the reason when it is not a regular expression."""
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
