"""One streaming pass over a data file: read, convert, system prompt, tool-argument mode, render and encode in chunks,
keeping only each sample's compact facts (line, stratum, whether the trainer could learn from it, its token counts,
its training-text problems, the error it raised). The records themselves are dropped chunk by chunk, so memory does
not grow with the file; a sample's facts do not depend on where it ends up, so the split, the mix draw, the shuffle
and the drops are index arithmetic on them (``ftspec.pipeline.prepare``), and the facts are what the count cache
(``ftspec.pipeline.cache``) stores per file.

``canonical_records`` is the one place a raw record becomes the record the trainer reads: the facts pass and the
records ``apply`` writes both come from it, so what plan counts and what apply writes cannot diverge.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ftspec.data.errors import PipelineError
from ftspec.data.formats import detect_format
from ftspec.data.reader import DataReadError, read_records
from ftspec.data.tokens import Tokenized
from ftspec.data.tool_calls import with_text_arguments
from ftspec.pipeline import cache
from ftspec.tokenizer.chat import RenderError

CHUNK = 1024  # records rendered and encoded per batch
TEMPLATE_RAISES_RULE = "FT314"  # ftspec/lint/rules/ft314_template_raises.py reports the same in lint
RENDER, OTHER = 0, 1  # error priorities: the template's refusals are found before the per-sample checks (SFT)


def with_system_prompt(record: dict, system_prompt: str | None) -> dict:
    if not system_prompt:
        return record
    for key in ("messages", "prompt"):
        msgs = record.get(key)
        if isinstance(msgs, list) and not (msgs and msgs[0].get("role") == "system"):
            return {**record, key: [{"role": "system", "content": system_prompt}, *msgs]}
    return record


def canonical_records(path: Path, fmt: str, method, spec_path: tuple, *, keep: str | None = None,
                      system_prompt: str | None = None, text_arguments: bool = False,
                      ) -> Iterator[tuple[int, dict, Any]]:
    """(line, record as the trainer reads it, the ``keep`` column's value) of every record of a data file, in order.
    The first broken record is a located PipelineError, raised once the whole file has been read (a read error
    anywhere wins, as when the file was read whole first); an empty file is one too."""
    try:
        items = read_records(path)
        detected = None if fmt == "auto" else fmt
        first_error: PipelineError | None = None
        n = 0
        for item in items:
            if first_error is not None:
                continue  # read on: a read error later in the file is the one reported
            if item.error:
                first_error = PipelineError(item.error, spec_path, str(path), item.line)
                continue
            rfmt = detected or detect_format(item.record)
            problems, canon = method.convert(item.record, rfmt)
            hard = [p for p in problems if not p[1].endswith(".reasoning")]
            if hard:
                first_error = PipelineError(f"{hard[0][0]} (run 'ftspec lint' for every problem)", spec_path,
                                            str(path), item.line)
                continue
            detected = detected or rfmt
            value = None
            if keep:  # the stratum travels no further than the split: the trainer's rows never see it
                value = item.record.get(keep) if isinstance(item.record, dict) else None
                canon.pop(keep, None)
            canon = with_system_prompt(canon, system_prompt)
            if text_arguments:
                canon = with_text_arguments(canon)
            n += 1
            yield item.line, canon, value
    except DataReadError as exc:
        raise PipelineError(str(exc), spec_path) from None
    if first_error is not None:
        raise first_error
    if not n:
        raise PipelineError(f"{path}: no records", spec_path, str(path))


@dataclass
class Tokenizing:
    """How a file's samples are counted: with the trainer's tokenizer (``tok``), or estimated without one."""

    method: Any
    tok: Any = None  # the training ChatTokenizer; None: estimates (no tokenizer here)
    kwargs: dict = field(default_factory=dict)  # assistant_only_loss, max_length, bounded
    checks: Callable | None = None  # () -> TextChecks, made on first use
    overhead: tuple | None = None  # estimates: the template overhead measured for the model
    key: dict | None = None  # the cache key's tokenizer part; None: not cached


@dataclass
class FileFacts:
    """Per-sample facts of one data file, index i = the file's i-th record."""

    path: str
    n: int = 0
    lines: array = field(default_factory=lambda: array("i"))
    strata: array | None = None  # index into stratum_values
    stratum_values: list = field(default_factory=list)
    untrainable: bytearray = field(default_factory=bytearray)  # 1: method.untrainable(record)
    tokens: dict = field(default_factory=dict)  # the method's token_fields name -> array (first_loss -1: None)
    upper: array | None = None  # estimates (no tokenizer): the upper bound of each sample's tokens
    estimate: array | None = None
    errors: dict = field(default_factory=dict)  # index -> (priority, kind, payload)
    problems: dict = field(default_factory=dict)  # index -> [(code, message index)]
    messages: list = field(default_factory=list)  # the problems' distinct messages
    cached: bool = False

    def tokenized(self, indices) -> Tokenized:
        """The Tokenized of these samples, in this order (lists, as the methods count them)."""
        t = Tokenized()
        tk = self.tokens
        if "lengths" in tk:
            t.lengths = [tk["lengths"][i] for i in indices]
        if "first_loss" in tk:
            fl = tk["first_loss"]
            t.first_loss = [None if fl[i] < 0 else fl[i] for i in indices]
        if "loss_tokens" in tk:
            t.loss_tokens = [tk["loss_tokens"][i] for i in indices]
        if "prompt_lengths" in tk:
            t.prompt_lengths = [tk["prompt_lengths"][i] for i in indices]
        if "pair_chosen" in tk:
            c, r = tk["pair_chosen"], tk["pair_rejected"]
            t.pair_lengths = [(c[i], r[i]) for i in indices]
        return t

    # --- the cache's form ---------------------------------------------------------------------------------

    def to_entry(self) -> tuple[dict, dict[str, bytes]]:
        blobs = {"lines": self.lines.tobytes(), "untrainable": bytes(self.untrainable)}
        if self.strata is not None:
            blobs["strata"] = self.strata.tobytes()
        for name, values in self.tokens.items():
            blobs[f"t:{name}"] = values.tobytes()
        if self.upper is not None:
            blobs["upper"], blobs["estimate"] = self.upper.tobytes(), self.estimate.tobytes()
        meta = {"n": self.n, "stratum_values": self.stratum_values, "messages": self.messages,
                "errors": [[i, *e] for i, e in self.errors.items()],
                "problems": [[i, p] for i, p in self.problems.items()], "itemsize": array("i").itemsize}
        return meta, blobs

    @classmethod
    def from_entry(cls, path: str, meta: dict, blobs: dict[str, bytes]) -> "FileFacts":
        if meta.get("itemsize") != array("i").itemsize:
            raise ValueError("written on a machine with another int size")

        def arr(data: bytes) -> array:
            a = array("i")
            a.frombytes(data)
            if len(a) != meta["n"]:
                raise ValueError("wrong length")
            return a

        f = cls(path, meta["n"], arr(blobs["lines"]))
        f.untrainable = bytearray(blobs["untrainable"])
        if "strata" in blobs:
            f.strata = arr(blobs["strata"])
        f.stratum_values = meta["stratum_values"]
        for name, data in blobs.items():
            if name.startswith("t:"):
                f.tokens[name[2:]] = arr(data)
        if "upper" in blobs:
            f.upper, f.estimate = arr(blobs["upper"]), arr(blobs["estimate"])
        f.errors = {i: (p, kind, payload) for i, p, kind, payload in meta["errors"]}
        f.problems = {i: [tuple(x) for x in p] for i, p in meta["problems"]}
        f.messages = meta["messages"]
        f.cached = True
        return f


# --- errors, as the pipeline raised them on the whole list -----------------------------------------------------

_SAMPLE_1 = re.compile(r"training sample 1\b")


def _exception_payload(exc: Exception) -> list | None:
    """A per-sample exception (tokenized alone, so it names "training sample 1") in a form that can be raised again
    for the sample's place in the final list, and cached; None for one that cannot be stored."""
    from ftspec.data.chat_template import TemplateError

    if type(exc) is TemplateError:
        return ["TemplateError", exc.message, list(exc.spec_path), exc.hint, exc.severity]
    if type(exc) is PipelineError:
        return ["PipelineError", exc.message, list(exc.spec_path), exc.file, exc.line, exc.code, exc.hint]
    return None


def raise_sample_error(error: tuple, position: int, path: str, line: int, spec_path: tuple, live: dict) -> None:
    """Raise the error a sample had, as tokenizing the final list would have: ``position`` its index there."""
    from ftspec.data.chat_template import TemplateError

    _, kind, payload = error
    if kind == "render":
        raise PipelineError(f"the chat template raised on this record: {payload}", spec_path, path, line,
                            code=TEMPLATE_RAISES_RULE, hint="fix or remove the record, or use a data.chat_template "
                            "that renders it")
    if kind == "live":  # an exception that is not stored: the object itself (not from the cache)
        raise live[payload]
    name, message = payload[0], _SAMPLE_1.sub(f"training sample {position + 1}", payload[1], count=1)
    if name == "TemplateError":
        raise TemplateError(message, tuple(payload[2]), hint=payload[3], severity=payload[4])
    raise PipelineError(message, tuple(payload[2]), payload[3], payload[4], code=payload[5], hint=payload[6])


# --- the pass -----------------------------------------------------------------------------------------------------


class _Pass:
    def __init__(self, facts: FileFacts, how: Tokenizing, with_checks: bool):
        self.facts, self.how, self.with_checks = facts, how, with_checks
        self.method = how.method
        self.live: dict = {}
        self._checks = None
        self._message_index: dict[str, int] = {}
        for name in self._fields():
            facts.tokens[name] = array("i")
        if how.tok is None:
            facts.upper, facts.estimate = array("i"), array("i")

    def _fields(self) -> tuple:
        return () if self.how.tok is None else self.method.token_fields

    def checks(self):
        if not self.with_checks or self.how.checks is None:
            return None
        if self._checks is None:
            self._checks = self.how.checks()
        return self._checks

    def add(self, records: list[dict], start: int) -> None:
        """Facts of ``records``, the file's samples from ``start`` on (their lines and flags already noted)."""
        f = self.facts
        trainable = [i for i in range(len(records)) if not f.untrainable[start + i]]
        if self.how.tok is None:
            self._estimate(records, start)
            return
        fields = self._fields()
        values = {name: [0] * len(records) for name in fields}
        self._tokenize([records[i] for i in trainable], [start + i for i in trainable], values, trainable)
        for name in fields:
            f.tokens[name].extend(values[name])

    def _estimate(self, records: list[dict], start: int) -> None:
        from ftspec.pipeline.untokenized import estimated_tokens, upper_bound_tokens

        for r in records:
            self.facts.upper.append(upper_bound_tokens(r))
            self.facts.estimate.append(estimated_tokens(r, self.how.overhead))

    def _tokenize(self, records: list[dict], indices: list[int], values: dict, slots: list[int]) -> None:
        if not records:
            return
        try:
            t = self.method.tokenize(records, self.how.tok, checks=self.checks(), **self.how.kwargs)
        except Exception:  # noqa: BLE001 - a sample's error: each sample alone says which, and what
            for r, index, slot in zip(records, indices, slots):
                try:
                    t = self.method.tokenize([r], self.how.tok, checks=self.checks(), **self.how.kwargs)
                except RenderError as exc:
                    self.facts.errors[index] = (RENDER, "render", exc.message)
                except Exception as exc:  # noqa: BLE001
                    payload = _exception_payload(exc)
                    if payload is None:
                        self.live[index] = exc
                        self.facts.errors[index] = (OTHER, "live", index)
                    else:
                        self.facts.errors[index] = (OTHER, "exc", payload)
                else:
                    self._store(t, [index], values, [slot])
            return
        self._store(t, indices, values, slots)

    def _store(self, t: Tokenized, indices: list[int], values: dict, slots: list[int]) -> None:
        for name in values:
            if name == "pair_chosen":
                column = [c for c, _ in t.pair_lengths]
            elif name == "pair_rejected":
                column = [r for _, r in t.pair_lengths]
            elif name == "first_loss":
                column = [-1 if x is None else x for x in t.first_loss]
            else:
                column = getattr(t, name)
            target = values[name]
            for slot, v in zip(slots, column):
                target[slot] = v
        for i, code, message in t.problems:
            m = self._message_index.get(message)
            if m is None:
                m = self._message_index[message] = len(self.facts.messages)
                self.facts.messages.append(message)
            self.facts.problems.setdefault(indices[i], []).append((code, m))


def file_facts(path: Path, fmt: str, spec_path: tuple, how: Tokenizing, *, keep: str | None = None,
               system_prompt: str | None = None, text_arguments: bool = False, with_checks: bool = False,
               use_cache: bool = True) -> tuple[FileFacts, dict]:
    """(facts of every record of the file, live exceptions by sample index). Load errors raise, located."""
    method = how.method
    key = None
    if use_cache and how.key is not None and cache.enabled():
        digest = cache.digest_or_none(path)
        if digest is not None:
            key = cache.make_key("facts", {
                "data": digest, "fmt": fmt, "method": method.name, "keep": keep, "system_prompt": system_prompt,
                "text_arguments": text_arguments, "checks": with_checks, "tokenizing": how.key})
            hit = cache.read(key)
            if hit is not None:
                try:
                    return FileFacts.from_entry(str(path), *hit), {}
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    cache.note(f"ignored a count-cache entry for {path} ({exc}); it is computed and written again")
    facts = FileFacts(str(path))
    run = _Pass(facts, how, with_checks)
    strata: dict[str, int] = {}
    if keep:
        facts.strata = array("i")
    chunk: list[dict] = []
    start = 0
    for line, canon, value in canonical_records(path, fmt, method, spec_path, keep=keep,
                                                system_prompt=system_prompt, text_arguments=text_arguments):
        facts.lines.append(line)
        if keep:
            s = str(value)
            if s not in strata:
                strata[s] = len(facts.stratum_values)
                facts.stratum_values.append(s)
            facts.strata.append(strata[s])
        facts.untrainable.append(1 if method.untrainable(canon) else 0)
        chunk.append(canon)
        if len(chunk) >= CHUNK:
            run.add(chunk, start)
            start += len(chunk)
            chunk = []
    if chunk:
        run.add(chunk, start)
    facts.n = len(facts.lines)
    if key is not None and not run.live:
        meta, blobs = facts.to_entry()
        cache.write(key, meta, blobs)
    return facts, run.live
