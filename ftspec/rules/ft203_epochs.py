from .base import Rule, doc


def check(ctx, rule):
    e = ctx.spec.training.epochs
    if ctx.spec.method == "cpt" or 2 <= e <= 5:
        return
    extra = " (generation tasks like copy or fiction may use 5-10)" if 5 < e <= 10 else ""
    yield rule.finding(ctx, f"{e:g} epochs is outside the usual 2-5{extra}", at=("training", "epochs"),
                       severity="info" if 5 < e <= 10 else None)


RULE = Rule("FT203", "epochs-range", "warning", "Epochs outside the usual 2-5.",
            doc("Checks training.epochs against 2-5 (5-10 noted as generation-task range).",
                "Too few underfits; too many overfits (very low train loss).", "training: {epochs: 20}",
                "003 Ark best practices, 000"), "003", check)
