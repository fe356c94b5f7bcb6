from ftspec.lint.rules.base import Rule, doc

# config.json keys that count a mixture-of-experts layer's routed experts (DeepSeek-V2/V3, Qwen2/3-MoE, Mixtral, ...).
EXPERT_KEYS = ("n_routed_experts", "num_experts", "num_local_experts")


def experts(config: dict | None) -> int:
    config = config or {}
    config = config.get("text_config", config) if "hidden_size" not in config else config
    return max((int(config.get(k) or 0) for k in EXPERT_KEYS if isinstance(config.get(k), int)), default=0)


def check(ctx, rule):
    a = ctx.spec.adapter
    if a.type == "full" or a.target_modules != "all-linear" or a.dropout == 0:
        return
    from ftspec.models.resolve import resolve_spec_model

    try:
        config = resolve_spec_model(ctx.spec, ctx.loaded.dir, ctx.loaded.path).config
    except ValueError:
        return
    n = experts(config)
    if n:
        yield rule.finding(ctx, f"adapter.dropout {a.dropout:g} with target_modules all-linear on a mixture-of-experts "
                           f"model ({n} experts a layer): PEFT adapts the fused expert weights with lora.ParamWrapper, "
                           "which refuses any dropout, so the trainer would stop at launch", at=("adapter", "dropout"),
                           hint="adapter.dropout: 0, or list target_modules (the attention projections)",
                           fix={"set": ["adapter", "dropout"], "value": 0})


RULE = Rule("FT206", "lora-dropout-on-experts", "error",
            "LoRA dropout on a mixture-of-experts model's fused expert weights (PEFT refuses it).",
            doc("For a LoRA adapter with target_modules all-linear on a model whose config.json has routed experts "
                "(n_routed_experts, num_experts, num_local_experts), and adapter.dropout above 0: PEFT targets the "
                "fused expert weights through lora.ParamWrapper, which raises \"does not work with lora_dropout != "
                "0\" when the trainer builds the model.",
                "The job would fail at launch, after it was scheduled.",
                "model: {base: deepseek-ai/DeepSeek-V3}, adapter: {type: lora, dropout: 0.05}",
                "PEFT (lora.ParamWrapper)"), "peft", check)
