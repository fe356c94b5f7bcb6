from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        if d.read_error:
            yield rule.finding(ctx, f"{d.role} data {d.spec_value!r}: {d.read_error}", at=d.at)


RULE = Rule("FT003", "data-file-unreadable", "error", "A dataset file is missing or cannot be read.",
            doc("Checks that every data file in the spec exists and has a supported type.",
                "Training cannot start without its data.", "data: {train: missing.jsonl}", "ftspec practice"),
            "ftspec practice", check)
