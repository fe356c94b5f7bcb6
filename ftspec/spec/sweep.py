"""A spec's ``sweep:`` expanded into its members, each a spec of its own, and ``--set`` overrides applied to a spec.

Every member is checked here, before anything is planned: a key that is no spec key, or names a whole section, and a
value the schema refuses at its key are located errors at that key or value inside ``sweep:`` (or at the ``--set``
that gave it). A member's SourceMap places the swept key at its value inside ``sweep:``, so lint findings about it
point at the value that caused them; every other key stays where it is in the user's file.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ftspec.core.hashing import json_sha256
from ftspec.spec.load import LoadedSpec, SpecErrors, path_problem
from ftspec.spec.schema import Spec
from ftspec.spec.source import Location, SourceError, SourceMap, parse_yaml

# More members than this is a typo or a grid that was meant as one_at_a_time: each member is a whole training run.
MAX_MEMBERS = 64
# Keys a member cannot change, with why (the sweep's own settings, and what names where its runs go).
FIXED_KEYS = {
    "sweep": "a sweep cannot sweep its own settings",
    "name": "every member keeps the spec's name: its runs go to <output.dir>/<name>/<run-id>/",
    "extends": "sweep the settings the extended spec brings instead",
    "version": "it is the spec format's version",
}
# The spec's path settings, refused when unusable as load_spec refuses them (data.mix paths are in a list: unsweepable).
PATH_KEYS = ("data.train", "data.validation", "output.dir", "eval.holdout", "model.base")
SET_ORIGIN = "--set"  # the Location file of a value given on the command line


class SetError(ValueError):
    """A ``--set`` the spec cannot take; the message names it."""


@dataclass(frozen=True)
class Member:
    """One member of a sweep: the values it sets (dotted key -> value), its own spec, and which member it is."""

    id: str  # the sweep's id: equal for every member
    index: int  # 0-based, as the Slurm array task id
    of: int
    values: dict[str, Any]
    loaded: LoadedSpec

    @property
    def label(self) -> str:
        return label(self.values)


def show(value: Any) -> str:
    """A value as the user would write it after ``--set KEY=``."""
    if isinstance(value, str) and value and "," not in value and value.strip() == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def label(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={show(v)}" for k, v in values.items()) or "(the spec's own settings)"


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The section class a field holds (through Optional and Annotated), None for a value or a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _section_of(arg)
            if found is not None:
                return found
    return None


def _leaf_keys(model: type[BaseModel] = Spec, prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        section = _section_of(field.annotation)
        out += _leaf_keys(section, f"{prefix}{name}.") if section else [prefix + name]
    return out


def _did_you_mean(key: str) -> str | None:
    leaves = [k for k in _leaf_keys() if k.split(".")[0] not in FIXED_KEYS]
    tail = [k for k in leaves if k.endswith("." + key.split(".")[-1])]
    match = tail if len(tail) == 1 else difflib.get_close_matches(key, leaves, n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


def key_problem(key: str) -> tuple[str, str | None] | None:
    """Why ``key`` cannot be swept or set (message, hint), None when it names one setting of the spec."""
    parts = key.split(".")
    if not key or any(not p.strip() for p in parts):
        return f"{key!r} is not a dotted spec key", "e.g. training.learning_rate"
    if parts[0] in FIXED_KEYS:
        return f"{key} cannot vary: {FIXED_KEYS[parts[0]]}", None
    model: type[BaseModel] = Spec
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth])
        field = model.model_fields.get(part)
        if field is None:
            return f"{key}: not a spec key", _did_you_mean(key) or ("keys of " + (where or "the spec") + ": "
                                                                   + ", ".join(model.model_fields))
        section = _section_of(field.annotation)
        if depth == len(parts) - 1:
            if section is not None:
                return (f"{key} is a whole section: sweep its keys one by one",
                        "e.g. " + ", ".join(f"{key}.{k}" for k in list(section.model_fields)[:3]))
            return None
        if section is None:
            here = ".".join(parts[:depth + 1])
            if typing.get_origin(field.annotation) is list:
                return f"{key}: a sweep key cannot reach into a list", f"sweep the whole list {here} instead"
            return f"{key}: {here} is a value, not a section", None
        model = section
    return None


def set_at(raw: dict, path: tuple[str, ...], value: Any) -> None:
    """``raw`` with ``value`` at ``path``, making the sections on the way (a section left at null included)."""
    for part in path[:-1]:
        if not isinstance(raw.get(part), dict):
            raw[part] = {}
        raw = raw[part]
    raw[path[-1]] = copy.deepcopy(value)


def _describe(err: dict) -> str:
    if err["type"] == "literal_error":
        return f"expected {err['ctx']['expected']}, got {err['input']!r}"
    msg = err["msg"].removeprefix("Value error, ")
    if "input" in err and not isinstance(err["input"], (dict, list)):
        msg += f", got {err['input']!r}"
    return msg


def _is_key(part: str) -> bool:
    """A spec key of an error's location, not one of pydantic's union-branch tags (str, list[str], MlflowTracker)."""
    return part.isidentifier() and part not in ("str", "float", "int", "bool", "list", "dict", "none") \
        and not part[0].isupper()


def _messages(exc: ValidationError, key: str | None = None) -> str:
    """The schema's messages, those at ``key`` plainly and any other (a combination the spec refuses) with its key."""
    out = []
    for err in exc.errors():
        at = ".".join(str(p) for p in err["loc"] if isinstance(p, int) or _is_key(p))
        mine = key is not None and (at == key or at.startswith(key + "."))
        out.append(_describe(err) if mine or not at else f"{at}: {_describe(err)}")
    return "; or ".join(dict.fromkeys(out))


