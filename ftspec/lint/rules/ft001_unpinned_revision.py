from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    m = ctx.spec.model
    if m.base.startswith(("builtin:", "run:")) or m.base.startswith((".", "/", "~")):
        return
    from ftspec.models.resolve import resolve_model
    try:
        ref = resolve_model(m.base, m.revision, spec_dir=ctx.loaded.dir)
    except ValueError:
        return
    if ref.kind in ("hub", "hub-cache") and not m.revision:
        yield rule.finding(ctx, f"hub model {m.base!r} has no pinned revision: the weights can change under you",
                           at=("model", "base"), hint="set model.revision to a commit hash")


RULE = Rule("FT001", "unpinned-model-revision", "warning", "Hub model without a pinned revision.",
            doc("Flags a Hugging Face hub model with no model.revision.",
                "An unpinned model can change between runs, so results are not reproducible.",
                "model: {base: Qwen/Qwen2.5-0.5B}  ->  add revision: <commit sha>", "ftspec practice"),
            "ftspec practice", check)
