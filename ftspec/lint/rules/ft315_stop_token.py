from ftspec.data.text_checks import STOP_RULE
from ftspec.lint.rules.base import Rule, doc


def text_findings(ctx, rule, code: str, hint: str):
    """A rule's training-text findings (ftspec.data.text_checks), one per dataset at the first sample's line."""
    for d in ctx.datasets():
        count = d.text_problems.get(code, 0)
        found = [(line, message) for line, c, message in d.text_problem_lines if c == code]
        if not count or not found:
            continue
        line, message = found[0]
        lines = ", ".join(str(n) for n, _ in found[:5])
        more = f" ({count} checked samples: lines {lines})" if count > 1 else ""
        yield rule.finding(ctx, f"{message}{more}", path=d.display, line=line, hint=hint)


def check(ctx, rule):
    yield from text_findings(ctx, rule, STOP_RULE, "use the model's own chat template, or one whose "
                             "{% generation %} block ends after the end-of-turn token")


RULE = Rule("FT315", "stop-token-not-trained", "error",
            "An assistant turn does not end with a token generation stops on, inside the loss.",
            doc("Encodes the training text as the trainer does and checks every assistant turn: its last non-blank "
                "token must be one generation stops on (generation_config.json's eos_token_id and the tokenizer's eos), "
                "and under assistant-only loss it must carry loss (inside the {% generation %} block). `ftspec plan` "
                "checks every sample; lint the first samples of each conversation shape.",
                "A model that never sees its stop token in the loss does not learn to stop: it runs on to "
                "max_new_tokens at inference, and the training loss looks healthy.",
                "a ChatML template (`<|im_end|>`) on a Llama model, where `<|im_end|>` is five plain tokens; a "
                "training template whose generation block closes before `<|eot_id|>`",
                "TRL SFTTrainer (is_chat_template_stop_token_trained)"), "transformers", check)
