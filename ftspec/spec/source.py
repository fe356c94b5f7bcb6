"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives us nodes with marks; we build plain Python values from them ourselves so that
(1) every mapping key and value keeps its file:line:column, (2) duplicate keys, unknown tags and alias
bombs are located errors instead of silent overwrites, code execution or hangs, and (3) plain scalars
follow the YAML 1.2 core schema (``1e-4`` is a float, ``on`` is a string), which is what users expect
from JSON-Schema-checked configs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

JsonPath = tuple  # tuple[str | int, ...]

# A spec is a few hundred nodes; anything far larger is an alias bomb or not a spec.
MAX_NODES = 100_000
MAX_BYTES = 2_000_000
# Aliases repeat a string without repeating its bytes: cap the text the document expands to, too.
MAX_EXPANDED_CHARS = 4 * MAX_BYTES
# Python refuses int() of longer digit strings (sys.int_info.default_max_str_digits); no setting needs them.
MAX_INT_DIGITS = 100

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_STD = "tag:yaml.org,2002:"
# timestamp: PyYAML's 1.1 resolver tags plain dates with it; we read them back as strings.
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SourceError(Exception):
    """A problem in a source file, with its location."""

    def __init__(self, message: str, location: Location | None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{tail}"


@dataclass
class SourceMap:
    """Where each JSON path of a loaded document sits in its file."""

    file: str
    values: dict[JsonPath, Location] = field(default_factory=dict)
    keys: dict[JsonPath, Location] = field(default_factory=dict)

    def locate(self, path: JsonPath, *, key: bool = False) -> Location:
        """The location of ``path``, or of its nearest ancestor that exists."""
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                return table[path]
            if not path:
                return Location(self.file, 1, 1)
            path = path[:-1]

    def merge(self, other: "SourceMap") -> None:
        self.values.update(other.values)
        self.keys.update(other.keys)


def _loc(file: str, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self.chars = 0
        self.map = SourceMap(file)
        self.scalar_loader = yaml.SafeLoader("")

    def build(self, node: Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SourceError(
                f"document expands to more than {MAX_NODES} nodes (YAML alias bomb?)", _loc(self.file, node)
            )
        self.map.values[path] = _loc(self.file, node)
        if node.tag not in _ALLOWED_TAGS:
            raise SourceError(
                f"tag {node.tag!r} is not allowed",
                _loc(self.file, node),
                "only plain YAML values (strings, numbers, booleans, null, lists, mappings) are accepted",
            )
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        self.chars += len(node.value)
        if _SURROGATE.search(node.value):
            raise SourceError("text holds a UTF-16 surrogate escape (\\ud800-\\udfff), which is no character",
                              _loc(self.file, node), "write the character itself (UTF-8) instead of its escapes")
        if self.chars > MAX_EXPANDED_CHARS:
            raise SourceError(f"document expands to more than {MAX_EXPANDED_CHARS} characters of text "
                              "(YAML alias bomb?)", _loc(self.file, node))
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                raise SourceError("YAML merge keys ('<<') are not supported", _loc(self.file, key_node),
                                  "use 'extends:' to share settings between specs")
            if not isinstance(key_node, ScalarNode):
                raise SourceError("mapping keys must be plain strings", _loc(self.file, key_node))
            key = key_node.value
            if key in out:
                first = self.map.keys[path + (key,)]
                raise SourceError(
                    f"duplicate key {key!r}", _loc(self.file, key_node), f"first defined at line {first.line}"
                )
            self.map.keys[path + (key,)] = _loc(self.file, key_node)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: ScalarNode) -> Any:
        text = node.value
        if node.style:  # quoted or block scalar (plain is None in PyYAML's parser, "" in libyaml's)
            if node.tag == _STD + "str":
                return text
            return self._explicit(node)
        # plain scalar: YAML 1.2 core schema
        if _NULL.match(text):
            return None
        if _BOOL.match(text):
            return text.lower() == "true"
        if _INT.match(text):
            self._check_digits(node)
            return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
        if _FLOAT.match(text):
            low = text.lower()
            if low.endswith("inf"):
                return float("-inf") if low.startswith("-") else float("inf")
            if low.endswith("nan"):
                return float("nan")
            return float(text)
        return text

    def _check_digits(self, node: ScalarNode) -> None:
        if len(node.value) > MAX_INT_DIGITS:
            raise SourceError(f"integer with {len(node.value)} digits is too long (at most {MAX_INT_DIGITS})",
                              _loc(self.file, node))

    def _explicit(self, node: ScalarNode) -> Any:
        """A quoted scalar with an explicit tag (``!!int "8"``): PyYAML's constructor, its errors located."""
        kind = node.tag[len(_STD):]
        if kind == "int":
            self._check_digits(node)
        try:
            return self.scalar_loader.construct_object(node)
        except Exception:  # PyYAML's constructors raise ValueError, KeyError, IndexError... on bad text
            raise SourceError(f"{node.value!r} is not a valid !!{kind} value", _loc(self.file, node),
                              f"write the value without the !!{kind} tag, or fix it") from None


def _check_expansion(root: Node, file: str) -> None:
    """Refuse an alias bomb before building anything: an alias is the same node object again, so the size
    the document expands to is a sum over its distinct nodes, memoized (time linear in the file)."""
    memo: dict[int, tuple[int, int]] = {}

    def size(node: Node) -> tuple[int, int]:
        key = id(node)
        if key not in memo:
            memo[key] = (1, 0)  # a cycle (a recursive alias) counts once here; the builder refuses it
            if isinstance(node, ScalarNode):
                memo[key] = (1, len(node.value))
            else:
                children = [c for pair in node.value for c in pair] if isinstance(node, MappingNode) else node.value
                n, chars = 1, 0
                for child in children:
                    cn, cc = size(child)
                    n, chars = n + cn, chars + cc
                memo[key] = (n, chars)
        return memo[key]

    n, chars = size(root)
    if n > MAX_NODES:
        raise SourceError(f"document expands to more than {MAX_NODES} nodes (YAML alias bomb?)", _loc(file, root))
    if chars > MAX_EXPANDED_CHARS:
        raise SourceError(f"document expands to more than {MAX_EXPANDED_CHARS} characters of text (YAML alias bomb?)",
                          _loc(file, root))


def parse_yaml(text: str, file: str = "<string>") -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values plus a map of their locations."""
    if len(text) > MAX_BYTES:
        raise SourceError(f"file is larger than {MAX_BYTES} bytes; a spec should be small", Location(file, 1, 1))
    try:
        # libyaml's parser when present: PyYAML's own scans a 1 MB scalar for seconds.
        nodes = list(yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        raise SourceError(f"invalid YAML: {exc.problem or exc.context}", loc) from None
    except yaml.YAMLError as exc:  # e.g. reader errors on control characters
        raise SourceError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None
    except RecursionError:
        raise SourceError("invalid YAML: nesting is too deep", Location(file, 1, 1)) from None
    if len(nodes) > 1:
        raise SourceError("a spec file holds one YAML document, found several", _loc(file, nodes[1]))
    builder = _Builder(file)
    if not nodes or nodes[0] is None:
        return None, builder.map
    try:
        _check_expansion(nodes[0], file)
        value = builder.build(nodes[0], ())
    except RecursionError:
        raise SourceError("invalid YAML: nesting is too deep", Location(file, 1, 1)) from None
    return value, builder.map


def read_bounded(path: Path, limit: int, what: str = "a spec") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; never opens a FIFO or device (which could block
    forever) and never reads more than ``limit + 1`` bytes, whatever the file claims its size is."""
    import os
    import stat

    file = str(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, socket or device?)"
            raise SourceError(f"cannot read {what}: {file} is {kind}", Location(file, 1, 1))
        if st.st_size > limit:
            raise SourceError(f"file is larger than {limit} bytes; {what} should be small", Location(file, 1, 1))
        # O_NONBLOCK: a file swapped for a FIFO after the stat still cannot block the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(limit + 1)
    except SourceError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SourceError(f"cannot read {file}: {reason}", Location(file, 1, 1)) from None
    if len(raw) > limit:  # the file grew, or /proc-like files report size 0
        raise SourceError(f"file is larger than {limit} bytes; {what} should be small", Location(file, 1, 1))
    return raw


def load_yaml_file(path: Path) -> tuple[Any, SourceMap]:
    file = str(path)
    raw = read_bounded(path, MAX_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError("file is not valid UTF-8", Location(file, line, 1)) from None
    return parse_yaml(text, file)
