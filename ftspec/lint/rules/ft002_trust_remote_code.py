from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    if ctx.spec.model.trust_remote_code:
        yield rule.finding(ctx, "model.trust_remote_code is true: Python code shipped with the model will run",
                           at=("model", "trust_remote_code"))


RULE = Rule("FT002", "trust-remote-code", "warning", "trust_remote_code runs code shipped with the model.",
            doc("Flags model.trust_remote_code: true.", "It executes arbitrary code from the model repository.",
                "model: {trust_remote_code: true}", "ftspec practice"), "ftspec practice", check)
