"""Read a spec file into a validated ``Spec``, turning every problem into a located error."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ftspec.core.findings import Finding
from ftspec.spec.source import Location, SourceError, SourceMap, load_yaml_file
from ftspec.spec.schema import Spec

MAX_EXTENDS_DEPTH = 8


@dataclass
class LoadedSpec:
    spec: Spec
    path: Path
    source: SourceMap
    raw: dict

    @property
    def dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path from the spec, resolved against the spec file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.dir / p)

    def locate(self, *path: str | int, key: bool = False) -> Location:
        return self.source.locate(tuple(path), key=key)


class SpecErrors(Exception):
    """One or more located problems that stop a spec from loading."""

    def __init__(self, errors: list[SourceError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def _deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_with_extends(path: Path, seen: tuple[Path, ...]) -> tuple[dict, SourceMap]:
    raw, source = load_yaml_file(path)
    if raw is None:
        raise SourceError("the spec is empty", Location(str(path), 1, 1), "run 'ftspec init' for a starter spec")
    if not isinstance(raw, dict):
        raise SourceError("a spec must be a mapping of sections", source.locate(()))
    parent = raw.get("extends")
    if parent is None:
        return raw, source
    if not isinstance(parent, str):
        raise SourceError("'extends' must be a path to another spec", source.locate(("extends",)))
    problem = path_problem(parent)
    if problem:
        raise SourceError(f"extends: {problem}", source.locate(("extends",)))
    try:
        parent_path = (path.parent / Path(parent).expanduser()).resolve()
        found = parent_path.exists()  # a FIFO too: reading it then says it is not a regular file
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name too long, ...
        raise SourceError(f"extends: cannot use {parent}: {getattr(exc, 'strerror', None) or exc}",
                          source.locate(("extends",))) from None
    if parent_path in seen or len(seen) >= MAX_EXTENDS_DEPTH:
        raise SourceError(f"'extends' forms a cycle or is nested too deep at {parent}", source.locate(("extends",)))
    if not found:
        raise SourceError(f"extended spec not found: {parent}", source.locate(("extends",)))
    base_raw, base_source = _read_with_extends(parent_path, seen + (parent_path,))
    # Relative paths in the parent stay relative to the parent: rewrite them before merging.
    base_raw = _rebase_paths(base_raw, parent_path.parent, path.parent)
    merged_source = SourceMap(source.file)
    merged_source.merge(base_source)
    merged_source.merge(source)
    merged = _deep_merge(base_raw, {k: v for k, v in raw.items() if k != "extends"})
    return merged, merged_source


def _rebase_paths(raw: dict, from_dir: Path, to_dir: Path) -> dict:
    import os

    def rebase(p: Any) -> Any:
        if not isinstance(p, str) or Path(p).is_absolute() or p.startswith("builtin:"):
            return p
        candidate = from_dir / p
        try:
            return os.path.relpath(candidate, to_dir) if candidate.exists() else p
        except (OSError, ValueError):
            return p  # load_spec reports what is wrong with it

    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    data = out.get("data")
    if isinstance(data, dict):
        for key in ("train", "validation"):
            if isinstance(data.get(key), str):
                data[key] = rebase(data[key])
        if isinstance(data.get("mix"), list):
            data["mix"] = [{**m, "path": rebase(m.get("path"))} if isinstance(m, dict) else m for m in data["mix"]]
    if isinstance(out.get("eval"), dict) and isinstance(out["eval"].get("holdout"), str):
        out["eval"]["holdout"] = rebase(out["eval"]["holdout"])
    if isinstance(out.get("model"), dict) and isinstance(out["model"].get("base"), str):
        base = out["model"]["base"]
        if base.startswith((".", "/")):
            out["model"]["base"] = rebase(base)
    return out


def _model_at(path: tuple, model: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model class that owns the mapping at ``path`` (for did-you-mean)."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _first_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _tagged_owner(loc: tuple) -> type[BaseModel] | None:
    """The union member a tagged union chose (the tag just before the unknown key), for did-you-mean."""
    if len(loc) >= 2 and isinstance(loc[-2], str) and _is_branch_tag(loc[-2]):
        from ftspec.spec import rewards

        found = getattr(rewards, loc[-2], None)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return None


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _describe(err: dict) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return f"expected {err['ctx']['expected']}, got {err['input']!r}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in err and kind not in ("model_type",) and not isinstance(err["input"], (dict, list)):
        return f"{msg}, got {err['input']!r}"
    return msg


def _real_path(loc: tuple, raw: Any) -> tuple:
    """Drop pydantic's union-branch tags from an error location, keeping real keys and indexes."""
    out: list = []
    current = raw
    for part in loc:
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            out.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            out.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and not _is_branch_tag(part):
            out.append(part)  # a missing or unknown key
            current = None
    return tuple(out)


def _is_branch_tag(part: str) -> bool:
    return "[" in part or "-" in part or part[:1].isupper() or part in ("str", "float", "int", "list", "dict", "none")


