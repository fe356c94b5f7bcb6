from ftspec.data.text_checks import BOS_RULE
from ftspec.lint.rules.base import Rule, doc
from ftspec.lint.rules.ft315_stop_token import text_findings


def check(ctx, rule):
    yield from text_findings(ctx, rule, BOS_RULE, "use the model's own chat template; for CPT, plain text without "
                             "the BOS token (the tokenizer adds it)")


RULE = Rule("FT316", "bos-count", "error", "A training row without its single BOS, or with two.",
            doc("Encodes the training text as the trainer does and counts the model's BOS token in each row: exactly "
                "one, first, where the model expects one (its own chat template starts with it, or its tokenizer adds "
                "it to plain text, for CPT), none where it does not. `ftspec plan` checks every sample; lint the "
                "first samples of each conversation shape.",
                "A second BOS, or none, is a sequence the model never saw in pretraining: it trains on a shifted "
                "distribution and answers worse from the first token.",
                "pre-rendered chat text that starts with `<|begin_of_text|>` for CPT on Llama (the tokenizer adds "
                "another); a ChatML template on a Llama model (no BOS at all)",
                "transformers apply_chat_template; TRL SFTTrainer (add_special_tokens=False for chat)"),
            "transformers", check)
