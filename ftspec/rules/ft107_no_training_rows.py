from .base import Rule, doc


def check(ctx, rule):
    t, s = ctx.train, ctx.spec
    if t is None or t.read_error or ctx.effective_train_count() > 0:
        return
    if t.items == 0:
        why = "the file has no records"
    elif t.records == 0:
        why = (f"none of its {t.items} records is usable ({t.problem_count} with format errors, {len(t.labels)} "
               f"KTO-labelled)")
    else:
        parts = []
        if t.over_length and s.over_length == "drop" and s.method != "cpt":
            parts.append(f"{t.over_length} of {t.records} valid samples are over max_length {s.data.max_length} "
                         f"and dropped")
        if isinstance(s.data.validation, float):
            parts.append(f"the validation split takes {s.data.validation:g} of what is left")
        why = "; ".join(parts) or f"{t.records} valid samples"
    yield rule.finding(ctx, f"{t.spec_value} leaves no training rows: {why}", at=("data", "train"))


RULE = Rule("FT107", "no-training-rows", "error", "The data leaves no rows to train on.",
            doc("Counts the training rows left after format errors, over-length drops and the validation split.",
                "A job with no rows cannot train; finding it here beats an error deep in the trainer.",
                "every sample longer than max_length: 64", "001 Bailian (over-length samples are dropped)"),
            "001", check)
