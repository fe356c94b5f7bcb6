"""Message weights: OpenAI's ``weight`` and Ark's ``loss_weight`` on assistant turns; a turn weighted 0 carries
no loss, as on those platforms.

TRL has no per-turn weights. ftspec applies them to the assistant mask TRL computes: the mask's runs of 1s are
the template's ``{% generation %}`` blocks, one per assistant turn, in order, and the run of a turn weighted 0 is
zeroed. ``plan`` calls this on ftspec's mask and the trainer on the tokenizer's own, so both count the same
loss-bearing tokens. Only 0 and 1 can be applied (a token's loss is either in or out); lint (FT603) refuses the
rest.
"""

from __future__ import annotations

from typing import Any

WEIGHT_KEYS = ("weight", "loss_weight")


class TurnWeightError(ValueError):
    """The template's assistant spans cannot be matched one to one with the assistant turns."""


def turn_weight(message: Any) -> Any:
    """The message's weight as written (1 when it has none)."""
    if isinstance(message, dict):
        for key in WEIGHT_KEYS:
            if key in message and message[key] is not None:
                return message[key]
    return 1


def _is_zero(weight: Any) -> bool:
    return not isinstance(weight, bool) and isinstance(weight, (int, float)) and weight == 0


def has_zero_weight(messages: Any) -> bool:
    """True when some assistant turn of the conversation is weighted 0."""
    return isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "assistant" and _is_zero(turn_weight(m)) for m in messages)


def all_turns_zero(messages: Any) -> bool:
    """True when the conversation has assistant turns and every one of them is weighted 0: nothing to learn."""
    turns = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"] if isinstance(
        messages, list) else []
    return bool(turns) and all(_is_zero(turn_weight(m)) for m in turns)


def _runs(mask: list[int]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, bit in enumerate(mask):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def apply_turn_weights(mask: list[int], messages: list[dict]) -> list[int]:
    """The assistant mask with the tokens of every turn weighted 0 set to 0."""
    weights = [turn_weight(m) for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    if not any(_is_zero(w) for w in weights):
        return mask
    runs = _runs(mask)
    if len(runs) != len(weights):
        raise TurnWeightError(f"the chat template marks {len(runs)} assistant spans for {len(weights)} assistant turns, "
                              "so the tokens a turn's weight applies to cannot be told apart")
    out = list(mask)
    for (start, end), weight in zip(runs, weights):
        if _is_zero(weight):
            out[start:end] = [0] * (end - start)
    return out
