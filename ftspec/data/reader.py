"""Stream records from a dataset file, each with the 1-based line it starts on.

Yields ``Item`` tuples: ``(line, record, error)`` where exactly one of ``record``/``error`` is set.
Malformed records and encoding errors become located error items; nothing here raises for bad data.
A missing, unsupported or unreadable file raises ``DataReadError`` (also mid-stream, on an I/O error);
nothing else escapes, whatever the bytes are. Only regular files are opened, so a FIFO or device named
as a dataset cannot block a command.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Iterator, NamedTuple

SUPPORTED = (".jsonl", ".json", ".txt", ".parquet")


class Item(NamedTuple):
    line: int
    record: object | None
    error: str | None = None


class DataReadError(Exception):
    pass


def regular_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file (missing, a folder, a FIFO, a loop...), without opening it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "file not found"
    except (OSError, ValueError) as exc:
        return f"cannot read it: {getattr(exc, 'strerror', None) or exc}"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device); ftspec reads only regular files"
    if not os.access(path, os.R_OK):
        return "cannot read it: permission denied"
    return None


def read_records(path: str | Path) -> Iterator[Item]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DataReadError(f"{path}: unsupported file type {suffix or '(none)'!r}; use one of {', '.join(SUPPORTED)}")
    problem = regular_file_problem(path)
    if problem:
        raise DataReadError(f"{path}: {problem}")
    if suffix == ".jsonl":
        return _guarded(path, _read_jsonl(path))
    if suffix == ".json":
        return _guarded(path, _read_json_array(path))
    if suffix == ".txt":
        return _guarded(path, _read_txt(path))
    return _guarded(path, _read_parquet(path))


def _guarded(path: Path, items: Iterator[Item]) -> Iterator[Item]:
    """I/O errors while reading (EIO, a permission change, a file cut short under us) as DataReadError."""
    try:
        yield from items
    except DataReadError:
        raise
    except (OSError, MemoryError) as exc:
        raise DataReadError(f"{path}: reading failed: {getattr(exc, 'strerror', None) or exc or type(exc).__name__}"
                            ) from None


def _open(path: Path):
    # O_NONBLOCK: a file swapped for a FIFO after the check still cannot block the open.
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"duplicate key {key!r} in an object (JSON keeps only the last one)")
            seen.add(key)
    return out


# A JSON \uXXXX escape of a UTF-16 surrogate: the only way a lone surrogate gets into a record.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def parse_json_record(text: str, decoder: json.JSONDecoder | None = None, start: int = 0):
    """(value, end, error): one JSON value as the readers accept it: no duplicate keys, no lone surrogates,
    nesting within Python's recursion limit."""
    try:
        if decoder is None:
            value, end = _DECODER.decode(text), len(text)
        else:
            value, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        return None, start, f"invalid JSON: {exc.msg}, column {exc.colno}"
    except _DuplicateKey as exc:
        return None, start, str(exc)
    except RecursionError:
        return None, start, "invalid JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        return None, start, f"invalid JSON: {exc}"
    if _SURROGATE_ESCAPE.search(text, start, end) and _lone_surrogate(value):
        return None, start, "a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is no character"
    return value, end, None


def _lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, error) per line; binary read so one bad line doesn't stop the rest."""
    with _open(path) as f:
        for n, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, f"not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})"
                continue
            if n == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield n, text, None


def _read_jsonl(path: Path) -> Iterator[Item]:
    for n, text, err in _lines(path):
        if err:
            yield Item(n, None, err)
            continue
        if not text.strip():
            continue
        value, _, error = parse_json_record(text)
        yield Item(n, None, error) if error else Item(n, value)


def _read_txt(path: Path) -> Iterator[Item]:
    for n, text, err in _lines(path):
        if err:
            yield Item(n, None, err)
            continue
        text = text.rstrip("\r\n")
        if text.strip():
            yield Item(n, {"text": text})


_WS = " \t\r\n"


def _read_json_array(path: Path) -> Iterator[Item]:
    """A JSON array file: decode element by element, tracking the line each one starts on."""
    with _open(path) as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield Item(line, None, f"not valid UTF-8 (byte offset {exc.start})")
        return
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    n = len(text)
    i = 0
    line = 1

    def skip(i: int) -> int:
        while i < n and text[i] in _WS:
            i += 1
        return i

    i = skip(0)
    if i >= n or text[i] != "[":
        line += text.count("\n", 0, i)
        yield Item(line, None, "a .json dataset must be a JSON array of records (use .jsonl for one record per line)")
        return
    pos = 0
    i = skip(i + 1)
    if i < n and text[i] == "]":
        return
    while i < n:
        line += text.count("\n", pos, i)
        pos = i
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            yield Item(exc.lineno, None, f"invalid JSON: {exc.msg}, column {exc.colno}")
            return
        except (ValueError, RecursionError):  # a duplicate key, too deep: the one message parse_json_record gives
            _, _, error = parse_json_record(text, decoder, i)
            yield Item(line, None, error or "invalid JSON")
            return
        if _SURROGATE_ESCAPE.search(text, i, end) and _lone_surrogate(obj):
            yield Item(line, None, "a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is no character")
        else:
            yield Item(line, obj)
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
        elif i < n and text[i] == "]":
            rest = skip(i + 1)
            if rest < n:
                yield Item(line + text.count("\n", pos, rest), None, "extra data after the JSON array")
            return
        else:
            yield Item(line + text.count("\n", pos, i), None, "invalid JSON: expected ',' or ']' after a record")
            return
    yield Item(line, None, "invalid JSON: the array is not closed")


def _read_parquet(path: Path) -> Iterator[Item]:
    try:
        import pyarrow.parquet as pq  # optional
    except ImportError:
        raise DataReadError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow), or convert it to .jsonl") from None
    import pyarrow as pa

    row = 0
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=1024):
            for rec in batch.to_pylist():
                row += 1
                yield Item(row, rec)  # "line" is the 1-based row number for parquet
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        where = f" after row {row}" if row else ""
        raise DataReadError(f"{path}: not a readable parquet file{where} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
