from ftspec.rules.base import Rule, doc

BAILIAN_FILE_BYTES = 300 * 1024 * 1024


def check(ctx, rule):
    if ctx.spec.lint.profile != "bailian":
        return
    for d in ctx.datasets():
        if d.file_bytes and d.file_bytes > BAILIAN_FILE_BYTES:
            yield rule.finding(ctx, f"{d.spec_value} is {d.file_bytes / 2**20:,.1f} MB; Bailian takes files up to "
                               f"{BAILIAN_FILE_BYTES / 2**20:,.1f} MB",
                               at=d.at, hint="split the file")


RULE = Rule("FT605", "platform-file-size", "error", "A data file over the platform's size limit.",
            doc("Under lint.profile bailian: each data file at most 300 MB (5 GB in all).",
                "The upload is refused.", "a 450 MB train.jsonl under profile bailian",
                "Bailian fine-tunes API (files <= 300 MB)"),
            "bailian", check, profiles={"bailian": "files up to 300 MB"}, only=("bailian",))
