from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    e = ctx.spec.training.epochs
    if ctx.spec.method in ("cpt", "grpo"):  # the guide's ranges are for supervised data; RL samples anew each pass
        return
    if ctx.spec.task == "generation":  # copy, scripts, fiction: the guide's range is 5-10
        if not 5 <= e <= 10:
            yield rule.finding(ctx, f"{e:g} epochs for a generation task; the guide's range there is 5-10",
                               at=("training", "epochs"), fix=_clamp(e, 5, 10))
        return
    if 2 <= e <= 5:
        return
    extra = " (generation tasks like copy or fiction may use 5-10: set task: generation)" if 5 < e <= 10 else ""
    yield rule.finding(ctx, f"{e:g} epochs is outside the usual 2-5{extra}", at=("training", "epochs"),
                       severity="info" if 5 < e <= 10 else None, fix=None if 5 < e <= 10 else _clamp(e, 2, 5))


def _clamp(e: float, lo: int, hi: int) -> dict:
    return {"set": ["training", "epochs"], "value": lo if e < lo else hi}


RULE = Rule("FT203", "epochs-range", "warning", "Epochs outside the usual 2-5 (5-10 for task: generation).",
            doc("Checks training.epochs against 2-5; with task: generation against 5-10 (5-10 without a task is info).",
                "Too few underfits; too many overfits (very low train loss).", "training: {epochs: 20}",
                "003 Ark best practices, 000"), "003", check)
