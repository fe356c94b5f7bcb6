"""Lint a loaded spec: one streaming pass per dataset into ``DataStats``, then every rule on the stats."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ftspec.data.formats import canonical_texts, char_token_estimate, detect_format, message_texts, validate_and_convert
from ftspec.data.reader import DataReadError, read_records
from ftspec.core.findings import Finding
from ftspec.spec.load import LoadedSpec
from ftspec.record_checks import RecordChecks, Tally

MAX_PROBLEMS_PER_FILE = 20
CHUNK = 1024
_DISABLE = re.compile(r"#\s*ftspec:\s*disable=([A-Za-z0-9_, ]+)")


@dataclass
class DataStats:
    role: str  # train, validation, holdout, mix
    spec_value: str
    path: Path
    at: tuple  # where the path is in the spec
    exists: bool = True
    read_error: str | None = None
    fmt: str | None = None
    items: int = 0
    records: int = 0  # records without format errors
    problems: list = field(default_factory=list)  # (line, message, field), capped
    problem_count: int = 0
    labels: list = field(default_factory=list)  # lines with KTO labels
    reasoning: list = field(default_factory=list)
    tool_issues: list = field(default_factory=list)
    tokens: int = 0
    max_tokens: int = 0
    over_length: int = 0
    over_lines: list = field(default_factory=list)
    duplicates: int = 0
    dup_lines: list = field(default_factory=list)
    hashes: set = field(default_factory=set)
    leaks: int = 0
    leak_lines: list = field(default_factory=list)
    file_bytes: int | None = None
    over_platform: int = 0  # samples over the profile's per-example token limit
    # Filled by record_checks.RecordChecks, read by the rules:
    tallies: dict = field(default_factory=dict)  # name -> Tally (count, first lines)
    scenario_key: str | None = None
    scenarios: Counter = field(default_factory=Counter)
    scenario_missing: int = 0
    system_prompts: Counter = field(default_factory=Counter)
    answers_checked: int = 0
    images: int = 0
    plain_records: int = 0  # chat records whose assistant turns have no reasoning
    plain_first: int | None = None

    @property
    def display(self) -> str:
        return str(self.path)

    def tally(self, name: str, line: int) -> None:
        t = self.tallies.get(name)
        if t is None:
            t = self.tallies[name] = Tally()
        t.add(line)

    def tallied(self, name: str) -> "Tally":
        return self.tallies.get(name) or Tally()


class TokenCounter:
    """Token counts per sample: exact with the model's tokenizer (the pipeline's own count, through the chat template
    the trainer renders with, tools and DPO's rejected side included), else a character estimate, labelled so."""

    def __init__(self, spec, spec_dir: Path, loaded: LoadedSpec | None = None):
        # Loading the tokenizer costs ~70 ms (a real 151k vocabulary, ~1 s): do it only when some data is actually
        # counted, so a spec-only lint (pre-commit on a spec edit) stays instant.
        self._spec, self._spec_dir, self._loaded_spec = spec, spec_dir, loaded
        self._loaded = False
        self._tok = None  # the model's own tokenizer
        self._train_tok = None  # what the trainer renders with (template swap), or None when that fails
        self.template_error = None  # the pipeline's TemplateError, reported by FT313
        self.overhead = 4
        self._calibrated_counter = None  # lint_count.CalibratedCounter, made on first use
        self.model_error: str | None = None  # why the model's files are unusable (rule FT004)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        spec = self._spec
        try:
            from ftspec.models.check import load_problem, model_problem
            from ftspec.models.resolve import resolve_model
            from ftspec.tokenizer.chat import ChatTokenizer

            try:
                ref = resolve_model(spec.model.base, spec.model.revision, spec_dir=self._spec_dir)
            except ValueError as exc:
                self.model_error = str(exc)
                return
            try:
                tok = ChatTokenizer.from_model(ref)
            except Exception as exc:  # a corrupt tokenizer.json or template file: reported, not raised
                self.model_error = load_problem(exc)
                return
            self.model_error = model_problem(ref, tok)
            if self.model_error:
                return
            self._tok = tok
        except Exception:
            self._tok = None
        if self._tok is None:
            return
        from ftspec.data.pipeline import PipelineError, read_chat_template, training_tokenizer

        try:
            user = read_chat_template(self._loaded_spec) if self._loaded_spec is not None else None
            self._train_tok = training_tokenizer(self._tok, spec.method, spec.data.assistant_only_loss, user)
        except PipelineError as exc:
            self.template_error = exc

    @property
    def tok(self):
        self._load()
        return self._tok

    def check_model(self) -> str | None:
        """Why the spec's model folder cannot be used, or None. The builtin is known good and skipped, so a
        lint of the quickstart does not pay for loading its tokenizer when it counts no data."""
        if self._spec.model.base.startswith("builtin:") and not self._loaded:
            return None
        self._load()
        return self.model_error

    @property
    def exact(self) -> bool:
        self._load()
        return self._train_tok is not None

    def _calibrated(self):
        from ftspec.lint_count import CalibratedCounter

        if self._calibrated_counter is None:
            limit = PLATFORM_TOKEN_LIMIT.get(self._spec.lint.profile)
            L = self._spec.data.max_length
            self._calibrated_counter = CalibratedCounter(self._train_tok, [L] + ([limit] if limit else []), L)
        return self._calibrated_counter

    @property
    def mode(self) -> str:
        if self.exact:
            c = self._calibrated_counter
            if c is not None and c.counted:
                return (f"model tokenizer and the trainer's chat template: exact for the {c.rendered:,} samples near a "
                        f"limit or calibrating a shape, the other {c.counted:,} from their contents plus the template's "
                        "measured overhead")
            return "exact (model tokenizer and the chat template the trainer uses)"
        why = "no tokenizer on this machine" if self.tok is None else "the chat template cannot render them"
        return f"estimated (~4 chars/token, ~3 for CJK; {why})"

    def count(self, records: list[dict], method: str) -> list[int]:
        """Tokens of each canonical record as the trainer tokenizes it (DPO: prompt + the longer answer). A
        sample far over max_length is counted from a bounded prefix (a lower bound, still over max_length), so
        one 50 MB record costs no more than a long one."""
        if self.exact:
            from ftspec.data.pipeline import PipelineError, tokenize

            def exact(batch: list[dict]) -> list[int]:
                return tokenize(batch, method, self._train_tok, assistant_only_loss=False,
                                max_length=self._spec.data.max_length, bounded=True).lengths

            try:
                if method == "cpt":  # plain text: no template to render, the exact count is cheap
                    return exact(records)
                return self._calibrated().count(records, method, exact)
            except (PipelineError, ValueError, TypeError, LookupError) as exc:  # a template that cannot render them
                self.template_error = self.template_error or exc
                self._train_tok = None
        out = []
        for record in records:
            texts = message_texts(record)
            if method == "dpo" and isinstance(record.get("rejected"), list):
                texts = texts + [str(m.get("content") or "") for m in record["rejected"] if isinstance(m, dict)]
            out.append(char_token_estimate("".join(texts)) + (self.overhead * len(texts) if len(texts) > 1 else 0))
        return out


