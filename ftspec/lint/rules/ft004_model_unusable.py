from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    problem = ctx.counter.check_model()
    if problem:
        yield rule.finding(ctx, f"model {ctx.spec.model.base!r} cannot be used: {problem}", at=("model", "base"),
                           hint="fix or re-download the model folder")


RULE = Rule("FT004", "model-unusable", "error", "The model folder's config, tokenizer or chat template is broken.",
            doc("Loads the local (or cached) model's config.json, tokenizer.json and every chat template the way "
                "plan and the trainer will: a file that does not parse, a template that does not compile, or a "
                "shape value in config.json that is not a positive whole number is an error.",
                "Planning and training read these files; a broken one would stop them only later, or mis-count.",
                "model: {base: ./my-model}  # with chat_template.jinja: {% for m in messages %}", "ftspec practice"),
            "ftspec practice", check)
