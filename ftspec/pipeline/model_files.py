"""The model's tokenizer for lint and plan, loaded only when something is encoded, and the digest of the files a
token count depends on (the count cache's key).

Parsing a real tokenizer.json (a 151k vocabulary) takes ~0.5 s: a re-plan whose counts all come from the cache needs
only the chat template, so the tokenizer is read lazily once this very file (by its digest) is known to load; a file
never seen loads at once, so a corrupt one is still reported where it always was (FT004).
"""

from __future__ import annotations

from pathlib import Path

from ftspec.pipeline import cache

# The files of a tokenizer folder that decide how a conversation is rendered and encoded (and the checks of the
# training text: BOS, stop tokens); the weights are not among them.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                   "chat_template.jinja", "chat_template.json")


class LazyTokenizer:
    """A ``tokenizers.Tokenizer`` read from ``path`` on first use."""

    def __init__(self, path: Path):
        self._path = path
        self._real = None

    def _load(self):
        if self._real is None:
            from ftspec.tokenizer.files import load_tokenizer

            self._real = load_tokenizer(self._path)
        return self._real

    @property
    def loaded(self) -> bool:
        return self._real is not None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._load(), name)


def folder_digest(tokenizer_file: Path) -> dict[str, str | None]:
    """Digest of each file of the tokenizer folder that a count depends on (None: absent)."""
    folder = Path(tokenizer_file).parent
    out: dict[str, str | None] = {}
    for name in TOKENIZER_FILES:
        out[name] = cache.digest_or_none(tokenizer_file if name == "tokenizer.json" else folder / name)
    extra = folder / "additional_chat_templates"
    if extra.is_dir():
        for path in sorted(extra.glob("*.jinja")):
            out[f"additional_chat_templates/{path.name}"] = cache.digest_or_none(path)
    return out


def _known_good_key(digest: str) -> str:
    return cache.make_key("tokenizer", {"tokenizer.json": digest})


def chat_tokenizer(ref):
    """``ChatTokenizer.from_model(ref)``, its tokenizer.json parsed on first use when this file is known to load."""
    from ftspec.tokenizer.chat import ChatTokenizer

    if ref.tokenizer_file is None:
        return None
    path = Path(ref.tokenizer_file)
    digest = cache.digest_or_none(path) if cache.enabled() else None
    if digest is None or cache.read(_known_good_key(digest)) is None:
        tok = ChatTokenizer.from_files(path)  # parses it now: a broken file raises here, as it always did
        if digest is not None:
            cache.write(_known_good_key(digest), {"loads": True})
        return tok
    return ChatTokenizer.from_files(path, backend=LazyTokenizer(path))
