from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    s = ctx.spec
    if s.method == "grpo" and s.data.validation is not None:
        yield rule.finding(ctx, "GRPO computes no validation loss: data.validation only takes prompts away from "
                           "training; the holdout's task metrics judge the run", at=("data", "validation"),
                           hint="remove data.validation and set eval.holdout")


RULE = Rule("FT126", "grpo-validation-unused", "warning", "A validation split with GRPO.",
            doc("Warns when a method: grpo spec sets data.validation.",
                "GRPO has no loss to validate against references: a split only removes prompts from training.",
                "method: grpo with data.validation: 0.2", "003 Ark best practices (judge by the task metric)"),
            "003", check)
