from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    if ctx.spec.method == "cpt" or ctx.train is None or ctx.train.read_error:
        return
    counter = ctx.counter
    counter.tok  # loads the tokenizer and resolves the training template
    exc = counter.template_error
    if exc is None:
        return
    at = getattr(exc, "spec_path", None) or ("data", "assistant_only_loss")
    yield rule.finding(ctx, getattr(exc, "message", str(exc)), at=at, hint=getattr(exc, "hint", None),
                       severity=getattr(exc, "severity", None))


RULE = Rule("FT313", "chat-template-untrainable", "error",
            "The chat template cannot train this spec (no template, or no assistant token to train on).",
            doc("Resolves the chat template the trainer will render with: data.chat_template over the model's own; "
                "for SFT with assistant-only loss and a template without {% generation %} markers, the training "
                "template TRL 1.16's SFTTrainer swaps in (get_training_chat_template: an exact match of the template "
                "against the originals in trl/chat_templates), else one ftspec derives from it (the original's own "
                "rendering, each assistant turn and its end-of-turn token marked). Reports a missing template, several "
                "templates and no default, and samples the template marks no assistant token in.",
                "Assistant-only loss needs to know which tokens the assistant wrote; without markers the trainer stops "
                "before the first step, after the job was scheduled and paid for.",
                "a fine-tuned model whose custom template has no {% generation %} markers, assistant_only_loss: true",
                "000 Ark overview (loss on assistant turns); TRL SFTTrainer docs"), "000", check)
