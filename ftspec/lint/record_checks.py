"""What lint looks at in every record beyond its format, inside the one streaming pass over each dataset.

Each observation is a tally (a count and the first few line numbers) or a counter of values on the
dataset's ``DataStats``; the rules in ``ftspec/lint/rules`` only read them. Set up once per spec so the per-record
work is a few dict lookups unless the spec asks for more (answer checks, image files).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftspec.scoring.metrics import json_valid, apply_postprocess, metric_name
from ftspec.data.turn_weights import WEIGHT_KEYS
from ftspec.platforms import get_platform

FIRST_LINES = 5
SCENARIO_KEYS = ("scenario", "category", "label")
MAX_DISTINCT = 50  # distinct system prompts / scenarios kept; the rest count as one "(other)"

IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


@dataclass
class Tally:
    """Records (not messages) with one observation: a record's line is counted once."""
    count: int = 0
    lines: list = field(default_factory=list)
    last: int | None = None

    def add(self, line: int) -> None:
        if line == self.last:
            return
        self.last = line
        self.count += 1
        if len(self.lines) < FIRST_LINES:
            self.lines.append(line)

    @property
    def where(self) -> str:
        return ", ".join(map(str, self.lines))


def _bump(counter: Counter, value: Any) -> None:
    if value in counter or len(counter) < MAX_DISTINCT:
        counter[value] += 1
    else:
        counter["(other)"] += 1


def answer_checks(spec) -> list[tuple[str, Any]]:
    """(name, passes(answer) -> bool) for each check of the spec's own eval that a training answer can fail."""
    checks: list[tuple[str, Any]] = []
    for m in spec.eval.metrics:
        if m == "json_valid":
            checks.append(("json_valid", json_valid))
        elif not isinstance(m, str):
            pattern = re.compile(m.regex)
            checks.append((metric_name(m), lambda a, p=pattern: p.search(a) is not None))
    if spec.eval.postprocess:
        rules = spec.eval.postprocess
        checks.append(("eval.postprocess", lambda a: apply_postprocess(a, rules) == a))
    return checks


def _tool_names(tools: Any) -> set[str] | None:
    if not isinstance(tools, list):
        return None
    names = set()
    for t in tools:
        if isinstance(t, dict):
            fn = t.get("function") if isinstance(t.get("function"), dict) else t
            if isinstance(fn.get("name"), str):
                names.add(fn["name"])
    return names


def _called_names(msg: dict) -> list[str]:
    out = []
    for call in msg.get("tool_calls") or ():
        if isinstance(call, dict):
            fn = call.get("function") if isinstance(call.get("function"), dict) else call
            if isinstance(fn.get("name"), str):
                out.append(fn["name"])
    if msg.get("tool_call") and isinstance(msg.get("content"), str):  # sharegpt function_call: JSON text
        try:
            value = json.loads(msg["content"])
        except ValueError:
            value = None
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict) and isinstance(v.get("name"), str):
                out.append(v["name"])
    return out


def raw_messages(record: dict, fmt: str | None) -> list:
    """The messages exactly as the user wrote them (keys unchanged), for the platform key checks."""
    if fmt == "messages":
        msgs = record.get("messages")
    elif fmt == "preference" and isinstance(record.get("input"), dict):
        msgs = list(record["input"].get("messages") or [])
        for key in ("preferred_output", "non_preferred_output"):
            if isinstance(record.get(key), list):
                msgs += record[key]
    else:
        return []
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


