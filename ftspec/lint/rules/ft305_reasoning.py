from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        if d.reasoning:
            yield rule.finding(ctx, f"{len(d.reasoning)} records have reasoning content; make sure the model's chat "
                               f"template trains thinking mode (wrapped in <think>...</think>)",
                               path=d.display, line=d.reasoning[0])


RULE = Rule("FT305", "reasoning-content", "info", "Records with reasoning content need a thinking-mode template.",
            doc("Notes assistant turns with reasoning parts/fields.",
                "Training and inference formats must match; thinking training needs reasoning content.",
                'content: [{"type": "reasoning", ...}]', "000 Ark, Bailian thinking models"), "000", check,
            profiles={"ark": "reasoning_content is Ark's own key (accepted)",
                      "openai": "reasoning_content is also an unrecognized key there (FT601)"})
