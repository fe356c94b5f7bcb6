"""Chat tokenization for lint and plan, without torch or transformers.

Renders chat templates the way ``transformers`` ``apply_chat_template`` does (same sandbox, filters,
globals and ``{% generation %}`` tracking) and encodes with the model's ``tokenizer.json`` through
the ``tokenizers`` library, so token counts and assistant masks match what training will see.
Heavy imports (tokenizers, jinja2) are deferred to first use so importing this module stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    import tokenizers

    from ftspec.models.resolve import ModelRef

# The named special tokens transformers passes to every chat template (its SPECIAL_TOKENS_ATTRIBUTES).
_NAMED_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Older names for a message's reasoning, copied to the ones templates read (as transformers does).
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")

Message = Mapping[str, Any]


def _token_str(value: Any) -> str | None:
    if isinstance(value, dict):  # serialized AddedToken
        return value.get("content")
    return value if isinstance(value, str) else None


def _read_text(path: Path) -> str:
    """A model file's text; only regular files are opened (a FIFO would block forever)."""
    import os
    import stat

    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path} is not a regular file")
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
        return fh.read().decode("utf-8")


def _exists(path: Path) -> bool:
    """Present at all (a FIFO too: _read_text then refuses it rather than skipping it silently)."""
    return path.exists() and not path.is_dir()


def _read_json(path: Path) -> dict:
    if not _exists(path):
        return {}
    value = json.loads(_read_text(path))
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return value


def _plain(value: Any) -> Any:
    """Rebuild template inputs from plain JSON types, as transformers does before rendering."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    import dataclasses  # deferred: it is the costliest import of this module

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):
        return _plain(value.model_dump())
    return f"<{type(value).__name__}>"


def _prepare_messages(messages: list[Message]) -> list[dict]:
    if not messages:
        raise ValueError("Cannot apply chat template to an empty conversation. Provide at least one message.")
    prepared = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise TypeError(f"Chat messages should be dicts, but got {message!r}.")
        # transformers drops None values: templates handle a missing key better than a literal None.
        message = _plain({k: v for k, v in message.items() if v is not None})
        reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        prepared.append(message)
    return prepared


class _RenderedText(list):
    """The blocks a render has yielded so far, and their total length."""

    length = 0

    def append(self, block: str) -> None:
        super().append(block)
        self.length += len(block)


def _compile(template: str) -> jinja2.Template:
    """Compile with the environment transformers builds in ``_cached_compile_jinja_template``."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTracker(jinja2.ext.Extension):
        # Records the char span of each {% generation %} block while a tracked render runs.
        tags = {"generation"}

        def __init__(self, environment: jinja2.Environment) -> None:
            super().__init__(environment)
            environment.extend(track_generation=self.track)
            self._blocks: list[str] | None = None
            self._spans: list[tuple[int, int]] | None = None

        def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.CallBlock:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation"), [], [], body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation(self, context: jinja2.nodes.EvalContext, caller: jinja2.runtime.Macro) -> str:
            text = caller()
            if self._blocks is not None and self._spans is not None:
                # _RenderedText keeps its length as it grows: joining all blocks per span was quadratic.
                start = self._blocks.length if isinstance(self._blocks, _RenderedText) else len("".join(self._blocks))
                self._spans.append((start, start + len(text)))
            return text

        @contextmanager
        def track(self, blocks: list[str], spans: list[tuple[int, int]]):
            if self._blocks is not None:
                raise ValueError("generation tracker is already in use")
            self._blocks, self._spans = blocks, spans
            try:
                yield
            finally:
                self._blocks = self._spans = None

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        # Jinja's own tojson escapes HTML characters; templates expect plain JSON.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    class TemplateDict:
        # dict() without the class object itself, so templates can't reach its attributes.
        def __call__(self, *args: Any, **kwargs: Any) -> dict:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        # Underscore attributes on a namespace are a sandbox escape route.
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            TemplateNamespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}.")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now,
                       dict=TemplateDict(), namespace=TemplateNamespace)
    return env.from_string(template)


# How far each normalizer can shrink text (NFC/NFKC compose at most three code points into one); a
# normalizer not listed (Strip, Precompiled, BertNormalizer, a Replace with an empty or shorter content)
# can drop any amount of text, and then no bound holds.
_NORMALIZER_SHRINK = {"NFC": 3, "NFKC": 3, "NFD": 1, "NFKD": 1, "Lowercase": 1, "Prepend": 1, "NFKCasefold": 3}
# Pre-tokenizers that keep every character (Whitespace and friends drop the spaces they split on).
_KEEPING_PRE_TOKENIZERS = {"ByteLevel", "Metaspace", "Digits", "UnicodeScripts"}


