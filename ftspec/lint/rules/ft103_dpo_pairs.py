from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    t = ctx.train
    if ctx.spec.method == "dpo" and t and not t.read_error and t.records < 100:
        yield rule.finding(ctx, f"{t.records} DPO preference pairs; guides ask for 100+", at=("data", "train"))


RULE = Rule("FT103", "dpo-too-few-pairs", "warning", "DPO needs 100+ preference pairs.",
            doc("Counts valid preference pairs for method dpo.", "Too few pairs give no reliable preference signal.",
                "dpo data with 40 pairs", "000 Ark, 001 Bailian"), "000/001", check,
            profiles={"bailian": "100+ pairs (Bailian's DPO floor)"})