class RecordChecks:
    """Per-record observations for one spec; ``observe`` runs once per valid record."""

    def __init__(self, spec, data_dir_of):
        self.spec = spec
        platform = get_platform(spec.lint.profile)
        # What the profile's platform accepts on a message (ftspec.platforms); None where it checks nothing.
        self.allowed_keys = platform.message_keys if platform else None
        self.allowed_roles = platform.roles if platform else None
        self.expected_roles = platform.expected_roles if platform else ()
        self.key = spec.lint.scenario_key or spec.data.stratify_by
        self.answers = answer_checks(spec)
        self.system_prompt = spec.data.system_prompt
        self._data_dir_of = data_dir_of
        self._image_ok: dict[Path, bool | None] = {}

    def observe(self, stats, line: int, record: dict, canon: dict, fmt: str | None) -> None:
        # The hot loop of lint: plain dict lookups here; method calls only for what a spec or record has.
        key = stats.scenario_key or self.key
        if key:
            v = record.get(key)
            if v is not None and isinstance(v, (str, int)) and not isinstance(v, bool):
                stats.scenario_key = key
                _bump(stats.scenarios, str(v))
            else:
                stats.scenario_missing += 1
        elif len(record) > 1:  # a record of one key ("messages", "conversations") carries no scenario
            self._find_scenario(stats, record)
        msgs = canon.get("messages")
        if isinstance(msgs, list):
            extra = self._chat(stats, line, msgs, canon)
        else:
            extra = True
            prompt = canon.get("prompt") if isinstance(canon.get("prompt"), list) else []
            self._system(stats, prompt)
            chosen = canon.get("chosen") if isinstance(canon.get("chosen"), list) else []
            if self.answers and stats.role == "train":
                self._check_answers(stats, line, [m.get("content") for m in chosen if isinstance(m, dict)])
            images = [p for m in prompt + chosen if isinstance(m, dict) for p in m.get("images") or ()]
            if images:
                self._images(stats, line, images)
        # Messages of only role and content have nothing for the key checks, except under openai (roles).
        if (extra or self.allowed_roles is not None) and (fmt == "messages" or fmt == "preference"):
            self._raw_keys(stats, line, record, fmt)

    def _find_scenario(self, stats, record: dict) -> None:
        for k in SCENARIO_KEYS:
            v = record.get(k)
            if v is not None and isinstance(v, (str, int)) and not isinstance(v, bool):
                stats.scenario_key = k
                _bump(stats.scenarios, str(v))
                return
        stats.scenario_missing += 1

    def _system(self, stats, msgs: list) -> None:
        first = msgs[0] if msgs and isinstance(msgs[0], dict) else {}
        prompt = first.get("content") if first.get("role") == "system" else None
        _bump(stats.system_prompts, prompt if prompt is not None else self.system_prompt)

    def _chat(self, stats, line: int, msgs: list, canon: dict) -> bool:
        """One pass over the messages; returns whether any message has keys beyond role and content."""
        first = msgs[0] if msgs else None
        prompt = first.get("content") if first.__class__ is dict and first.get("role") == "system" else None
        if prompt is None:
            prompt = self.system_prompt
        counter = stats.system_prompts
        if prompt in counter or len(counter) < MAX_DISTINCT:
            counter[prompt] += 1
        else:
            counter["(other)"] += 1
        check = self.answers and stats.role == "train"
        answers, extra, assistants, reasoning, images = [], False, 0, False, None
        for m in msgs:
            if m.__class__ is not dict:
                continue
            more = len(m) > 2
            if more:
                extra = True
                if "images" in m:
                    images = (images or []) + list(m["images"] or ())
            if m.get("role") == "assistant":
                assistants += 1
                if more and m.get("reasoning_content"):
                    reasoning = True
                if check and not (more and (m.get("tool_call") or m.get("tool_calls"))):
                    answers.append(m.get("content"))
        if assistants:
            if reasoning:
                stats.tally("with_reasoning", line)
            else:
                stats.plain_records += 1
                if stats.plain_first is None:
                    stats.plain_first = line
        if check:
            self._check_answers(stats, line, answers)
        if "tools" in canon:
            defined = _tool_names(canon["tools"])
            if defined is not None:
                called = [n for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"
                          for n in _called_names(m)]
                if any(n not in defined for n in called):
                    stats.tally("tool_call_undefined", line)
        if "images" in canon and isinstance(canon["images"], list):  # LLaMA-Factory: "images" beside messages
            images = (images or []) + canon["images"]
        if images:
            self._images(stats, line, images)
        return extra

    def _check_answers(self, stats, line: int, answers: list) -> None:
        stats.answers_checked += 1
        texts = [a for a in answers if isinstance(a, str)]
        for name, passes in self.answers:
            if not all(passes(a) for a in texts):
                stats.tally(f"answer:{name}", line)

    def _images(self, stats, line: int, images: list) -> None:
        stats.tally("image_records", line)
        base = self._data_dir_of(stats)
        for ref in images:
            stats.images += 1
            if not isinstance(ref, str) or not ref:
                stats.tally("image_missing", line)
                continue
            if ref.startswith(("http://", "https://", "data:")):
                stats.tally("image_remote", line)
                continue
            path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
            if path not in self._image_ok:
                self._image_ok[path] = _readable_image(path)
            ok = self._image_ok[path]
            if ok is None:
                stats.tally("image_missing", line)
            elif not ok:
                stats.tally("image_unreadable", line)

    def _raw_keys(self, stats, line: int, record: dict, fmt: str | None) -> None:
        allowed_roles, allowed_keys = self.allowed_roles, self.allowed_keys
        roles = set()
        for m in raw_messages(record, fmt):
            role = m.get("role")
            if allowed_roles is not None:
                roles.add(role)
                if role not in allowed_roles:
                    stats.tally(f"role:{role}", line)
            if len(m) == 2 and "content" in m and "role" in m:
                continue  # the common case: nothing but role and content
            if allowed_keys is not None:
                for k in m:
                    if k not in allowed_keys:
                        stats.tally(f"key:{k}", line)
            for wkey in WEIGHT_KEYS:
                if wkey in m:
                    w = m[wkey]
                    stats.tally(wkey, line)
                    if role != "assistant":
                        stats.tally(f"{wkey}:not_assistant", line)
                    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1:
                        stats.tally(f"{wkey}:out_of_range", line)
                    elif w not in (0, 1):
                        stats.tally(f"{wkey}:fractional", line)
                    if w != 1 and role == "assistant":
                        stats.tally(f"{wkey}:below_one", line)
            if "name" in m:
                stats.tally("name", line)
        for role in self.expected_roles:
            if role not in roles and not (role == "system" and self.system_prompt):
                stats.tally(f"no_{role}", line)


def _readable_image(path: Path) -> bool | None:
    """None when the file is absent, else whether it starts like a PNG, JPEG, GIF, BMP or WebP image."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(m) for m in IMAGE_MAGIC)
