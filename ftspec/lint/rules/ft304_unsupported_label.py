from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        if d.labels:
            yield rule.finding(ctx, f"{len(d.labels)} records carry a KTO-style 'label'; KTO is not a supported "
                               f"method (sft, dpo, cpt), so they are skipped", path=d.display, line=d.labels[0])


RULE = Rule("FT304", "unsupported-kto-label", "error", "KTO-style labelled records (unsupported method).",
            doc("Flags records with a boolean 'label' (KTO data).", "ftspec cannot train KTO; the label would be ignored.",
                'kto_en_demo.json: {"messages": [...], "label": true}', "ftspec methods"), "ftspec", check)