@dataclass
class LintContext:
    loaded: LoadedSpec
    counter: TokenCounter
    train: DataStats | None = None
    validation: DataStats | None = None
    holdout: DataStats | None = None
    mix: list = field(default_factory=list)

    @property
    def spec(self):
        return self.loaded.spec

    def locate(self, *path, key: bool = False) -> tuple:
        loc = self.loaded.locate(*path, key=key)
        return (loc.file, loc.line, loc.column)

    def datasets(self) -> list[DataStats]:
        return [d for d in (self.train, self.validation, self.holdout, *self.mix) if d is not None]

    def prepared(self):
        """The data pipeline's result (what the plan counts), when the model's tokenizer renders the data; else None.
        Computed once, on first use."""
        if not hasattr(self, "_prepared"):
            self._prepared = None
            if self.counter.exact and self.train is not None and not self.train.read_error and not self.train.problems:
                from ftspec.data.pipeline import PipelineError, prepare

                try:
                    self._prepared = prepare(self.loaded, self.counter.tok)
                except (PipelineError, ValueError, OSError):
                    self._prepared = None
        return self._prepared

    def effective_train_count(self) -> int:
        """Training samples after the validation split and over-length drops."""
        t = self.train
        if t is None:
            return 0
        n = t.records
        if self.spec.over_length == "drop" and self.spec.method != "cpt":
            n -= t.over_length
        v = self.spec.data.validation
        if isinstance(v, float):
            n -= int(round(n * v))
        return max(n, 0)


# Per-example token limits of the platforms (GUIDE-RULES: OpenAI 16,385 tokens; Bailian max_length up to 8,192).
PLATFORM_TOKEN_LIMIT = {"openai": 16_385, "bailian": 8_192}


