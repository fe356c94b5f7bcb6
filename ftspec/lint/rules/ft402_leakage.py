from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in (ctx.holdout, ctx.validation):
        if d and d.leaks:
            yield rule.finding(ctx, f"{d.leaks} samples of {d.role} {d.spec_value} also appear in train (same prompt "
                               f"and answer): evaluation is leaked, e.g. line(s) {', '.join(map(str, d.leak_lines))}",
                               at=d.at)


RULE = Rule("FT402", "train-holdout-overlap", "error", "Holdout/validation samples that are also in train.",
            doc("Hashes canonical prompt+answer of train and compares holdout/validation files.",
                "Overlap inflates scores; the holdout must never be trained on.", "holdout.jsonl copied from train",
                "004 primer"), "004", check)
