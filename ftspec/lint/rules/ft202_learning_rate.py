from ftspec.spec.schema import DEFAULT_LEARNING_RATE
from ftspec.lint.rules.base import Rule, doc

RANGES = {"lora": (1e-4, 2e-4), "qlora": (1e-4, 2e-4), "rslora": (1e-5, 5e-5), "full": (1e-5, 2e-5)}


def check(ctx, rule):
    s = ctx.spec
    if s.training.learning_rate is None or s.method == "dpo":
        return
    lo, hi = RANGES[s.adapter.type]
    lr = s.learning_rate
    if not lo <= lr <= hi:
        yield rule.finding(ctx, f"learning rate {lr:g} is outside the {lo:g}-{hi:g} range for {s.adapter.type}",
                           at=("training", "learning_rate"), hint=f"learning_rate: {DEFAULT_LEARNING_RATE[s.adapter.type]:g}",
                           fix={"set": ["training", "learning_rate"], "value": DEFAULT_LEARNING_RATE[s.adapter.type]})


RULE = Rule("FT202", "learning-rate-range", "warning", "Learning rate outside the guide's range for the adapter type.",
            doc("LoRA 1e-4..2e-4, rsLoRA 1e-5..5e-5, full 1e-5..2e-5 (not applied to DPO).",
                "Too high diverges or forgets; too low does not learn.", "adapter: lora, learning_rate: 1e-3",
                "003 Ark best practices"), "003", check)