def value_problem(raw: dict, key: str, value: Any) -> str | None:
    """Why the schema refuses ``value`` at ``key`` of the spec ``raw`` (in its own words), None when it takes it."""
    if key in PATH_KEYS and isinstance(value, str) and path_problem(value):
        return path_problem(value)
    trial = copy.deepcopy(raw)
    trial.pop("sweep", None)
    set_at(trial, tuple(key.split(".")), value)
    try:
        Spec.model_validate(trial)
    except ValidationError as exc:
        return _messages(exc, key)
    return None


def _without(table: dict, prefix: tuple) -> dict:
    return {p: loc for p, loc in table.items() if p[:len(prefix)] != prefix}


def _member(loaded: LoadedSpec, picks: list[tuple[str, int, Any]]) -> tuple[dict, SourceMap]:
    """The member's raw spec and SourceMap: each (key, index in its sweep list, value) set, ``sweep`` gone."""
    raw = copy.deepcopy(loaded.raw)
    raw.pop("sweep", None)
    src = loaded.source
    values, keys = _without(src.values, ("sweep",)), _without(src.keys, ("sweep",))
    for key, j, value in picks:
        path = tuple(key.split("."))
        set_at(raw, path, value)
        values, keys = _without(values, path), _without(keys, path)
        values[path] = src.locate(("sweep", "parameters", key, j))
        keys[path] = src.locate(("sweep", "parameters", key), key=True)
    return raw, SourceMap(src.file, values, keys)


def sweep_id(loaded: LoadedSpec) -> str:
    """A short digest of the resolved spec without its sweep, and of the sweep: equal for every member."""
    spec = loaded.spec.model_dump(mode="json")
    sweep = spec.pop("sweep")
    return json_sha256({"spec": spec, "sweep": sweep})[:12]


def _combinations(parameters: dict[str, list], mode: str) -> list[list[tuple[str, int, Any]]]:
    picks = {key: [(key, j, v) for j, v in enumerate(values)] for key, values in parameters.items()}
    if mode == "grid":
        return [list(combo) for combo in itertools.product(*picks.values())]
    return [[pick] for key in picks for pick in picks[key]]


def sweep_members(loaded: LoadedSpec) -> list[Member]:
    """The members of ``loaded``'s sweep (none without one); SpecErrors with every located problem."""
    sweep = loaded.spec.sweep
    if sweep is None:
        return []
    params = sweep.parameters
    errors = []
    for key in params:
        problem = key_problem(key)
        if problem:
            errors.append(SourceError(f"sweep: {problem[0]}", loaded.locate("sweep", "parameters", key, key=True),
                                      problem[1]))
    if errors:
        raise SpecErrors(errors)
    count = math.prod(map(len, params.values())) if sweep.mode == "grid" else sum(map(len, params.values()))
    if count > MAX_MEMBERS:
        raise SpecErrors([SourceError(
            f"sweep: {count} members ({sweep.mode}), more than {MAX_MEMBERS}: each member is a whole training run",
            loaded.locate("sweep", "parameters", key=True), "fewer values, or mode: one_at_a_time instead of grid")])
    for key, values in params.items():
        for j, value in enumerate(values):
            problem = value_problem(loaded.raw, key, value)
            if problem:
                errors.append(SourceError(f"sweep: {key}: {problem}", loaded.locate("sweep", "parameters", key, j),
                                          "each value must be one the schema accepts at its key"))
    if errors:
        raise SpecErrors(errors)
    found: dict[str, tuple[dict, LoadedSpec]] = {}
    for picks in _combinations(params, sweep.mode):
        values = {key: value for key, _, value in picks}
        raw, source = _member(loaded, picks)
        try:
            spec = Spec.model_validate(raw)
        except ValidationError as exc:  # values valid alone, refused together (a grid's combination)
            key, j, _ = picks[-1]
            errors.append(SourceError(f"sweep member {label(values)}: {_messages(exc)}",
                                      loaded.locate("sweep", "parameters", key, j)))
            continue
        # Two members that resolve to one spec (a value equal to another, or 1e-3 and 0.001) are one run.
        found.setdefault(json_sha256(spec.model_dump(mode="json")),
                         (values, LoadedSpec(spec=spec, path=loaded.path, source=source, raw=raw)))
    if errors:
        raise SpecErrors(errors)
    sid = sweep_id(loaded)
    return [Member(sid, i, len(found), values, member) for i, (values, member) in enumerate(found.values())]


