from ftspec.lint.rules.base import Rule, doc

FLOOR = 10


def check(ctx, rule):
    t = ctx.train
    if ctx.spec.method != "sft" or t is None or t.read_error:
        return
    if t.records < FLOOR:
        yield rule.finding(ctx, f"{t.records} valid SFT examples in {t.spec_value}; the hard floor is {FLOOR}",
                           at=("data", "train"))


RULE = Rule("FT101", "sft-too-few-examples", "error", "SFT needs at least 10 examples.",
            doc("Counts valid training records for SFT and fails below 10.",
                "Platforms reject fewer than 10 examples; gains start at 50-100.",
                "train.jsonl with 7 records", "004 primer (OpenAI: >= 10 examples)"),
            "004", check)
