from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    base = ctx.spec.model.base
    if base.startswith("builtin:") or ctx.train is None or ctx.train.read_error or not ctx.train.records:
        return
    counter = ctx.counter
    if counter.tok is not None or counter.model_error:
        return
    yield rule.finding(ctx, f"{base}'s tokenizer and chat template are not on this machine: token counts are estimates "
                       "and the checks of the training text did not run (FT313-FT316: the template, its refusals, BOS, "
                       "stop tokens)", at=("model", "base"),
                       hint=f"download it (huggingface-cli download {base}) or point model.base at its folder, then "
                            "lint again")


RULE = Rule("FT007", "model-not-here", "info", "The model's files are not here: some checks could not run.",
            doc("Says so when the model (a hub id not in the local Hugging Face cache) has no tokenizer or chat "
                "template on this machine, so lint counted tokens by estimate and could not check the training text "
                "with the model's own template (FT313-FT316). Lint still passes: nothing was found wrong, but not "
                "everything was looked at.",
                "A silent pass would read as \"the template trains this data\": on Llama 3.2 without its files lint "
                "used to pass while the trainer would have refused assistant-only loss at launch.",
                "model: {base: meta-llama/Llama-3.2-1B-Instruct} on a machine that never downloaded it",
                "ftspec practice"), "ftspec practice", check)
