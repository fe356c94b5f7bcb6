"""Is a model folder usable? The checks lint runs so that `plan` never trips over a broken folder.

A local or cached model is read by lint and plan (config.json, tokenizer.json, chat templates) and by the
trainer: a template that does not compile, a tokenizer.json that does not parse or a shape value that is
not a number would otherwise surface as a crash deep inside planning. Each problem is one sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftspec.models.resolve import ModelRef
    from ftspec.tokenizer.chat import ChatTokenizer

# The config.json values the planner does arithmetic with.
SHAPE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "head_dim", "vocab_size", "max_position_embeddings", "kv_channels")


def config_problem(config: object) -> str | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        return "config.json is not a JSON object"
    shapes = [config] + ([config["text_config"]] if isinstance(config.get("text_config"), dict) else [])
    for part in shapes:
        for key in SHAPE_KEYS:
            value = part.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                return f"config.json: {key} must be a positive whole number, got {value!r}"
    return None


def template_problem(tok: ChatTokenizer) -> str | None:
    """Compile every chat template the folder ships, as the first render would."""
    templates = tok.chat_template if isinstance(tok.chat_template, dict) else {"default": tok.chat_template}
    for name, text in templates.items():
        if text is None:
            continue
        if not isinstance(text, str):
            return f"chat template {name!r} is not text"
        try:
            from ftspec.tokenizer.template_env import compile_template

            compile_template(text)
        except Exception as exc:  # jinja2.TemplateSyntaxError and friends
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            return f"chat template {name!r} does not compile{where}: {exc}"
    return None


def load_problem(exc: BaseException) -> str:
    """A tokenizer/template load failure as one sentence."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"its tokenizer files cannot be loaded: {text}"


def model_problem(ref: ModelRef, tok: ChatTokenizer | None) -> str | None:
    return config_problem(ref.config) or (template_problem(tok) if tok is not None else None)