def _shrink(normalizer: dict | None) -> int | None:
    if normalizer is None:
        return 1
    kind = normalizer.get("type")
    if kind == "Sequence":
        factor = 1
        for part in normalizer.get("normalizers", []):
            f = _shrink(part)
            if f is None:
                return None
            factor *= f
        return factor
    if kind == "Replace":
        pattern, content = normalizer.get("pattern", {}), normalizer.get("content", "")
        return 1 if "String" in pattern and len(pattern["String"]) <= len(content) else None
    return _NORMALIZER_SHRINK.get(kind)


def _keeps_text(pre: dict | None) -> bool:
    if pre is None:
        return True
    kind = pre.get("type")
    if kind == "Sequence":
        return all(_keeps_text(p) for p in pre.get("pretokenizers", []))
    if kind in ("Split", "Punctuation"):
        return pre.get("behavior") != "Removed"
    return kind in _KEEPING_PRE_TOKENIZERS


def chars_per_token_bound(config: dict) -> int | None:
    """An upper bound on how many characters of input text one token can stand for, from tokenizer.json;
    None when the tokenizer can turn unboundedly long text into one token (or drop it)."""
    shrink = _shrink(config.get("normalizer"))
    model = config.get("model") or {}
    if shrink is None or not _keeps_text(config.get("pre_tokenizer")):
        return None
    kind, vocab = model.get("type"), model.get("vocab")
    if kind == "BPE":
        if model.get("unk_token") is not None and model.get("fuse_unk") and not model.get("byte_fallback"):
            return None  # a run of unknown characters fuses into one token
        longest = max((len(k) for k in (vocab or {})), default=1)
    elif kind == "WordPiece":
        longest = max(max((len(k) for k in (vocab or {})), default=1), int(model.get("max_input_chars_per_word", 100)))
    else:  # Unigram fuses unknown runs; WordLevel maps a whole unknown word to one token
        return None
    added = max((len(t.get("content", "")) for t in config.get("added_tokens") or []), default=1)
    return max(longest, added, 1) * shrink


