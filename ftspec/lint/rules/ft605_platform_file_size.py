from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import bailian, get_platform

LIMIT_MB = bailian.PLATFORM.file_bytes_limit // 2**20


def check(ctx, rule):
    platform = get_platform(ctx.spec.lint.profile)
    limit = platform.file_bytes_limit if platform else None
    if not limit:
        return
    for d in ctx.datasets():
        if d.file_bytes and d.file_bytes > limit:
            yield rule.finding(ctx, f"{d.spec_value} is {d.file_bytes / 2**20:,.1f} MB; {platform.short} "
                               f"takes files up to {limit / 2**20:,.1f} MB",
                               at=d.at, hint="split the file")


RULE = Rule("FT605", "platform-file-size", "error", "A data file over the platform's size limit.",
            doc(f"Under lint.profile bailian: each data file at most {LIMIT_MB} MB (5 GB in all).",
                "The upload is refused.", "a 450 MB train.jsonl under profile bailian",
                f"Bailian fine-tunes API (files <= {LIMIT_MB} MB)"),
            "bailian", check, profiles={"bailian": f"files up to {LIMIT_MB} MB"}, only=("bailian",))
