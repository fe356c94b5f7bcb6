"""Token counts for lint: exact with the model's tokenizer and the trainer's chat template, else estimated."""

from __future__ import annotations

from pathlib import Path

from ftspec.data.text_checks import text_checks
from ftspec.data.texts import char_token_estimate
from ftspec.data.tool_calls import arguments_as_text, with_text_arguments
from ftspec.methods import get_method
from ftspec.methods.base import Method
from ftspec.platforms import get_platform
from ftspec.tokenizer.chat import RenderError
from ftspec.spec.load import LoadedSpec


CHECKED_PER_SHAPE = 2  # samples of a conversation shape whose training text lint checks (BOS, stop token)


def platform_token_limit(spec) -> int | None:
    """The per-example token limit of the lint.profile's platform, if it has one."""
    platform = get_platform(spec.lint.profile)
    return platform.token_limit() if platform else None


class TokenCounter:
    """Token counts per sample: exact with the model's tokenizer (the pipeline's own count, through the chat template
    the trainer renders with, tools and DPO's rejected side included), else a character estimate, labelled so."""

    def __init__(self, spec, spec_dir: Path, loaded: LoadedSpec | None = None):
        # Loading the tokenizer costs ~70 ms (a real 151k vocabulary, ~1 s): do it only when some data is actually
        # counted, so a spec-only lint (pre-commit on a spec edit) stays instant.
        self._spec, self._spec_dir, self._loaded_spec = spec, spec_dir, loaded
        self._loaded = False
        self._tok = None  # the model's own tokenizer
        self._train_tok = None  # what the trainer renders with (template swap), or None when that fails
        self.template_error = None  # the pipeline's TemplateError, reported by FT313
        self.overhead = 4
        self._calibrated_counter = None  # lint_count.CalibratedCounter, made on first use
        self.model_error: str | None = None  # why the model's files are unusable (rule FT004)
        self._text_arguments: bool | None = None  # the template renders tool-call arguments only as text
        self._model_dir = None
        self._checks = None  # ftspec.data.text_checks.TextChecks, made on first use
        self._checked: dict[tuple, int] = {}  # shape -> samples of it whose training text was checked
        self._parts: dict = {}  # id(record) -> (record, count_parts) of the batch last counted

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        spec = self._spec
        try:
            from ftspec.models.check import load_problem
            from ftspec.models.resolve import resolve_spec_model
            from ftspec.pipeline.setup import tokenizer_of

            try:
                ref = resolve_spec_model(spec, self._spec_dir, self._loaded_spec.path if self._loaded_spec else None)
            except ValueError as exc:
                self.model_error = str(exc)
                return
            try:
                # tokenizer.json is parsed on first use once this very file is known to load (the count cache):
                # a lint whose counts all come from the cache never needs it; a file not known loads now.
                tok = tokenizer_of(ref)
            except Exception as exc:  # a corrupt tokenizer.json or template file: reported, not raised
                self.model_error = load_problem(exc)
                return
            self.model_error = _model_problem(ref, tok)
            if self.model_error:
                return
            self._tok = tok
            self._model_dir = ref.local_dir
        except Exception:
            self._tok = None
        if self._tok is None:
            return
        from ftspec.data.chat_template import read_chat_template, training_tokenizer
        from ftspec.data.errors import PipelineError

        method = get_method(spec.method)
        try:
            user = read_chat_template(self._loaded_spec) if self._loaded_spec is not None else None
            self._train_tok = training_tokenizer(self._tok, chat=not method.plain_text,
                                                 assistant_only_loss=method.assistant_only(spec.data),
                                                 user_template=user)
        except PipelineError as exc:
            self.template_error = exc

    @property
    def tok(self):
        self._load()
        return self._tok

    def check_model(self) -> str | None:
        """Why the spec's model folder cannot be used, or None. The builtin is known good and skipped, so a
        lint of the quickstart does not pay for loading its tokenizer when it counts no data."""
        if self._spec.model.base.startswith("builtin:") and not self._loaded:
            return None
        self._load()
        return self.model_error

    @property
    def exact(self) -> bool:
        self._load()
        return self._train_tok is not None

    def identity(self) -> dict:
        """What the counts depend on besides the data (the lint cache's key): how tokens are counted, and with what."""
        self._load()
        if self._train_tok is None:
            return {"exact": False, "tokenizer": self._tok is not None, "model_error": self.model_error,
                    "template_error": str(self.template_error) if self.template_error else None}
        return {"exact": True, "files": getattr(self._tok, "ftspec_files", None),
                "template": self._train_tok.chat_template, "original": self._tok.chat_template,
                "special": self._tok.special_tokens, "max_length": self._spec.data.max_length,
                "platform_limit": platform_token_limit(self._spec), "model_dir": str(self._model_dir)}

    def state(self) -> dict:
        """What this counter learnt from the samples so far (calibrations, checked shapes): stored with each file's
        statistics, so a file read from the cache leaves the counter as scanning it would have."""
        c = self._calibrated_counter
        return {"checked": dict(self._checked), "text_arguments": self._text_arguments,
                "calibrated": None if c is None else {"overheads": dict(c._overheads), "rendered": c.rendered,
                                                      "counted": c.counted}}

    def restore(self, state: dict) -> None:
        self._checked = dict(state["checked"])
        self._text_arguments = state["text_arguments"]
        if state["calibrated"] is not None and self.exact:
            c = self._calibrated()
            c._overheads = {k: list(v) for k, v in state["calibrated"]["overheads"].items()}
            c.rendered, c.counted = state["calibrated"]["rendered"], state["calibrated"]["counted"]

    def _calibrated(self):
        from ftspec.lint.calibrated import CalibratedCounter

        if self._calibrated_counter is None:
            limit = platform_token_limit(self._spec)
            L = self._spec.data.max_length
            self._calibrated_counter = CalibratedCounter(ContentCounter(self._train_tok), [L] + ([limit] if limit else []),
                                                         L)
        return self._calibrated_counter

    @property
    def mode(self) -> str:
        if self.exact:
            c = self._calibrated_counter
            if c is not None and c.counted:
                return (f"model tokenizer and the trainer's chat template: exact for the {c.rendered:,} samples near a "
                        f"limit or calibrating a shape, the other {c.counted:,} from their contents plus the template's "
                        "measured overhead")
            return "exact (model tokenizer and the chat template the trainer uses)"
        why = "no tokenizer on this machine" if self.tok is None else "the chat template cannot render them"
        return f"estimated (~4 chars/token, ~3 for CJK; {why})"

    def _as_the_template_expects(self, records: list[dict]) -> list[dict]:
        """Tool-call arguments as JSON text where the trainer's template renders them only so, as the pipeline
        writes them."""
        if self._text_arguments is None:
            self._text_arguments = arguments_as_text(self._train_tok)
        return [with_text_arguments(r) for r in records] if self._text_arguments else records

    def text_problems(self, records: list[dict], method: Method) -> list[tuple[int, str, str]]:
        """(index, rule code, message) of the training-text problems (BOS, stop token) of the first samples of each
        conversation shape among ``records``: lint checks every shape, the plan every sample."""
        if not self.exact:
            return []
        picked = []
        memo = self._parts
        for index, record in enumerate(records):
            hit = memo.get(id(record))
            key = hit[1][0] if hit is not None and hit[0] is record else method.count_parts(record)[0]
            if self._checked.get(key, 0) < CHECKED_PER_SHAPE:
                self._checked[key] = self._checked.get(key, 0) + 1
                picked.append(index)
        if not picked:
            return []
        if self._checks is None:
            self._checks = text_checks(self._tok, self._train_tok, self._model_dir)
        subset = self._as_the_template_expects([records[i] for i in picked])
        try:
            found = method.text_problems(subset, self._train_tok, checks=self._checks,
                                         assistant_only_loss=method.assistant_only(self._spec.data),
                                         max_length=self._spec.data.max_length)
        except (ValueError, TypeError, LookupError):  # the template's own refusals are FT314's, found by count()
            return []
        return [(picked[i], code, message) for i, code, message in found]

    def count(self, records: list[dict], method: Method) -> list[int]:
        """Tokens of each canonical record as the trainer tokenizes it (DPO: prompt + the longer answer). A
        sample far over max_length is counted from a bounded prefix (a lower bound, still over max_length), so
        one 50 MB record costs no more than a long one."""
        if self.exact:
            from ftspec.data.errors import PipelineError

            def exact(batch: list[dict]) -> list[int]:
                return method.token_lengths(batch, self._train_tok, max_length=self._spec.data.max_length)

            try:
                if method.plain_text:  # no template to render: the exact count is cheap
                    return exact(records)
                self._parts = {}  # each record's count_parts, for text_problems on the same batch
                return self._calibrated().count(self._as_the_template_expects(records), _Remembered(method, self._parts),
                                                exact)
            except RenderError:
                raise  # one record the template refuses: the scan locates it and counts the others
            except (PipelineError, ValueError, TypeError, LookupError) as exc:  # a template that cannot render them
                self.template_error = self.template_error or exc
                self._train_tok = None
        out = []
        for record in records:
            texts = method.estimate_texts(record)
            out.append(char_token_estimate("".join(texts)) + (self.overhead * len(texts) if len(texts) > 1 else 0))
        return out


