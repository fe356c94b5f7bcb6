from ftspec.lint.rules.base import Rule, doc
from ftspec.methods import get_method


def check(ctx, rule):
    if ctx.spec.data.validation is None and get_method(ctx.spec.method).has_validation_loss:
        yield rule.finding(ctx, "no validation split: train and validation loss cannot be compared (guide: 20%)",
                           at=("data",), key=True, hint="data.validation: 0.2",
                           fix={"set": ["data", "validation"], "value": 0.2})


RULE = Rule("FT401", "no-validation", "warning", "No validation split or file.",
            doc("Checks data.validation is set.", "Without validation loss overfitting cannot be seen.",
                "data: {train: t.jsonl}  ->  validation: 0.2", "001 Bailian (80/20), 003"), "001", check)
