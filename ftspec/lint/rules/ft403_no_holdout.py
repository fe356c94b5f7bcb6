from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    e = ctx.spec.eval
    if not e.holdout:
        yield rule.finding(ctx, "no eval.holdout: the fine-tuned model cannot be measured on held-out data",
                           at=("eval",), key=True)
    if not e.baseline:
        yield rule.finding(ctx, "eval.baseline is false: without the base model's score a regression cannot be seen",
                           at=("eval", "baseline"), fix={"set": ["eval", "baseline"], "value": True})


RULE = Rule("FT403", "no-holdout-or-baseline", "warning", "No holdout set, or baseline evaluation off.",
            doc("Checks eval.holdout is set and eval.baseline is true.",
                "Measure the base model first and compare on a holdout (A/B).", "eval: {baseline: false}",
                "004 primer"), "004", check)
