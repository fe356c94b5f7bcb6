"""Chat tokenization for lint and plan, without torch or transformers.

Renders chat templates the way ``transformers`` ``apply_chat_template`` does (same sandbox, filters,
globals and ``{% generation %}`` tracking) and encodes with the model's ``tokenizer.json`` through
the ``tokenizers`` library, so token counts and assistant masks match what training will see.
Heavy imports (tokenizers, jinja2) are deferred to first use so importing this module stays cheap.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftspec.tokenizer.bounds import chars_per_token_bound
from ftspec.tokenizer.calendar import pinned_strftime
from ftspec.tokenizer.files import load_chat_template, load_tokenizer, read_json, token_str
from ftspec.tokenizer.template_env import Message, RenderedText, compile_template, plain, prepare_messages

if TYPE_CHECKING:
    import jinja2
    import tokenizers

class RenderError(ValueError):
    """A chat template raised while rendering the ``index``-th conversation of a batch (its own raise_exception, or an
    error inside it): the caller locates the record."""

    def __init__(self, index: int, cause: BaseException):
        self.index = index
        text = str(cause).strip() or type(cause).__name__
        # raise_exception() messages are the template's own words; anything else says what broke.
        self.message = text if type(cause).__name__ == "TemplateError" else f"{type(cause).__name__}: {text}"
        super().__init__(self.message)

    def at(self, index: int) -> "RenderError":
        """The same error for the conversation at ``index`` of an enclosing batch."""
        moved = RenderError.__new__(RenderError)
        moved.index, moved.message = index, self.message
        ValueError.__init__(moved, self.message)
        return moved


# The named special tokens transformers passes to every chat template (its SPECIAL_TOKENS_ATTRIBUTES).
NAMED_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class ChatTokenizer:
    """A model's tokenizer and chat template, usable without transformers."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, chat_template: str | dict[str, str] | None,
                 special_tokens: dict[str, str], render_date: datetime.date | None = None) -> None:
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.special_tokens = special_tokens  # name -> token text, what templates see as variables
        self._compiled: dict[str, jinja2.Template] = {}
        self._chars_per_token: int | None | bool = False  # False: not computed yet
        # The day a template's strftime_now() sees (Llama 3's "Today Date"): pinned by the plan, so the training text
        # does not depend on the day it is rendered. None: today, as transformers renders.
        self.render_date = render_date

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
    def from_model(cls, ref) -> ChatTokenizer | None:
        """Load from a resolved model (``ftspec.models.resolve.ModelRef``); None when it has no local tokenizer.json."""
        if ref.tokenizer_file is None:
            return None
        return cls.from_files(ref.tokenizer_file)

    @classmethod
    def from_files(cls, tokenizer_file: Path, backend=None) -> ChatTokenizer:
        """``backend``: the tokenizers object to use instead of loading tokenizer_file now (a lazy stand-in)."""
        folder = Path(tokenizer_file).parent
        config = read_json(folder / "tokenizer_config.json")
        special = {k: token_str(config.get(k)) for k in NAMED_SPECIAL_TOKENS}
        if "added_tokens_decoder" not in config:
            # Legacy folders keep special tokens in special_tokens_map.json; transformers lets it win.
            for key, value in read_json(folder / "special_tokens_map.json").items():
                if key in NAMED_SPECIAL_TOKENS and token_str(value):
                    special[key] = token_str(value)
        extra = config.get("extra_special_tokens")
        if isinstance(extra, dict):  # model-specific named tokens (image_token, ...) reach templates too
            special.update({k: token_str(v) for k, v in extra.items()})
        return cls(backend if backend is not None else load_tokenizer(Path(tokenizer_file)),
                   load_chat_template(folder, config),
                   {k: v for k, v in special.items() if v is not None})

    def with_template(self, chat_template: str | dict[str, str] | None) -> ChatTokenizer:
        """The same tokenizer rendering with another chat template (what ``apply_chat_template(chat_template=...)``
        or setting ``tokenizer.chat_template`` does in transformers)."""
        return ChatTokenizer(self.tokenizer, chat_template, self.special_tokens, self.render_date)

    def with_render_date(self, day: datetime.date | None) -> ChatTokenizer:
        """The same tokenizer, its templates' strftime_now() answering ``day`` (midnight) instead of now."""
        return ChatTokenizer(self.tokenizer, self.chat_template, self.special_tokens, day)

    @property
    def reads_the_calendar(self) -> bool:
        """Whether a chat template renders the date it is rendered on."""
        templates = self.chat_template.values() if isinstance(self.chat_template, dict) else [self.chat_template]
        return any(isinstance(t, str) and "strftime_now" in t for t in templates)

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
        added = bytes_only_added_tokens(self.tokenizer)
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
            self._compiled[template] = compile_template(template)
        return self._compiled[template]

    def _render(self, messages: list[Message], add_generation_prompt: bool, tools: list | None,
                template_kwargs: dict) -> tuple[str, list[tuple[int, int]]]:
        if tools is not None and not all(isinstance(t, Mapping) for t in tools):
            raise TypeError("tools must be JSON schema dicts (converting Python functions needs transformers)")
        template = self._template(tools)
        variables = dict(messages=prepare_messages(messages), tools=plain(tools), documents=None,
                         add_generation_prompt=add_generation_prompt,
                         **plain({**self.special_tokens, **template_kwargs}))
        if self.render_date is not None:  # a render variable overrides the environment's global of the same name
            variables["strftime_now"] = pinned_strftime(self.render_date)
        blocks = RenderedText()
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
        rendered = []
        for index, (messages, tool_list) in enumerate(zip(conversations, tools)):
            try:
                rendered.append(self._render(messages, False, tool_list, {}))
            except Exception as exc:  # the template's refusal of this conversation, located by the caller
                raise RenderError(index, exc) from exc
        texts = [text for text, _ in rendered]
        if over_length_at is not None:
            texts = [self.bounded(text, over_length_at) for text in texts]
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [self._ids_and_mask(enc, spans) for enc, (_, spans) in zip(encodings, rendered)]

    @staticmethod
    def _ids_and_mask(encoding, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        ids = encoding.ids
        mask = bytearray(len(ids))
        # Char spans to tokens exactly as apply_chat_template(return_assistant_tokens_mask=True) maps
        # them, quirks included: an unmappable start ends the scan, an end on token 0 or unmappable
        # runs to the end of the sequence.
        to_token = char_to_token(encoding) if len(spans) > 8 else encoding.char_to_token
        for start_char, end_char in spans:
            start = to_token(start_char)
            end = to_token(end_char - 1)
            if start is None:
                break
            stop = end + 1 if end else len(ids)
            if stop > start:
                mask[start:stop] = b"\x01" * (stop - start)
        return ids, list(mask)




_BYTES_ONLY: dict[int, Any] = {}


def bytes_only_added_tokens(tokenizer) -> list[tuple[str, int]] | None:
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


def char_to_token(encoding):
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
