from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        for line, msg, _ in d.problems:
            yield rule.finding(ctx, msg, path=d.display, line=line)
        if d.problem_count > len(d.problems):
            yield rule.finding(ctx, f"{d.problem_count} records with format errors in total "
                               f"({d.problem_count - len(d.problems)} more not shown)", at=d.at)


RULE = Rule("FT301", "record-format", "error", "A record does not match the data format.",
            doc("Validates each record: JSON syntax, roles, non-empty content, ending on assistant (SFT), "
                "DPO prompt ending on user, chosen != rejected.",
                "Malformed records are rejected or silently mis-trained.",
                'train.jsonl:3 {"messages":[{"role":"bot","content":"hi"}]}', "001 Bailian, OpenAI data-prep checks"),
            "001", check)
