"""The managed platforms whose rules ``lint.profile`` applies and whose prices the plan quotes: one module each.

``lint.profile: peft`` is a profile without a platform (plain PEFT/TRL defaults): ``get_platform`` gives None.
"""

from __future__ import annotations

from ftspec.platforms import ark, bailian, openai
from ftspec.platforms.base import ManagedPrice, Platform, Range

# The order the plan lists managed prices in.
PLATFORMS: dict[str, Platform] = {p.name: p for p in (openai.PLATFORM, bailian.PLATFORM, ark.PLATFORM)}


def get_platform(profile: str) -> Platform | None:
    return PLATFORMS.get(profile)


def managed_training_prices() -> tuple[ManagedPrice, ...]:
    return tuple(price for p in PLATFORMS.values() for price in p.training_prices)


def managed_training_costs(billed_tokens: int) -> list[tuple[ManagedPrice, float]]:
    """(price entry, cost in its currency) for training ``billed_tokens`` (all epochs) on each managed platform."""
    return [(p, billed_tokens / p.per_tokens * p.price) for p in managed_training_prices()]


__all__ = ["ManagedPrice", "PLATFORMS", "Platform", "Range", "get_platform", "managed_training_costs",
           "managed_training_prices"]
