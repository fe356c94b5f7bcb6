"""What the pipeline renders and encodes with, set up before the data is read: the model's tokenizer (parsed on first
use, ``model_files``), the trainer's chat template, the render date, the tool-argument mode, and the count cache's key
for them."""

from __future__ import annotations

import datetime
from pathlib import Path

from ftspec.data.chat_template import read_chat_template, training_tokenizer
from ftspec.data.text_checks import text_checks
from ftspec.data.tool_calls import arguments_as_text
from ftspec.data.training_template import is_derived
from ftspec.pipeline import cache
from ftspec.pipeline.facts import Tokenizing


def model_dir_of(loaded):
    """The model's local folder (generation_config.json: the stop tokens the text checks know)."""
    from ftspec.models.resolve import resolve_spec_model

    spec = loaded.spec
    ref = resolve_spec_model(spec, loaded.dir, loaded.path)
    return ref.local_dir


def load_tokenizer(loaded):
    """The model's tokenizer from local files, or None (hub model not in the cache). Its tokenizer.json is parsed on
    first use once known to load (``model_files``); ``ftspec_files`` names the files its counts depend on."""
    from ftspec.models.resolve import resolve_spec_model

    spec = loaded.spec
    return tokenizer_of(resolve_spec_model(spec, loaded.dir, loaded.path))


def tokenizer_of(ref):
    from ftspec.pipeline.model_files import chat_tokenizer, folder_digest

    tok = chat_tokenizer(ref)
    if tok is not None and cache.enabled():
        tok.ftspec_files = folder_digest(ref.tokenizer_file)
    return tok


class Setup:
    """The tokenizer and the template the trainer renders with, made before the data is read (the facts pass counts
    as it reads); what fails here is raised where it always was, once the data has loaded."""

    def __init__(self, loaded, method, tok, render_date):
        spec = loaded.spec
        d = spec.data
        self.error: BaseException | None = None
        self.tok = self.prompting = self.original = None
        self.day = self.derived = None
        self.text_arguments = False
        self.how = Tokenizing(method)
        try:
            if tok is None:
                tok = load_tokenizer(loaded)
            self.original = tok
            if tok is None:
                from ftspec.models.template_overhead import template_overhead

                overhead = None if method.plain_text else template_overhead(spec.model.base)
                self.how = Tokenizing(method, None, overhead=overhead,
                                      key={"estimated": True, "overhead": overhead, "model": spec.model.base})
                return
            user_template = read_chat_template(loaded)
            prompting = tok if user_template is None else tok.with_template(user_template)
            train_tok = training_tokenizer(tok, chat=not method.plain_text,
                                           assistant_only_loss=method.assistant_only(d), user_template=user_template)
            if train_tok.reads_the_calendar:
                self.day = datetime.date.fromisoformat(render_date) if isinstance(render_date, str) else (
                    render_date or datetime.date.today())
                train_tok, prompting = train_tok.with_render_date(self.day), prompting.with_render_date(self.day)
            self.derived = train_tok.chat_template if is_derived(train_tok.chat_template) else None
            self.text_arguments = not method.plain_text and arguments_as_text(train_tok)
            self.tok, self.prompting = train_tok, prompting
            kwargs = {"assistant_only_loss": method.assistant_only(d), "max_length": d.max_length,
                      "bounded": method.bounded(spec)}
            key = None
            files = getattr(tok, "ftspec_files", None)
            if files is not None:
                model_dir = model_dir_of(loaded)
                key = {"files": files, "template": train_tok.chat_template, "original": tok.chat_template,
                       "special": tok.special_tokens, "day": self.day.isoformat() if self.day else None,
                       "generation_config": cache.digest_or_none(Path(model_dir) / "generation_config.json")
                       if model_dir else None, **kwargs}
            self.how = Tokenizing(method, train_tok, kwargs,
                                  checks=lambda: text_checks(tok, train_tok, model_dir_of(loaded)), key=key)
        except Exception as exc:  # noqa: BLE001 - raised after the data has loaded, as before
            self.error = exc
            self.how = Tokenizing(method, None, overhead=None, key=None)
