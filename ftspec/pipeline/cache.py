"""A content-addressed cache of what ftspec counted in a data file: the pipeline's per-sample token facts and lint's
per-file statistics, so a re-plan after a change that does not touch tokenization (learning rate, epochs, batch size,
GPU) or a second lint of unchanged data only hashes the files and redoes the arithmetic.

Where it lives: ``$FTSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/ftspec``, else ``~/.cache/ftspec``; entries go in its
``counts/`` folder. Each entry is one file named by the digest of its key; the key holds everything its value depends
on (the data file's bytes, the tokenizer's files, the chat template, every setting that changes the counts, ftspec's
code and cache format), so a changed input is a different entry and never served stale. An entry records its own key
and a checksum: one that is corrupt or was written for another key or format is ignored with a note on stderr and
written again. Writes go to a temporary file renamed into place (atomic), so concurrent runs are safe. The folder is
bounded (``FTSPEC_CACHE_MAX_MB``, 2048 by default): the least recently used entries are evicted beyond it.

A file's digest is remembered by its (path, size, mtime_ns, ctime_ns, inode), as git's index does, so an unchanged
1 GB dataset is not hashed again on every run; a file changed within the last two seconds is always hashed again (its
timestamp could still be shared with a later write).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MAGIC = b"FTSPEC-COUNTS\n"
DEFAULT_MAX_MB = 2048
_RACY_S = 2.0  # a file modified this recently is hashed again: its stat could still match a later version

_enabled = True
_notes: set[str] = set()
counters = {"hits": 0, "misses": 0, "writes": 0, "ignored": 0}  # this process's, for tests and benchmarks


def set_enabled(enabled: bool) -> None:
    """``--no-cache``: neither read nor write the cache in this process."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled and os.environ.get("FTSPEC_NO_CACHE", "") in ("", "0")


