import math

from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import bailian, get_platform

GUIDE_ALPHA = {64: 6, 32: 4}


def check(ctx, rule):
    a = ctx.spec.adapter
    if a.type == "full" or math.sqrt(a.rank) >= a.alpha:
        return
    scale = a.alpha / math.sqrt(a.rank) if a.type == "rslora" else a.alpha / a.rank
    formula = "alpha/sqrt(r)" if a.type == "rslora" else "alpha/r"
    platform = get_platform(ctx.spec.lint.profile)
    relaxed = platform.own_lora_defaults is not None if platform else True  # peft: PEFT's own defaults
    fixed = fixed_alpha(a.rank)
    yield rule.finding(ctx, f"lora alpha {a.alpha:g} > sqrt(rank {a.rank}) = {math.sqrt(a.rank):.2f} (Ark rule sqrt(r) >= alpha); "
                       f"effective scale {formula} = {scale:.3g} for {a.type}"
                       + (f"; allowed under profile {ctx.spec.lint.profile!r}" if relaxed else ""),
                       at=("adapter", "alpha"), severity="info" if relaxed else None,
                       hint=f"alpha: {fixed:g} for rank {a.rank} (guide pairs: rank 64 / alpha 6, rank 32 / alpha 4)",
                       fix=None if relaxed else {"set": ["adapter", "alpha"], "value": fixed})


def fixed_alpha(rank: int) -> float:
    """The guide's alpha for its recommended ranks, else the largest whole alpha with sqrt(rank) >= alpha."""
    return GUIDE_ALPHA.get(rank, max(1, math.isqrt(rank)))


RULE = Rule("FT201", "lora-rank-alpha", "warning", "LoRA alpha larger than sqrt(rank).",
            doc("Checks sqrt(rank) >= alpha for LoRA adapters (skipped for full); shows the effective scale.",
                "Ark's best practice; too large a scale destabilises training. Bailian/PEFT defaults differ (info there).",
                "adapter: {rank: 32, alpha: 8}", "003 Ark best practices"), "003", check,
            profiles={"bailian": f"info, not a warning ({bailian.PLATFORM.own_lora_defaults})",
                      "peft": "info, not a warning (PEFT's defaults are r 8 / alpha 8)"})
