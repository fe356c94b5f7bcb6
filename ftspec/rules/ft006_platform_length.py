from ftspec.rules.base import Rule, doc

BAILIAN_MAX_LENGTH = 8192
OPENAI_EXAMPLE_TOKENS = 16_385


def check(ctx, rule):
    s, profile = ctx.spec, ctx.spec.lint.profile
    if profile == "bailian" and s.data.max_length > BAILIAN_MAX_LENGTH:
        yield rule.finding(ctx, f"max_length {s.data.max_length} is over Bailian's limit of {BAILIAN_MAX_LENGTH}",
                           at=("data", "max_length"), hint=f"max_length: {BAILIAN_MAX_LENGTH}",
                           fix={"set": ["data", "max_length"], "value": BAILIAN_MAX_LENGTH})
    if profile == "openai":
        if s.data.max_length > OPENAI_EXAMPLE_TOKENS:
            yield rule.finding(ctx, f"max_length {s.data.max_length} is over OpenAI's {OPENAI_EXAMPLE_TOKENS:,} "
                               f"tokens per example", at=("data", "max_length"), severity="warning")
        for d in ctx.datasets():
            if d.over_platform and d.role != "holdout":
                yield rule.finding(ctx, f"{d.over_platform} examples in {d.spec_value} are over OpenAI's "
                                   f"{OPENAI_EXAMPLE_TOKENS:,}-token limit ({ctx.counter.mode}) and are truncated "
                                   f"there", at=d.at, severity="warning")


RULE = Rule("FT006", "over-platform-length", "error", "max_length or examples over the platform's length limit.",
            doc("Under lint.profile bailian: data.max_length over 8,192 (an error: the platform refuses it). Under "
                "openai: max_length over 16,385 and examples longer than 16,385 tokens (warnings: OpenAI truncates).",
                "A job that runs here would be refused or silently truncated on the platform.",
                "lint: {profile: bailian} with data: {max_length: 16384}",
                "Bailian fine-tunes API (max_length up to 8192); OpenAI data-prep checks (16,385)"),
            "001/openai", check, profiles={"bailian": "max_length at most 8,192", "openai": "16,385 tokens per example"},
            only=("bailian", "openai"))
