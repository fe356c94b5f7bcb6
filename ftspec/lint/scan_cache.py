"""Lint's per-file statistics in the count cache (``ftspec.pipeline.cache``): a second lint of unchanged data, or the
lint a re-plan runs, reads each dataset's ``DataStats`` instead of reading the file again.

An entry's key holds the file's bytes (digest), where it is (image paths are relative to it), its role and format,
the spec's sections the scan reads (method, model, data, eval, lint, grpo), how tokens are counted (none, estimated,
or the tokenizer's files and the trainer's chat template), ftspec's code (``cache.code_version``) and the keys of the
datasets scanned before it: the token counter calibrates across files (a shape measured in train is not measured
again in validation), so its state after each file is stored with the file's statistics and restored on a hit.
A scan that looked at files beside the data (images) or whose template failed while counting is not stored.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

from ftspec.pipeline import cache

# DataStats fields not stored: set from the spec on every run (role, path...), or kept apart (hashes).
_NOT_STORED = {"role", "spec_value", "path", "at", "hashes"}


def stable_hash(texts: tuple[str, str]) -> int:
    """A 64-bit hash of a record's canonical texts that is the same in every process (Python's hash() of a str is
    salted per process, and the train hashes are stored with the train statistics)."""
    data = "\x1d".join(texts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _enc(value: Any) -> Any:
    from ftspec.lint.record_checks import Tally

    if isinstance(value, Tally):
        return {"T": [value.count, value.lines, value.last]}
    if isinstance(value, Counter):
        return {"C": [[_enc(k), v] for k, v in value.items()]}
    if isinstance(value, dict):
        return {"D": [[_enc(k), _enc(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"t": [_enc(v) for v in value]}
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return {"P": str(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def _dec(value: Any) -> Any:
    from ftspec.lint.record_checks import Tally

    if isinstance(value, list):
        return [_dec(v) for v in value]
    if isinstance(value, dict):
        (tag, body), = value.items()
        if tag == "T":
            return Tally(body[0], list(body[1]), body[2])
        if tag == "C":
            return Counter({_dec(k): v for k, v in body})
        if tag == "D":
            return {_dec(k): _dec(v) for k, v in body}
        if tag == "t":
            return tuple(_dec(v) for v in body)
        if tag == "P":
            return Path(body)
        raise ValueError(f"unknown tag {tag!r}")
    return value


class LazyHashes:
    """The train file's record hashes, unpacked only when a later file is scanned against them."""

    def __init__(self, data: bytes):
        self._data = data
        self._set: set | None = None

    def _get(self) -> set:
        if self._set is None:
            values = array("q")
            values.frombytes(self._data)
            self._set = set(values)
        return self._set

    def __contains__(self, h) -> bool:
        return h in self._get()

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._data) // 8


def key_for(base: dict, stats, forced_fmt: str, chain: list, digest: str) -> str:
    return cache.make_key("lint", {**base, "role": stats.role, "path": str(stats.path), "fmt": forced_fmt,
                                   "data": digest, "before": chain})


def store(key: str, stats, counter_state: dict | None) -> None:
    meta = {"stats": {f.name: _enc(getattr(stats, f.name)) for f in fields(stats) if f.name not in _NOT_STORED},
            "counter": _enc(counter_state)}
    blobs = {}
    if stats.role == "train":
        blobs["hashes"] = array("q", stats.hashes).tobytes()
    cache.write(key, meta, blobs)


def load(key: str, stats) -> tuple[Any, dict | None] | None:
    """(stats filled from the entry, the counter's state after it) or None."""
    hit = cache.read(key)
    if hit is None:
        return None
    meta, blobs = hit
    try:
        names = {f.name for f in fields(stats)} - _NOT_STORED
        stored = meta["stats"]
        if set(stored) != names:
            raise ValueError("other fields")
        for name in names:
            setattr(stats, name, _dec(stored[name]))
        if stats.role == "train":
            stats.hashes = LazyHashes(blobs["hashes"])
        return stats, _dec(meta["counter"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        cache.note(f"ignored a lint cache entry for {stats.path} ({exc}); it is scanned again")
        return None
