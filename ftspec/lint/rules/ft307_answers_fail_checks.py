from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    t = ctx.train
    if t is None or not t.answers_checked:
        return
    for name, tally in sorted(t.tallies.items()):
        if not name.startswith("answer:"):
            continue
        check_name = name.split(":", 1)[1]
        passing = t.answers_checked - tally.count
        if check_name == "eval.postprocess":
            what = "would be changed by the spec's own eval.postprocess guard (the data teaches what the guard repairs)"
            at = ("eval", "postprocess")
        else:
            what = f"fail the spec's own {check_name!r} metric"
            at = ("eval", "metrics")
        yield rule.finding(ctx, f"{tally.count} of {t.answers_checked} training answers in {t.spec_value} {what}; "
                           f"quality {passing}/{t.answers_checked} = {passing / t.answers_checked:.1%}; first at "
                           f"{t.display}:{tally.lines[0]} (lines {tally.where})", at=at)


RULE = Rule("FT307", "answers-fail-spec-checks", "warning", "Training answers fail the spec's own output checks.",
            doc("Runs the checks the spec's eval declares on every training answer (assistant turns; DPO: chosen): "
                "json_valid, each {regex: ...} metric, and whether eval.postprocess would change the answer. Reports "
                "quality = passing / total with the first lines.",
                "When the output format can be checked by code, the training answers must pass that check: the model "
                "learns exactly what the data shows, including the defect the guard repairs.",
                'eval: {metrics: [json_valid]} with an answer "{name: x}"', "003 Ark best practices, 002 blog"),
            "003", check)