class _Remembered:
    """A method whose count_parts answers are remembered by record (the batch's text checks ask again)."""

    def __init__(self, method, memo: dict):
        self._method, self._memo = method, memo

    def count_parts(self, record: dict):
        parts = self._method.count_parts(record)
        self._memo[id(record)] = (record, parts)
        return parts

    def __getattr__(self, name):
        return getattr(self._method, name)


def _model_problem(ref, tok) -> str | None:
    """``model_problem``, with the verdict that these chat templates compile kept in the count cache (compiling a
    real template costs ~50 ms a lint)."""
    from ftspec.models.check import config_problem, model_problem
    from ftspec.pipeline import cache

    if tok is None or not cache.enabled():
        return model_problem(ref, tok)
    problem = config_problem(ref.config)
    if problem:
        return problem
    key = cache.make_key("templates", {"templates": tok.chat_template})
    if cache.read(key) is not None:
        return None
    problem = model_problem(ref, tok)
    if problem is None:
        cache.write(key, {"compiles": True})
    return problem


class ContentCounter:
    """The tokenizer as the calibrated counter uses it (``count_tokens`` of message contents): the ChatTokenizer's
    own count, without reading all of tokenizer.json back to learn that a real vocabulary is not bytes-only."""

    def __init__(self, tok):
        self._tok = tok
        self._bytes_only: bool | None = None

    def count_tokens(self, texts: list[str]) -> list[int]:
        if self._bytes_only is None:
            self._bytes_only = _maybe_bytes_only(self._tok.tokenizer)
        if self._bytes_only:
            return self._tok.count_tokens(texts)
        tokenizer = self._tok.tokenizer
        # Only the number of tokens is wanted: encode_batch_fast (tokenizers >= 0.20) skips the character offsets.
        encode = getattr(tokenizer, "encode_batch_fast", None) or tokenizer.encode_batch
        return [len(e) for e in encode(texts, add_special_tokens=False)]


def _maybe_bytes_only(tokenizer) -> bool:
    """False when the tokenizer surely does not turn each byte into one token (its BPE model has merges, or it is not
    BPE); True when ChatTokenizer.count_tokens must look closer (``bytes_only_added_tokens``). A BPE with merges has
    tokens beyond its 256 byte symbols and its added tokens."""
    try:
        model = tokenizer.model
        if type(model).__name__ != "BPE":
            return False
        added = len(tokenizer.get_added_tokens_decoder())
        return tokenizer.get_vocab_size(with_added_tokens=True) - added <= 256
    except Exception:  # noqa: BLE001 - unknown: let count_tokens decide
        return True


class NoTokenCounter(TokenCounter):
    """For `plan`, which tokenizes every sample exactly itself: lint skips its own count."""

    def text_problems(self, records: list[dict], method: Method) -> list[tuple[int, str, str]]:
        return []  # the plan checks every sample itself

    def count(self, records: list[dict], method: Method) -> list[int]:
        return [0] * len(records)
