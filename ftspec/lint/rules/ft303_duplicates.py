from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    t = ctx.train
    if t and t.duplicates:
        yield rule.finding(ctx, f"{t.duplicates} duplicate samples in {t.spec_value} (same prompt and answer), e.g. "
                           f"line(s) {', '.join(map(str, t.dup_lines))}", at=("data", "train"))


RULE = Rule("FT303", "duplicate-samples", "warning", "Duplicate samples in the training data.",
            doc("Hashes each canonical prompt+answer and counts repeats.",
                "Duplicates overweight some cases; quality over quantity.", "the same line twice", "003"),
            "003", check)
