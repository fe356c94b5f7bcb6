import math

from .base import Rule, doc


def check(ctx, rule):
    a = ctx.spec.adapter
    if a.type == "full" or math.sqrt(a.rank) >= a.alpha:
        return
    scale = a.alpha / math.sqrt(a.rank) if a.type == "rslora" else a.alpha / a.rank
    formula = "alpha/sqrt(r)" if a.type == "rslora" else "alpha/r"
    relaxed = ctx.spec.lint.profile in ("peft", "bailian")
    yield rule.finding(ctx, f"lora alpha {a.alpha:g} > sqrt(rank {a.rank}) = {math.sqrt(a.rank):.2f} (Ark rule sqrt(r) >= alpha); "
                       f"effective scale {formula} = {scale:.3g} for {a.type}"
                       + (f"; allowed under profile {ctx.spec.lint.profile!r}" if relaxed else ""),
                       at=("adapter", "alpha"), severity="info" if relaxed else None,
                       hint="e.g. rank 64 / alpha 6 or rank 32 / alpha 4")


RULE = Rule("FT201", "lora-rank-alpha", "warning", "LoRA alpha larger than sqrt(rank).",
            doc("Checks sqrt(rank) >= alpha for LoRA adapters (skipped for full); shows the effective scale.",
                "Ark's best practice; too large a scale destabilises training. Bailian/PEFT defaults differ (info there).",
                "adapter: {rank: 32, alpha: 8}", "003 Ark best practices"), "003", check,
            profiles={"bailian": "info, not a warning (Bailian's defaults are rank 8 / alpha 32)",
                      "peft": "info, not a warning (PEFT's defaults are r 8 / alpha 8)"})
