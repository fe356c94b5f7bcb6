from ftspec.lint.rules.base import Rule, doc


def shares(d) -> str:
    total = sum(d.scenarios.values())
    return ", ".join(f"{k} {v / total:.0%}" for k, v in d.scenarios.most_common(6)) + (
        ", ..." if len(d.scenarios) > 6 else "")


def check(ctx, rule):
    t = ctx.train
    key = ctx.spec.data.stratify_by
    if key and t is not None and not t.read_error and t.scenario_missing:
        yield rule.finding(ctx, f"data.stratify_by {key!r}: {t.scenario_missing} of {t.records} training records have "
                           f"no such key (a string or number); they split as one group", at=("data", "stratify_by"))
    if t is None or not t.scenarios:
        return
    limit = ctx.spec.lint.max_scenario_share
    total = sum(t.scenarios.values())
    top, n = t.scenarios.most_common(1)[0]
    if len(t.scenarios) > 1 and n / total > limit:
        others = "; ".join(f"{d.role} {shares(d)}" for d in (ctx.validation, ctx.holdout) if d and d.scenarios)
        yield rule.finding(ctx, f"scenario {top!r} is {n / total:.0%} of train by {t.scenario_key!r} (over "
                           f"{limit:.0%}): train {shares(t)}" + (f"; {others}" if others else ""),
                           at=("data", "train"))
    v = ctx.validation
    if v and v.scenarios:
        missing = sorted(set(t.scenarios) - set(v.scenarios))
        if missing:
            yield rule.finding(ctx, f"validation {v.spec_value} has no {', '.join(map(repr, missing[:5]))} samples "
                               f"that train has: its loss does not cover every scenario", at=v.at)


RULE = Rule("FT310", "scenario-balance", "warning", "One scenario dominates the training data.",
            doc("When records carry a scenario field (lint.scenario_key, data.stratify_by, or the first of scenario, "
                "category, label), reports each scenario's share of train, validation and holdout, and flags one "
                "over lint.max_scenario_share (default 50%) or a validation file missing a trained scenario; and "
                "training records that lack the data.stratify_by key the validation split is stratified by.",
                "Each scenario's share should match its real share; one class dominating biases the model.",
                "90% of records with scenario: greeting", "001 Bailian (balance, 80/20 split)"), "001", check)
