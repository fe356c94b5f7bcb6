from ftspec.lint.rules.base import Rule, doc

# Ark best practices (003): recommended SFT volume by task type.
VOLUME = {"generation": (2000, 3000), "qa": (2000, 10_000), "classification": (1000, 3000)}


def check(ctx, rule):
    s, t = ctx.spec, ctx.train
    if s.task not in VOLUME or s.method != "sft" or t is None or t.read_error or t.records == 0:
        return
    lo, hi = VOLUME[s.task]
    n = t.records
    if n < lo:
        yield rule.finding(ctx, f"{n} samples for a {s.task} task; the guide recommends {lo:,}-{hi:,}"
                           + (" (10k+ with many or hard classes)" if s.task == "classification" else ""),
                           at=("data", "train"))
    elif n > hi and s.task != "classification":
        yield rule.finding(ctx, f"{n} samples for a {s.task} task, above the guide's {lo:,}-{hi:,}: check the extra "
                           f"data is as clean (quality over quantity)", at=("data", "train"), severity="info")


RULE = Rule("FT106", "task-volume", "warning", "SFT volume outside the guide's range for the task type.",
            doc("With task: generation (2k-3k samples), qa (reference QA, 2k-10k) or classification (1k-3k; 10k+ "
                "with many classes), compares the training set's size with the recommended range.",
                "Each task type needs a different amount of data to learn reliably.",
                "task: generation with 400 samples", "003 Ark best practices"), "003", check)