def cache_root() -> Path:
    explicit = os.environ.get("FTSPEC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ftspec"


def counts_dir() -> Path:
    return cache_root() / "counts"


def max_bytes() -> int:
    try:
        return int(float(os.environ.get("FTSPEC_CACHE_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024)
    except ValueError:
        return DEFAULT_MAX_MB * 1024 * 1024


def note(message: str) -> None:
    """One line on stderr, once per process and message."""
    if message not in _notes:
        _notes.add(message)
        print(f"ftspec: {message}", file=sys.stderr)


# --- digests ---------------------------------------------------------------------------------------------------

_memo: dict | None = None
_memo_dirty = False
MEMO_FILE = "digests.json"
MEMO_LIMIT = 4096


def _stat_key(st: os.stat_result) -> list:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _load_memo() -> dict:
    global _memo
    if _memo is None:
        _memo = {}
        if enabled():
            try:
                value = json.loads((counts_dir() / MEMO_FILE).read_text(encoding="utf-8"))
                if isinstance(value, dict) and value.get("version") == FORMAT_VERSION:
                    _memo = {k: v for k, v in value.get("files", {}).items() if isinstance(v, list) and len(v) == 2}
            except (OSError, ValueError):
                pass
    return _memo


def file_digest(path: Path) -> str:
    """blake2b of the file's bytes (hex), remembered by its stat; OSError when it cannot be read."""
    global _memo_dirty
    path = Path(path)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read forever
        raise OSError(f"{path} is not a regular file")
    name = str(path.resolve())
    memo = _load_memo()
    key = _stat_key(st)
    hit = memo.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    h = hashlib.blake2b(digest_size=20)
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    digest = h.hexdigest()
    if time.time() - st.st_mtime > _RACY_S and time.time() - st.st_ctime > _RACY_S:
        memo[name] = [key, digest]
        _memo_dirty = True
    return digest


def digest_or_none(path: Path) -> str | None:
    """``file_digest``, or None for a file that is absent or cannot be read."""
    try:
        return file_digest(path)
    except (OSError, ValueError):  # ValueError: a path os.stat refuses (a NUL byte)
        return None


def save_memo() -> None:
    """Write the remembered digests back (merged with what other processes wrote meanwhile)."""
    global _memo_dirty
    if not _memo_dirty or not enabled() or _memo is None:
        return
    _memo_dirty = False
    folder = counts_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            theirs = json.loads((folder / MEMO_FILE).read_text(encoding="utf-8")).get("files", {})
        except (OSError, ValueError, AttributeError):
            theirs = {}
        merged = {**(theirs if isinstance(theirs, dict) else {}), **_memo}
        if len(merged) > MEMO_LIMIT:
            merged = dict(list(merged.items())[-MEMO_LIMIT:])
        _atomic_write(folder / MEMO_FILE, json.dumps({"version": FORMAT_VERSION, "files": merged}).encode())
    except OSError:
        pass


_code_version: str | None = None


def code_version() -> str:
    """ftspec's version and the state of its source files: an edited ftspec never reads what older code cached."""
    global _code_version
    if _code_version is None:
        import ftspec

        root = Path(ftspec.__file__).parent
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{ftspec.__version__}:{FORMAT_VERSION}".encode())
        for name in ("tokenizers", "jinja2"):  # their installed files, unimported: importing costs more than stat
            h.update(_package_state(name).encode())
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and d != "fixtures")
            for name in sorted(filenames):
                if name.endswith(".py") or name.endswith(".jinja"):
                    try:
                        st = os.stat(os.path.join(dirpath, name))
                    except OSError:
                        continue
                    h.update(f"{os.path.relpath(os.path.join(dirpath, name), root)}:{st.st_size}:{st.st_mtime_ns}\n"
                             .encode())
        _code_version = h.hexdigest()
    return _code_version


def _package_state(name: str) -> str:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return f"{name}:absent"
    folder = next(iter(spec.submodule_search_locations))
    parts = []
    try:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.is_file():
                st = entry.stat()
                parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    except OSError:
        pass
    return f"{name}:{folder}:{','.join(parts)}"


def make_key(kind: str, parts: dict) -> str:
    """The entry name for ``parts`` (JSON-able), with the code version folded in."""
    text = json.dumps({"kind": kind, "code": code_version(), "parts": parts}, sort_keys=True, default=str)
    return f"{kind}-" + hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


# --- entries -----------------------------------------------------------------------------------------------------
# MAGIC, then an 8-byte header length, the JSON header ({"key", "format", "meta", "blobs": [[name, size], ...]}),
# the blobs' bytes, and a blake2b checksum of everything before it.


def _path(key: str) -> Path:
    return counts_dir() / key[-2:] / key


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write(key: str, meta: Any, blobs: dict[str, bytes] | None = None) -> None:
    """Store ``meta`` (JSON-able) and ``blobs`` (raw bytes) under ``key``; failures to write are ignored."""
    if not enabled():
        return
    blobs = blobs or {}
    header = json.dumps({"key": key, "format": FORMAT_VERSION, "meta": meta,
                         "blobs": [[name, len(b)] for name, b in blobs.items()]}).encode()
    body = MAGIC + len(header).to_bytes(8, "little") + header + b"".join(blobs.values())
    data = body + hashlib.blake2b(body, digest_size=32).digest()
    try:
        _atomic_write(_path(key), data)
        counters["writes"] += 1
        _evict()
    except OSError as exc:
        note(f"could not write the count cache in {counts_dir()}: {exc.strerror or exc}")


def read(key: str) -> tuple[Any, dict[str, bytes]] | None:
    """(meta, blobs) stored under ``key``, or None: absent, or ignored (corrupt, another key or format: noted)."""
    if not enabled():
        return None
    path = _path(key)
    try:
        data = path.read_bytes()
    except OSError:
        counters["misses"] += 1
        return None
    problem = None
    try:
        body, checksum = data[:-32], data[-32:]
        if not body.startswith(MAGIC):
            problem = "not a cache entry"
        elif hashlib.blake2b(body, digest_size=32).digest() != checksum:
            problem = "corrupt (checksum mismatch)"
        else:
            start = len(MAGIC) + 8
            size = int.from_bytes(body[len(MAGIC):start], "little")
            header = json.loads(body[start:start + size])
            if header.get("format") != FORMAT_VERSION:
                problem = f"written by another cache format ({header.get('format')})"
            elif header.get("key") != key:
                problem = "written for another key"
            else:
                blobs, offset = {}, start + size
                for name, n in header["blobs"]:
                    blobs[name] = body[offset:offset + n]
                    offset += n
                if offset != len(body):
                    problem = "corrupt (wrong length)"
                else:
                    try:
                        os.utime(path)  # recently used: evicted last
                    except OSError:
                        pass
                    counters["hits"] += 1
                    kind = "hits:" + key.split("-", 1)[0]
                    counters[kind] = counters.get(kind, 0) + 1
                    return header["meta"], blobs
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        problem = f"corrupt ({type(exc).__name__})"
    counters["ignored"] += 1
    counters["misses"] += 1
    note(f"ignored a count-cache entry ({problem}): {path}; it is computed and written again")
    try:
        path.unlink()
    except OSError:
        pass
    return None


def _evict() -> None:
    """Least recently used entries out until the folder is within its bound."""
    limit = max_bytes()
    entries = []
    total = 0
    try:
        for sub in os.scandir(counts_dir()):
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if entry.name.startswith(".tmp-"):
                    if time.time() - st.st_mtime > 3600:  # left by a killed process
                        _unlink(entry.path)
                    continue
                entries.append((st.st_mtime, st.st_size, entry.path))
                total += st.st_size
    except OSError:
        return
    if total <= limit:
        return
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        _unlink(path)
        total -= size


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
