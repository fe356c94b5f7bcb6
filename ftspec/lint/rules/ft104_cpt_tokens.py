from ftspec.lint.rules.base import Rule, doc

MIN_TOKENS = 10_000_000


def check(ctx, rule):
    t = ctx.train
    if ctx.spec.method == "cpt" and t and not t.read_error and t.tokens < MIN_TOKENS:
        yield rule.finding(ctx, f"{t.tokens:,} tokens of text ({ctx.counter.mode}); continued pre-training "
                           f"needs 10M+ tokens", at=("data", "train"))


RULE = Rule("FT104", "cpt-too-few-tokens", "warning", "CPT needs 10M+ tokens of text.",
            doc("Sums training tokens for method cpt.", "Less text than this barely moves a pretrained model.",
                "wiki_demo.txt (~0.3M tokens)", "000 Ark (Bailian: 10M, one page 50M)"), "000", check)
