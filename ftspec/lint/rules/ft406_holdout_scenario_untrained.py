from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    t, h = ctx.train, ctx.holdout
    if not t or not h or not h.scenarios or not t.scenarios or h.scenario_key != t.scenario_key:
        return
    unseen = sorted(set(h.scenarios) - set(t.scenarios))
    if unseen:
        n = sum(h.scenarios[s] for s in unseen)
        yield rule.finding(ctx, f"{n} of {h.records} holdout cases are in scenarios train never has "
                           f"({', '.join(map(repr, unseen[:5]))}{', ...' if len(unseen) > 5 else ''}, by "
                           f"{h.scenario_key!r}): report them apart, as untrained scenarios",
                           at=("eval", "holdout"), severity="info" if len(unseen) < len(h.scenarios) else None)


RULE = Rule("FT406", "holdout-scenario-untrained", "warning", "Holdout scenarios that train never has.",
            doc("With a scenario field in both files, lists holdout scenarios absent from train. Info when the "
                "holdout also has trained scenarios (the blog tests both on purpose), warning when none is trained.",
                "Scores on untrained scenarios measure generalisation, not what was trained; mixed together they "
                "hide both.", "holdout scenario 'returns', train only 'orders'", "002 blog, 001 Bailian"),
            "002", check)