def parse_set(text: str) -> tuple[str, list]:
    """``KEY=V1,V2,...`` as (key, values), each value a YAML scalar (or flow list/mapping)."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    usage = "expected KEY=VALUE or KEY=V1,V2,... (e.g. training.learning_rate=1e-4,3e-4)"
    if not sep or not key or not rest.strip():
        raise SetError(f"{text!r}: {usage}")
    try:
        values, _ = parse_yaml(f"[{rest}]", SET_ORIGIN)
    except SourceError as exc:
        raise SetError(f"{text!r}: the values are not YAML ({exc.message}); {usage}") from None
    if not isinstance(values, list) or not values:
        raise SetError(f"{text!r}: {usage}")
    return key, values


def _sweep_of(raw: dict) -> dict:
    if not isinstance(raw.get("sweep"), dict):
        raw["sweep"] = {}
    return raw["sweep"]


def with_sets(loaded: LoadedSpec, sets: tuple[str, ...] | list[str]) -> LoadedSpec:
    """``loaded`` with each ``--set`` applied: one value overrides the spec (and pins that key if the spec swept it),
    several make it a sweep parameter (added, or replacing the spec's own values for it); ``sweep.mode=grid`` sets the
    sweep's mode. SetError, naming the --set, for anything the spec cannot take."""
    if not sets:
        return loaded
    raw = copy.deepcopy(loaded.raw)
    values_at, keys_at = dict(loaded.source.values), dict(loaded.source.keys)
    for n, text in enumerate(sets, 1):
        key, values = parse_set(text)
        if key == "sweep.mode":
            if len(values) != 1:
                raise SetError(f"{text!r}: the sweep has one mode, one_at_a_time or grid")
            _sweep_of(raw)["mode"] = values[0]
            values_at[("sweep", "mode")] = Location(SET_ORIGIN, n, 1)
            continue
        problem = key_problem(key)
        if problem:
            raise SetError(f"{text!r}: {problem[0]}" + (f" ({problem[1]})" if problem[1] else ""))
        for value in values:
            why = value_problem(raw, key, value)
            if why:
                raise SetError(f"{key}={show(value)}: {why}")
        path = tuple(key.split("."))
        if len(values) == 1:
            set_at(raw, path, values[0])
            values_at, keys_at = _without(values_at, path), _without(keys_at, path)
            values_at[path] = Location(SET_ORIGIN, n, 1)
            params = (raw.get("sweep") or {}).get("parameters")
            if isinstance(params, dict) and key in params:
                del params[key]
                if not params:
                    del raw["sweep"]
            continue
        sweep = _sweep_of(raw)
        sweep["parameters"] = {**(sweep.get("parameters") or {}), key: values}
        at = ("sweep", "parameters", key)
        values_at, keys_at = _without(values_at, at), _without(keys_at, at)
        keys_at[at] = Location(SET_ORIGIN, n, 1)
        values_at.update({at + (j,): Location(SET_ORIGIN, n, j + 1) for j in range(len(values))})
    if isinstance(raw.get("sweep"), dict) and not raw["sweep"].get("parameters"):
        raise SetError("--set sweep.mode needs sweep parameters: a sweep: section in the spec, or a "
                       "--set KEY=V1,V2,...")
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SetError(f"{', '.join(sets)}: {_messages(exc)}") from None
    return LoadedSpec(spec=spec, path=loaded.path, source=SourceMap(loaded.source.file, values_at, keys_at), raw=raw)