def _located(exc: ValidationError, source: SourceMap, raw: dict) -> list[SourceError]:
    by_path: dict[tuple, list[dict]] = {}
    for err in exc.errors():
        by_path.setdefault(_real_path(err["loc"], raw), []).append(err)
    out: list[SourceError] = []
    for loc, errs in by_path.items():
        kind = errs[0]["type"]
        hint = None
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        if kind == "extra_forbidden":
            owner = _tagged_owner(errs[0]["loc"]) or _model_at(loc[:-1], Spec)
            if owner is not None:
                match = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1, cutoff=0.6)
                hint = f"did you mean '{match[0]}'?" if match else "expected one of: " + ", ".join(owner.model_fields)
            location = source.locate(loc, key=True)
            message = "unknown key"
        elif kind == "missing":
            location = source.locate(loc[:-1])
            message = "required key is missing"
        else:
            location = source.locate(loc)
            # A union reports one error per branch: say them all as alternatives.
            message = "; or ".join(dict.fromkeys(_describe(e) for e in errs))
        out.append(SourceError(f"{dotted}: {message}", location, hint))
    out.sort(key=lambda e: (e.location.line, e.location.column) if e.location else (0, 0))
    return out


# A path component longer than this is refused by every common file system (ENAMETOOLONG).
MAX_NAME_BYTES = 255


def path_problem(text: str) -> str | None:
    """What makes ``text`` unusable as a path on this machine, before any file system call trips on it."""
    import os

    if "\x00" in text:
        return "a path cannot contain a NUL character"
    for part in text.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            return f"a path component is longer than {MAX_NAME_BYTES} bytes: {part[:40]}..."
    if text.startswith("~"):
        try:
            expanded = os.path.expanduser(text)
        except (RuntimeError, KeyError):
            expanded = text
        if expanded.startswith("~"):
            user = text[1:].split("/", 1)[0]
            return f"'~{user}' is not a user on this machine (no home folder to expand it to)"
    return None


def _path_fields(spec: Spec) -> list[tuple[tuple, str]]:
    d = spec.data
    fields: list[tuple[tuple, str]] = [(("data", "train"), d.train), (("output", "dir"), spec.output.dir)]
    if isinstance(d.validation, str):
        fields.append((("data", "validation"), d.validation))
    fields += [(("data", "mix", i, "path"), m.path) for i, m in enumerate(d.mix)]
    if spec.eval.holdout:
        fields.append((("eval", "holdout"), spec.eval.holdout))
    fields.append((("model", "base"), spec.model.base))
    return fields


def _path_errors(spec: Spec, source: SourceMap) -> list[SourceError]:
    out = []
    for at, text in _path_fields(spec):
        problem = path_problem(text)
        if problem:
            out.append(SourceError(f"{'.'.join(map(str, at))}: {problem}", source.locate(at)))
    return out


def load_spec(path: str | Path) -> LoadedSpec:
    """Load and validate one spec; raises ``SpecErrors`` with located problems."""
    path = Path(path)
    try:
        try:
            resolved = path.resolve()
            start = resolved if resolved.exists() else path
        except (OSError, RuntimeError, ValueError) as exc:
            raise SourceError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                              Location(str(path), 1, 1)) from None
        raw, source = _read_with_extends(start, (resolved,))
    except SourceError as exc:
        raise SpecErrors([exc]) from None
    source.file = str(path)
    for loc_table in (source.values, source.keys):
        for k, v in list(loc_table.items()):
            if v.file == str(path.resolve()):
                loc_table[k] = Location(str(path), v.line, v.column)
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecErrors(_located(exc, source, raw)) from None
    errors = _path_errors(spec, source)
    if errors:
        raise SpecErrors(errors)
    return LoadedSpec(spec=spec, path=path, source=source, raw=raw)


def findings_of(exc: SpecErrors) -> list[Finding]:
    """A spec's load errors as FT000 findings."""
    out = []
    for err in exc.errors:
        loc = err.location
        out.append(Finding(code="FT000", severity="error", message=err.message, path=loc.file if loc else "?",
                           line=loc.line if loc else None, column=loc.column if loc else None, hint=err.hint))
    return out


def load_specs(paths) -> tuple[list[LoadedSpec], list[Finding]]:
    """Load each spec; those that fail become FT000 findings instead."""
    loaded, findings = [], []
    for spec in paths:
        try:
            present = Path(spec).exists()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte
            findings.append(Finding("FT000", "error", f"cannot use this path: {getattr(exc, 'strerror', None) or exc}",
                                    spec.replace("\x00", "\\0")))
            continue
        if not present:
            findings.append(Finding("FT000", "error", "spec file not found", spec))
            continue
        try:
            loaded.append(load_spec(spec))
        except SpecErrors as exc:
            findings.extend(findings_of(exc))
    return loaded, findings