class ChatTokenizer:
    """A model's tokenizer and chat template, usable without transformers."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, chat_template: str | dict[str, str] | None,
                 special_tokens: dict[str, str]) -> None:
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.special_tokens = special_tokens  # name -> token text, what templates see as variables
        self._compiled: dict[str, jinja2.Template] = {}
        self._chars_per_token: int | None | bool = False  # False: not computed yet

    def bounded(self, text: str, max_length: int) -> str:
        """``text``, or a prefix of it that provably encodes to more than ``max_length`` tokens: for callers
        that only need to know a text is over the limit, so a 50 MB record costs a bounded prefix of work.
        The prefix holds (max_length + 1) x the most characters one token can cover, so even if every token
        covered that many, it still has more than max_length tokens (and so has the whole text)."""
        if len(text) <= 4 * (max_length + 1):  # too short to ever be cut: skip computing the bound
            return text
        if self._chars_per_token is False:
            try:
                self._chars_per_token = chars_per_token_bound(json.loads(self.tokenizer.to_str()))
            except (ValueError, TypeError, AttributeError):
                self._chars_per_token = None
        if self._chars_per_token is None:
            return text
        limit = (max_length + 1) * self._chars_per_token
        return text if len(text) <= limit else text[:limit]

    @classmethod
    def from_model(cls, ref: ModelRef) -> ChatTokenizer | None:
        """Load from a resolved model; None when it has no local tokenizer.json."""
        if ref.tokenizer_file is None:
            return None
        return cls.from_files(ref.tokenizer_file)

    @classmethod
    def from_files(cls, tokenizer_file: Path) -> ChatTokenizer:
        folder = Path(tokenizer_file).parent
        config = _read_json(folder / "tokenizer_config.json")
        special = {k: _token_str(config.get(k)) for k in _NAMED_SPECIAL_TOKENS}
        if "added_tokens_decoder" not in config:
            # Legacy folders keep special tokens in special_tokens_map.json; transformers lets it win.
            for key, value in _read_json(folder / "special_tokens_map.json").items():
                if key in _NAMED_SPECIAL_TOKENS and _token_str(value):
                    special[key] = _token_str(value)
        extra = config.get("extra_special_tokens")
        if isinstance(extra, dict):  # model-specific named tokens (image_token, ...) reach templates too
            special.update({k: _token_str(v) for k, v in extra.items()})
        return cls(_load_tokenizer(Path(tokenizer_file)), _load_chat_template(folder, config),
                   {k: v for k, v in special.items() if v is not None})

    def with_template(self, chat_template: str | dict[str, str] | None) -> ChatTokenizer:
        """The same tokenizer rendering with another chat template (what ``apply_chat_template(chat_template=...)``
        or setting ``tokenizer.chat_template`` does in transformers)."""
        return ChatTokenizer(self.tokenizer, chat_template, self.special_tokens)

    # --- tokens -------------------------------------------------------------------------------

    def token_id(self, token: str | None) -> int | None:
        return None if token is None else self.tokenizer.token_to_id(token)

    @property
    def eos_token(self) -> str | None:
        return self.special_tokens.get("eos_token")

    @property
    def eos_token_id(self) -> int | None:
        return self.token_id(self.eos_token)

    @property
    def pad_token(self) -> str | None:
        return self.special_tokens.get("pad_token")

    @property
    def pad_token_id(self) -> int | None:
        return self.token_id(self.pad_token)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def count_tokens(self, texts: list[str]) -> list[int]:
        """len(encode(text)) of each text. A byte-level BPE without merges (builtin:tiny) maps every UTF-8 byte to
        one token, so its count is the byte count with each added token counted once; others encode in a batch."""
        added = _bytes_only_added_tokens(self.tokenizer)
        if added is None:
            return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        out = []
        for text in texts:
            n = len(text.encode("utf-8", "surrogatepass"))
            for token, extra in added:
                if token in text:
                    n -= text.count(token) * extra
            out.append(n)
        return out

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    # --- chat ---------------------------------------------------------------------------------

    def _template(self, tools: list | None) -> jinja2.Template:
        template = self.chat_template
        if isinstance(template, dict):
            key = "tool_use" if tools is not None and "tool_use" in template else "default"
            if key not in template:
                raise ValueError(f"This model has several chat templates and no default: {sorted(template)}")
            template = template[key]
        if template is None:
            raise ValueError("This tokenizer has no chat template.")
        if template not in self._compiled:
            self._compiled[template] = _compile(template)
        return self._compiled[template]

    def _render(self, messages: list[Message], add_generation_prompt: bool, tools: list | None,
                template_kwargs: dict) -> tuple[str, list[tuple[int, int]]]:
        if tools is not None and not all(isinstance(t, Mapping) for t in tools):
            raise TypeError("tools must be JSON schema dicts (converting Python functions needs transformers)")
        template = self._template(tools)
        variables = dict(messages=_prepare_messages(messages), tools=_plain(tools), documents=None,
                         add_generation_prompt=add_generation_prompt,
                         **_plain({**self.special_tokens, **template_kwargs}))
        blocks = _RenderedText()
        spans: list[tuple[int, int]] = []
        # Spans are measured against the text yielded so far, so render by generate(), as transformers does.
        with template.environment.track_generation(blocks, spans):
            for block in template.generate(**variables):
                blocks.append(block)
        return "".join(blocks), spans

    def render_chat(self, messages: list[Message], add_generation_prompt: bool = False,
                    tools: list[dict] | None = None, **template_kwargs: Any) -> str:
        return self._render(messages, add_generation_prompt, tools, template_kwargs)[0]

    def encode_chat(self, messages: list[Message], add_generation_prompt: bool = False,
                    tools: list[dict] | None = None, *, over_length_at: int | None = None,
                    **template_kwargs: Any) -> tuple[list[int], list[int]]:
        """Token ids of the rendered chat and its assistant mask (1 inside {% generation %} blocks);
        ``over_length_at`` as in encode_chat_batch."""
        text, spans = self._render(messages, add_generation_prompt, tools, template_kwargs)
        if over_length_at is not None:
            text = self.bounded(text, over_length_at)
        return self._ids_and_mask(self.tokenizer.encode(text, add_special_tokens=False), spans)

    def encode_chat_batch(self, conversations: list[list[Message]], tools: list[list[dict] | None] | None = None,
                          *, over_length_at: int | None = None) -> list[tuple[list[int], list[int]]]:
        """encode_chat over many conversations; the Rust tokenizer encodes them in one parallel batch.
        ``over_length_at``: a caller that drops every conversation longer than this many tokens gets, for such
        a one, the encoding of a bounded prefix (still longer than the limit) instead of the whole text."""
        tools = tools or [None] * len(conversations)
        rendered = [self._render(m, False, t, {}) for m, t in zip(conversations, tools)]
        texts = [text for text, _ in rendered]
        if over_length_at is not None:
            texts = [self.bounded(text, over_length_at) for text in texts]
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [self._ids_and_mask(enc, spans) for enc, (_, spans) in zip(encodings, rendered)]

    @staticmethod
    def _ids_and_mask(encoding, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        ids = encoding.ids
        mask = [0] * len(ids)
        # Char spans to tokens exactly as apply_chat_template(return_assistant_tokens_mask=True) maps
        # them, quirks included: an unmappable start ends the scan, an end on token 0 or unmappable
        # runs to the end of the sequence.
        char_to_token = _char_to_token(encoding) if len(spans) > 8 else encoding.char_to_token
        for start_char, end_char in spans:
            start = char_to_token(start_char)
            end = char_to_token(end_char - 1)
            if start is None:
                break
            for index in range(start, end + 1 if end else len(ids)):
                mask[index] = 1
        return ids, mask


_TOKENIZERS: dict[tuple, Any] = {}
_BYTES_ONLY: dict[int, Any] = {}


def _bytes_only_added_tokens(tokenizer) -> list[tuple[str, int]] | None:
    """[(added token, its UTF-8 length - 1)] when ``tokenizer`` turns each byte into one token (ByteLevel, BPE
    with no merges, no normalizer, no byte fallback), else None."""
    key = id(tokenizer)
    if key in _BYTES_ONLY and _BYTES_ONLY[key][0] is tokenizer:
        return _BYTES_ONLY[key][1]
    try:
        config = json.loads(tokenizer.to_str())
        model, pre = config.get("model") or {}, config.get("pre_tokenizer") or {}
        plain = (model.get("type") == "BPE" and not model.get("merges") and not model.get("byte_fallback")
                 and config.get("normalizer") is None and pre.get("type") == "ByteLevel"
                 and not pre.get("add_prefix_space"))
        tokens = [t["content"] for t in config.get("added_tokens") or []]
        # An added token inside another would make the counts overlap: encode those.
        nested = any(a != b and a in b for a in tokens for b in tokens)
        found = [(t, len(t.encode("utf-8")) - 1) for t in tokens] if plain and not nested and all(tokens) else None
    except (ValueError, TypeError, AttributeError, KeyError):
        found = None
    if len(_BYTES_ONLY) >= 8:  # bounded like _TOKENIZERS, whose tokenizers are the ones asked about
        _BYTES_ONLY.pop(next(iter(_BYTES_ONLY)))
    _BYTES_ONLY[key] = (tokenizer, found)  # the reference keeps the id from being reused
    return found


def _load_tokenizer(path: Path):
    """tokenizers.Tokenizer of a tokenizer.json, kept per file version: a real 151k vocabulary takes ~1 s to load,
    and lint, plan and apply each open it (ftspec never changes a loaded tokenizer's settings)."""
    from tokenizers import Tokenizer

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _TOKENIZERS:
        if len(_TOKENIZERS) >= 4:
            _TOKENIZERS.pop(next(iter(_TOKENIZERS)))
        _TOKENIZERS[key] = Tokenizer.from_str(_read_text(path))  # regular files only: a FIFO would block
    return _TOKENIZERS[key]


def _char_to_token(encoding):
    """``encoding.char_to_token`` by bisection: the library's scans every token per call, which made a
    conversation of many assistant turns quadratic. Same answer: the first token whose offsets hold the char."""
    import bisect

    offsets = encoding.offsets
    starts = [s for s, _ in offsets]
    if any(a > b for a, b in zip(starts, starts[1:])):  # not ordered: keep the library's own scan
        return encoding.char_to_token

    reach, furthest = [], -1  # reach[i]: the furthest end among tokens 0..i
    for _, end in offsets:
        furthest = max(furthest, end)
        reach.append(furthest)

    def find(char: int) -> int | None:
        i = bisect.bisect_right(starts, char) - 1  # the last token starting at or before char
        found = None
        while i >= 0 and reach[i] > char:  # below i where nothing reaches past char, no token holds it
            if char < offsets[i][1]:
                found = i
            i -= 1
        return found

    return find


def _load_chat_template(folder: Path, config: dict) -> str | dict[str, str] | None:
    """Template files win over tokenizer_config.json, and several templates make a dict, as in transformers."""
    templates: dict[str, str] = {}
    if _exists(folder / "chat_template.jinja"):
        templates["default"] = _read_text(folder / "chat_template.jinja")
    extra_dir = folder / "additional_chat_templates"
    if extra_dir.is_dir():
        for path in sorted(extra_dir.glob("*.jinja")):
            templates[path.name.removesuffix(".jinja")] = _read_text(path)
    if templates:
        return templates["default"] if list(templates) == ["default"] else templates
    template = config.get("chat_template")
    if isinstance(template, list):  # legacy list of {"name", "template"}
        if not all(isinstance(e, dict) and "name" in e and "template" in e for e in template):
            raise ValueError("tokenizer_config.json: chat_template list entries need a name and a template")
        return {entry["name"]: entry["template"] for entry in template}
    return template
