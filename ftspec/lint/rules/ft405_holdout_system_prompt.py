from ftspec.lint.rules.base import Rule, doc


def _label(prompt) -> str:
    if prompt is None:
        return "no system prompt"
    text = str(prompt)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def check(ctx, rule):
    t, h = ctx.train, ctx.holdout
    if not t or not h or not t.system_prompts or not h.system_prompts:
        return
    unseen = {p: n for p, n in h.system_prompts.items() if p not in t.system_prompts}
    if not unseen:
        return
    n = sum(unseen.values())
    top = max(unseen, key=unseen.get)
    trained = t.system_prompts.most_common(1)[0][0]
    yield rule.finding(ctx, f"{n} of {h.records} holdout cases run with a system prompt train never has ({_label(top)}"
                       f"; train mostly has {_label(trained)}): the evaluation does not measure the prompt the model "
                       f"was trained with", at=("eval", "holdout"),
                       hint="use the training system prompt in the holdout, or set data.system_prompt for both")


RULE = Rule("FT405", "holdout-system-prompt", "warning", "Holdout system prompt differs from the training data's.",
            doc("Compares the system prompt of every train and holdout record, after data.system_prompt is added to "
                "records without one (as the pipeline does for train, validation and holdout).",
                "Training samples must match the inference prompt format; a holdout with another system prompt "
                "measures a different task.",
                "train with 'You are a shop assistant.', holdout with none", "000 Ark overview"), "000", check)
