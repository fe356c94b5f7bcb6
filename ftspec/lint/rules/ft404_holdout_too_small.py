from ftspec.lint.rules.base import Rule, doc

MIN_CASES = 100


def check(ctx, rule):
    h = ctx.holdout
    if h and not h.read_error and h.records < MIN_CASES:
        yield rule.finding(ctx, f"holdout {h.spec_value} has {h.records} cases; fewer than {MIN_CASES} cannot measure a "
                           f"rate to better than ~{100 / max(h.records, 1):.0f} points per case", at=("eval", "holdout"))


RULE = Rule("FT404", "holdout-too-small", "warning", "A holdout of fewer than 100 cases.",
            doc("Counts the valid holdout records.",
                "A format test set needs 100+ cases (with the risky symbols, trained and untrained scenarios) for "
                "the alignment rate to mean anything; with 20 cases one sample moves it 5 points.",
                "eval: {holdout: hold.jsonl} with 20 records", "002 blog (format test set of 100+ cases)"),
            "002", check)
