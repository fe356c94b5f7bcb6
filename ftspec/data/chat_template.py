"""The chat template TRL trains with: the spec's data.chat_template over the model's, then SFTTrainer's swap to its
training template; plan, lint and apply read it (through the pipeline), the trainer does the same in TRL.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ftspec.data.errors import PipelineError
from ftspec.data.training_template import derive_training_template

# --- the chat template TRL trains with ---------------------------------------------------------------------
# SFTTrainer (trl 1.16) with assistant_only_loss and a template without {% generation %} markers swaps in its own
# training template, found by exact comparison of the tokenizer's template with the originals TRL ships
# (trl/chat_templates/X.jinja -> X_training.jinja, in get_training_chat_template); none found: it refuses.

TEMPLATE_RULE = "FT313"  # ftspec/lint/rules/ft313_chat_template.py reports the same problems in lint
_GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")  # trl.chat_template_utils.has_generation_markers


def has_generation_markers(template: str | dict[str, str]) -> bool:
    if isinstance(template, dict):
        template = template["default"]
    return _GENERATION_MARKER.search(template) is not None


@lru_cache(maxsize=1)
def trl_training_templates() -> dict[str, str] | None:
    """{original template text: training template text} of the installed trl, read without importing it (and
    torch); None when trl is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "chat_templates"
    table = {}
    for training in sorted(folder.glob("*_training.jinja")):
        original = training.with_name(training.name.removesuffix("_training.jinja") + ".jinja")
        if original.is_file():
            table[original.read_text(encoding="utf-8")] = training.read_text(encoding="utf-8")
    return table


class TemplateError(PipelineError):
    """The chat template cannot train this spec as TRL would (no template, or no training template for it)."""

    def __init__(self, message: str, spec_path: tuple, hint: str | None = None, severity: str = "error"):
        super().__init__(message, spec_path, code=TEMPLATE_RULE, hint=hint)
        self.severity = severity  # "warning": lint cannot tell (trl is not installed), the trainer may still run


WAYS_OUT = ("set data.assistant_only_loss: false to train on whole conversations, or data.chat_template: a .jinja "
            "file whose assistant output sits inside {% generation %} ... {% endgeneration %}")


def training_tokenizer(tok, *, chat: bool, assistant_only_loss: bool, user_template: str | None = None):
    """The tokenizer as the trainer renders training rows: the spec's data.chat_template over the model's, then the
    training template: TRL's swap where TRL ships one, else ftspec's derivation (``training_template``). ``chat``: the
    method renders conversations (not plain text); ``assistant_only_loss``: it masks the loss to the assistant's
    tokens. Raises TemplateError where no template can render the samples."""
    where = ("data", "chat_template") if user_template is not None else ("data", "assistant_only_loss")
    if user_template is not None:
        tok = tok.with_template(user_template)
    if not chat:
        return tok
    if tok.chat_template is None:
        raise TemplateError("the model's tokenizer has no chat template, so chat samples cannot be rendered",
                            ("data", "chat_template") if user_template is not None else ("model", "base"),
                            hint="set data.chat_template to a .jinja chat template file")
    if isinstance(tok.chat_template, dict) and "default" not in tok.chat_template:
        raise TemplateError(f"the model has several chat templates and no default: {sorted(tok.chat_template)}",
                            ("model", "base"), hint="set data.chat_template to the one to train with")
    if not assistant_only_loss or has_generation_markers(tok.chat_template):
        return tok
    table = trl_training_templates()
    if table is None:
        raise TemplateError("the chat template has no {% generation %} markers and trl is not installed here, so "
                            "which training template SFTTrainer swaps in cannot be known", where,
                            hint="install ftspec[train], or " + WAYS_OUT, severity="warning")
    default = tok.chat_template["default"] if isinstance(tok.chat_template, dict) else tok.chat_template
    swapped = table.get(default)
    # TRL's own training template where it has one (SFTTrainer swaps it in); else ftspec's derivation, which the
    # trainer sets on the tokenizer (job.training_chat_template).
    return tok.with_template(swapped if swapped is not None else derive_training_template(default))


def read_chat_template(loaded) -> str | None:
    """The spec's data.chat_template file, or None."""
    path = loaded.spec.data.chat_template
    if path is None:
        return None
    file = loaded.resolve(path)
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"data.chat_template {path}: cannot read it ({exc.strerror or exc})",
                            ("data", "chat_template")) from None