def scan(stats: DataStats, spec, counter: TokenCounter, forced_fmt: str, train_hashes: set | None,
         checks: RecordChecks | None = None) -> DataStats:
    method = spec.method if stats.role != "holdout" else ("dpo" if spec.method == "dpo" else "sft")
    if stats.role == "holdout" and spec.method == "cpt":
        method = "cpt"
    max_len = spec.data.max_length
    platform_limit = PLATFORM_TOKEN_LIMIT.get(spec.lint.profile, 0) or None
    keep_hashes = stats.role == "train"
    try:
        stats.file_bytes = stats.path.stat().st_size
    except OSError:
        pass
    try:
        items = read_records(stats.path)
    except DataReadError as exc:
        try:
            stats.exists = stats.path.exists()
        except (OSError, ValueError):
            stats.exists = False
        stats.read_error = str(exc)
        return stats
    fmt = None if forced_fmt == "auto" else forced_fmt
    pending_records: list[dict] = []
    pending_lines: list[int] = []

    def flush():
        if not pending_records:
            return
        for line, n in zip(pending_lines, counter.count(pending_records, method)):
            stats.tokens += n
            if n > stats.max_tokens:
                stats.max_tokens = n
            if n > max_len:
                stats.over_length += 1
                if len(stats.over_lines) < 5:
                    stats.over_lines.append(line)
            if platform_limit and n > platform_limit:
                stats.over_platform += 1
        pending_records.clear()
        pending_lines.clear()

    try:
        for line, record, error in items:
            stats.items += 1
            if error is not None:
                _problem(stats, line, error, "")
                continue
            rfmt = fmt or detect_format(record)
            if fmt is None and rfmt is not None and forced_fmt == "auto" and stats.fmt is None:
                stats.fmt = rfmt
            problems, canon = validate_and_convert(record, rfmt, method)
            bad = False
            for msg, fld in problems:
                if fld == "label":
                    stats.labels.append(line)
                    bad = True
                elif fld.endswith(".reasoning"):
                    if not stats.reasoning or stats.reasoning[-1] != line:
                        stats.reasoning.append(line)
                elif fld == "tools":
                    if not stats.tool_issues or stats.tool_issues[-1] != line:
                        stats.tool_issues.append(line)
                else:
                    bad = True
                    _problem(stats, line, msg, fld)
            if bad:
                continue
            stats.records += 1
            if checks is not None:
                checks.observe(stats, line, record, canon, rfmt)
            h = hash(canonical_texts(canon))
            if train_hashes is not None and h in train_hashes:
                stats.leaks += 1
                if len(stats.leak_lines) < 5:
                    stats.leak_lines.append(line)
            if keep_hashes:
                if h in stats.hashes:
                    stats.duplicates += 1
                    if len(stats.dup_lines) < 5:
                        stats.dup_lines.append(line)
                else:
                    stats.hashes.add(h)
            pending_records.append(canon)
            pending_lines.append(line)
            if len(pending_records) >= CHUNK:
                flush()
        flush()
    except DataReadError as exc:
        stats.read_error = str(exc)
    if forced_fmt != "auto":
        stats.fmt = forced_fmt
    return stats


def _problem(stats: DataStats, line: int, message: str, fld: str) -> None:
    stats.problem_count += 1
    if len(stats.problems) < MAX_PROBLEMS_PER_FILE:
        stats.problems.append((line, message, fld))


class NoTokenCounter(TokenCounter):
    """For `plan`, which tokenizes every sample exactly itself: lint skips its own count."""

    def count(self, records: list[dict], method: str) -> list[int]:
        return [0] * len(records)


# Rules that need token counts or the pipeline's rows; `plan` replaces them with its exact counts.
TOKEN_RULES = ("FT104", "FT105", "FT110", "FT302")


def collect(loaded: LoadedSpec, *, count_tokens: bool = True) -> LintContext:
    spec = loaded.spec
    ctx = LintContext(loaded, (TokenCounter if count_tokens else NoTokenCounter)(spec, loaded.dir, loaded))
    d = spec.data

    def mk(role, value, at):
        return DataStats(role, value, loaded.resolve(value), at)

    checks = RecordChecks(spec, lambda stats: stats.path.parent)
    ctx.train = scan(mk("train", d.train, ("data", "train")), spec, ctx.counter, d.format, None, checks)
    th = ctx.train.hashes
    if isinstance(d.validation, str):
        ctx.validation = scan(mk("validation", d.validation, ("data", "validation")), spec, ctx.counter, d.format, th,
                              checks)
    if spec.eval.holdout:
        ctx.holdout = scan(mk("holdout", spec.eval.holdout, ("eval", "holdout")), spec, ctx.counter, "auto", th,
                           checks)
    for i, m in enumerate(d.mix):
        ctx.mix.append(scan(mk("mix", m.path, ("data", "mix", i, "path")), spec, ctx.counter, m.format, None, checks))
    return ctx


def _inline_disabled(path: str, cache: dict) -> dict[int, set[str]]:
    if path not in cache:
        table: dict[int, set[str]] = {}
        try:
            with open(path, encoding="utf-8") as f:
                for n, text in enumerate(f, 1):
                    if "ftspec:" in text:
                        m = _DISABLE.search(text)
                        if m:
                            table[n] = {c.strip().upper() for c in m.group(1).split(",") if c.strip()}
        except OSError:
            pass
        cache[path] = table
    return cache[path]


def run_lint(loaded: LoadedSpec, *, select: list[str] | None = None, disable=(), count_tokens: bool = True,
             ) -> list[Finding]:
    from ftspec.rules import all_rules

    off = {c.upper() for c in disable} | {c.upper() for c in loaded.spec.lint.disable}
    if not count_tokens:
        off |= set(TOKEN_RULES)
    sel = {c.upper() for c in select} if select else None
    profile = loaded.spec.lint.profile
    rules = [r for r in all_rules() if r.code not in off and (not r.only or profile in r.only)
             and (sel is None or r.code in sel or any(r.code.startswith(s) for s in sel))]
    ctx = collect(loaded, count_tokens=count_tokens)
    spec_files = {str(loaded.path)} | {loc.file for loc in loaded.source.values.values()}
    cache: dict = {}
    out: list[Finding] = []
    for rule in rules:
        for f in rule.check(ctx, rule):
            if f.line and f.path in spec_files and f.code in _inline_disabled(f.path, cache).get(f.line, ()):
                continue
            out.append(f)
    out.sort(key=Finding.sort_key)
    return out
