from ftspec.lint.rules.base import Rule, doc
from ftspec.methods import get_method

VALIDATION_LOSS = "validation_loss"


def check(ctx, rule):
    by = ctx.spec.eval.select_by
    if by is None:
        return
    if by == VALIDATION_LOSS:
        if not get_method(ctx.spec.method).has_validation_loss:
            yield rule.finding(ctx, f"method {ctx.spec.method} computes no validation loss to select a checkpoint by",
                               at=("eval", "select_by"), hint="select by a metric of eval.metrics scored on the holdout")
        elif ctx.spec.data.validation is None:
            yield rule.finding(ctx, "eval.select_by: validation_loss, but there is no validation split",
                               at=("eval", "select_by"), hint="data.validation: 0.2, or select by a holdout metric")
    elif ctx.spec.eval.holdout is None:
        yield rule.finding(ctx, f"eval.select_by: {by} is scored on the holdout, but there is no eval.holdout",
                           at=("eval", "select_by"), hint="eval.holdout: a held-out test file")


RULE = Rule("FT408", "select-by-unscored", "error", "eval.select_by names a score the run never computes.",
            doc("eval.select_by picks the checkpoint the weights folder holds: by a holdout metric (which needs "
                "eval.holdout) or by validation_loss (which needs a validation split and a method that computes one).",
                "Without the score every checkpoint ties and the selection would silently be the final weights.",
                "eval: {select_by: exact_match}  # and no holdout", "003 best practices (publish the best step)"),
            "003", check)
