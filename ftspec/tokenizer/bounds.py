"""How many characters of text one token can stand for, read off tokenizer.json: the bound that lets a caller
encode a bounded prefix of a huge sample and still know it is over a limit."""

from __future__ import annotations

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
