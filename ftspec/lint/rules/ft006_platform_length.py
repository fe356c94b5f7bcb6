from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import bailian, get_platform, openai


def check(ctx, rule):
    s, platform = ctx.spec, get_platform(ctx.spec.lint.profile)
    if platform is None:
        return
    limit = platform.max_length_limit
    if limit and s.data.max_length > limit:
        yield rule.finding(ctx, f"max_length {s.data.max_length} is over {platform.short}'s limit of {limit}",
                           at=("data", "max_length"), hint=f"max_length: {limit}",
                           fix={"set": ["data", "max_length"], "value": limit})
    limit = platform.example_token_limit
    if limit:
        who = platform.short
        if s.data.max_length > limit:
            yield rule.finding(ctx, f"max_length {s.data.max_length} is over {who}'s {limit:,} tokens per example",
                               at=("data", "max_length"), severity="warning")
        for d in ctx.datasets():
            if d.over_platform and d.role != "holdout":
                yield rule.finding(ctx, f"{d.over_platform} examples in {d.spec_value} are over {who}'s "
                                   f"{limit:,}-token limit ({ctx.counter.mode}) and are truncated "
                                   f"there", at=d.at, severity="warning")


RULE = Rule("FT006", "over-platform-length", "error", "max_length or examples over the platform's length limit.",
            doc(f"Under lint.profile bailian: data.max_length over {bailian.PLATFORM.max_length_limit:,} (an error: the "
                f"platform refuses it). Under openai: max_length over {openai.PLATFORM.example_token_limit:,} and "
                f"examples longer than {openai.PLATFORM.example_token_limit:,} tokens (warnings: OpenAI truncates).",
                "A job that runs here would be refused or silently truncated on the platform.",
                "lint: {profile: bailian} with data: {max_length: 16384}",
                "Bailian fine-tunes API (max_length up to 8192); OpenAI data-prep checks (16,385)"),
            "001/openai", check, profiles={"bailian": f"max_length at most {bailian.PLATFORM.max_length_limit:,}",
                                           "openai": f"{openai.PLATFORM.example_token_limit:,} tokens per example"},
            only=("bailian", "openai"))
