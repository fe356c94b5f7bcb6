from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    mixes = ctx.spec.data.mix
    if not mixes:
        return
    total = sum(m.ratio for m in mixes)
    if not 0.15 <= total <= 0.30 + 1e-9:
        yield rule.finding(ctx, f"mixed-in general data is {total:.0%} of the total; guides say 15%-30% "
                           f"(too high weakens the task, too low does not help)", at=("data", "mix"))


RULE = Rule("FT204", "mix-ratio", "warning", "Mixed-in general data outside 15-30%.",
            doc("Sums data.mix ratios and checks the 15%-30% range.",
                "Mixing limits loss of general ability; the ratio matters both ways.",
                "mix: [{path: general.jsonl, ratio: 0.5}]", "003 Ark best practices"), "003", check)
