from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        with_r = d.tallied("with_reasoning")
        if with_r.count and d.plain_records:
            yield rule.finding(ctx, f"{with_r.count} records in {d.spec_value} have reasoning content and "
                               f"{d.plain_records} do not (e.g. line {d.plain_first}): train one thinking mode, as "
                               f"the model will be called", path=d.display, line=d.plain_first)


RULE = Rule("FT309", "thinking-mode-mixed", "warning", "Reasoning content in some records and not in others.",
            doc("Counts records whose assistant turns carry reasoning (reasoning_content or reasoning parts) and "
                "those without, per dataset.",
                "Training and inference must match: thinking-mode training needs reasoning in every sample; a mix "
                "teaches the model to think only sometimes.",
                "48 records with reasoning parts, 2 without", "000 Ark overview; Bailian thinking models"),
            "000", check)
