"""Stream records from a dataset file, each with the 1-based line it starts on.

Yields ``Item`` tuples: ``(line, record, error)`` where exactly one of ``record``/``error`` is set.
Malformed records and encoding errors become located error items; nothing here raises for bad data.
Only a missing/unsupported file raises ``DataReadError``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, NamedTuple

SUPPORTED = (".jsonl", ".json", ".txt", ".parquet")


class Item(NamedTuple):
    line: int
    record: object | None
    error: str | None = None


class DataReadError(Exception):
    pass


def read_records(path: str | Path) -> Iterator[Item]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DataReadError(f"{path}: unsupported file type {suffix or '(none)'!r}; use one of {', '.join(SUPPORTED)}")
    if not path.is_file():
        raise DataReadError(f"{path}: file not found")
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".json":
        return _read_json_array(path)
    if suffix == ".txt":
        return _read_txt(path)
    return _read_parquet(path)


def _lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, error) per line; binary read so one bad line doesn't stop the rest."""
    with open(path, "rb") as f:
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
    loads = json.loads
    for n, text, err in _lines(path):
        if err:
            yield Item(n, None, err)
            continue
        if not text.strip():
            continue
        try:
            yield Item(n, loads(text))
        except ValueError as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            col = f", column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            yield Item(n, None, f"invalid JSON: {msg}{col}")


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
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield Item(line, None, f"not valid UTF-8 (byte offset {exc.start})")
        return
    decoder = json.JSONDecoder()
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
    pf = pq.ParquetFile(path)
    row = 0
    for batch in pf.iter_batches(batch_size=1024):
        for rec in batch.to_pylist():
            row += 1
            yield Item(row, rec)  # "line" is the 1-based row number for parquet
