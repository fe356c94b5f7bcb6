from ftspec.lint.rules.base import Rule, doc


def model_max_positions(ctx) -> tuple[int | None, str]:
    """The model's context length and where it was read: its config.json, else the offline catalogue."""
    m = ctx.spec.model
    from ftspec.models.resolve import resolve_spec_model

    try:
        ref = resolve_spec_model(ctx.spec, ctx.loaded.dir, ctx.loaded.path)
    except ValueError:
        return None, ""
    config, where = ref.config, "config.json"
    if config is None:
        from ftspec.models.architectures import find_architecture

        config, where = find_architecture(m.base), "the offline catalogue"
    value = (config or {}).get("max_position_embeddings")
    return (value, where) if isinstance(value, int) and value > 0 else (None, "")


def check(ctx, rule):
    limit, where = model_max_positions(ctx)
    L = ctx.spec.data.max_length
    if limit is not None and L > limit:
        yield rule.finding(ctx, f"max_length {L} is over the model's context of {limit} tokens "
                           f"(max_position_embeddings in {where}): positions past it were never trained",
                           at=("data", "max_length"), hint=f"max_length: {limit}",
                           fix={"set": ["data", "max_length"], "value": limit})


RULE = Rule("FT005", "over-model-context", "error", "max_length longer than the model's context.",
            doc("Compares data.max_length with max_position_embeddings from the model's config.json (local folder "
                "or hub cache), else from the offline catalogue of known models.",
                "Samples longer than the model's context use position embeddings it never learned, or fail.",
                "model: Qwen/Qwen2.5-0.5B (32,768) with max_length: 65536", "001 Bailian (max length), model configs"),
            "001", check)
