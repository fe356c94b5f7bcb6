from ftspec.lint.rules.base import Rule, doc
from ftspec.models.context import ModelContext, model_context


def model_max_positions(ctx) -> tuple[ModelContext | None, str]:
    """The model's context (RoPE scaling applied) and where its config was read: config.json, else the catalogue."""
    from ftspec.models.resolve import resolve_spec_model

    try:
        ref = resolve_spec_model(ctx.spec, ctx.loaded.dir, ctx.loaded.path)
    except ValueError:
        return None, ""
    config, where = ref.config, "config.json"
    if config is None:
        from ftspec.models.architectures import find_architecture

        config, where = find_architecture(ctx.spec.model.base), "the offline catalogue"
    context = model_context(config)
    return (context, where) if context else (None, "")


def check(ctx, rule):
    context, where = model_max_positions(ctx)
    L = ctx.spec.data.max_length
    if context is None:
        return
    if L > context.positions:
        yield rule.finding(ctx, f"max_length {L} is over the model's context of {context.positions} tokens "
                           f"({context.describe()}; {where}): positions past it were never trained",
                           at=("data", "max_length"), hint=f"max_length: {context.positions}",
                           fix={"set": ["data", "max_length"], "value": context.positions})
    elif context.beyond is not None and L > context.beyond:
        # Dynamic NTK is accepted up to its factor's stretch, but not silently: what trains past the pretraining
        # length is not what the model saw, and it differs from batch to batch.
        yield rule.finding(ctx, f"max_length {L} is past max_position_embeddings {context.beyond}, within the "
                           f"dynamic NTK stretch ({context.describe()}; {where}): transformers recomputes the RoPE "
                           f"frequencies in every forward pass from that batch's longest sequence, so batches longer "
                           f"than {context.beyond} train with stretched frequencies and shorter ones with the "
                           "pretrained ones (inference stretches by the running length the same way); positions past "
                           f"{context.beyond} are only as good as this run makes them",
                           at=("data", "max_length"), severity="warning",
                           hint=f"max_length: {context.beyond} keeps every position at its pretrained frequencies")


RULE = Rule("FT005", "over-model-context", "error", "max_length longer than the model's context.",
            doc("Compares data.max_length with the model's context from its config.json (local folder or hub cache), "
                "else from the offline catalogue of known models: max_position_embeddings, stretched by RoPE scaling "
                "(rope_scaling, or transformers 5's rope_parameters) as transformers' modeling_rope_utils stretches "
                "it: linear and dynamic factor x max_position_embeddings; yarn, longrope and llama3 factor x "
                "original_max_position_embeddings, unless max_position_embeddings already states the scaled length "
                "(Llama 3.1, DeepSeek-V3, Phi-3: never scaled twice). Other RoPE types and malformed values fall back "
                "to max_position_embeddings, and the message says so. Past max_position_embeddings under dynamic NTK "
                "is a warning: transformers re-stretches the frequencies per batch from its longest sequence.",
                "Samples longer than the model's context use position embeddings it never learned, or fail.",
                "model: Qwen/Qwen2.5-0.5B (32,768) with max_length: 65536; a local model with max_position_embeddings "
                "4096 and rope_scaling {type: linear, factor: 4} takes 16384",
                "001 Bailian (max length), model configs, transformers modeling_rope_utils"),
            "001", check)
