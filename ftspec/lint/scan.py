"""Lint's one streaming pass over each dataset of a spec, into ``DataStats`` (rules then read only the stats)."""

from __future__ import annotations

from ftspec.data.formats import detect_format
from ftspec.data.texts import canonical_texts
from ftspec.data.reader import DataReadError, read_records
from ftspec.lint.context import DataStats, LintContext
from ftspec.lint.counting import NoTokenCounter, TokenCounter, platform_token_limit
from ftspec.lint.record_checks import RecordChecks
from ftspec.lint import scan_cache
from ftspec.pipeline import cache
from ftspec.methods import get_method
from ftspec.tokenizer.chat import RenderError
from ftspec.spec.load import LoadedSpec

MAX_PROBLEMS_PER_FILE = 20
CHUNK = 1024


def scan(stats: DataStats, spec, counter: TokenCounter, forced_fmt: str, train_hashes: set | None,
         checks: RecordChecks | None = None) -> DataStats:
    method = get_method(spec.method)  # the holdout too: lint checks it is data this method can read
    max_len = method.length_limit(spec)
    platform_limit = platform_token_limit(spec)
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
        while True:
            try:
                counts = counter.count(pending_records, method)
                break
            except RenderError as exc:  # the chat template refuses this record: note it, count the others
                stats.render_error_count += 1
                if len(stats.render_errors) < MAX_PROBLEMS_PER_FILE:
                    stats.render_errors.append((pending_lines[exc.index], exc.message))
                del pending_records[exc.index], pending_lines[exc.index]
        for index, code, message in counter.text_problems(pending_records, method):
            stats.text_problems[code] = stats.text_problems.get(code, 0) + 1
            if len(stats.text_problem_lines) < MAX_PROBLEMS_PER_FILE:
                stats.text_problem_lines.append((pending_lines[index], code, message))
        for line, n in zip(pending_lines, counts):
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
            problems, canon = method.convert(record, rfmt)
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
            stats.observe_columns(line, canon)
            if checks is not None:
                checks.observe(stats, line, record, canon, rfmt)
            h = scan_cache.stable_hash(canonical_texts(canon))
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


def collect(loaded: LoadedSpec, *, count_tokens: bool = True) -> LintContext:
    spec = loaded.spec
    ctx = LintContext(loaded, (TokenCounter if count_tokens else NoTokenCounter)(spec, loaded.dir, loaded))
    d = spec.data

    def mk(role, value, at):
        return DataStats(role, value, loaded.resolve(value), at)

    checks = RecordChecks(spec, lambda stats: stats.path.parent)
    cached = _Cached(loaded, ctx.counter, count_tokens)

    def run(stats, fmt, train_hashes):
        return cached.scan(stats, fmt, train_hashes, lambda: scan(stats, spec, ctx.counter, fmt, train_hashes, checks))

    ctx.train = run(mk("train", d.train, ("data", "train")), d.format, None)
    th = ctx.train.hashes
    if isinstance(d.validation, str):
        ctx.validation = run(mk("validation", d.validation, ("data", "validation")), d.format, th)
    if spec.eval.holdout:
        ctx.holdout = run(mk("holdout", spec.eval.holdout, ("eval", "holdout")), "auto", th)
    for i, m in enumerate(d.mix):
        ctx.mix.append(run(mk("mix", m.path, ("data", "mix", i, "path")), m.format, None))
    cache.save_memo()
    return ctx


# The spec's sections a scan reads (the record checks, the counter, the length limits): a change elsewhere (training,
# compute, adapter...) leaves every dataset's statistics as they were.
SCANNED_SECTIONS = ("method", "model", "data", "eval", "lint", "grpo")


class _Cached:
    """Each dataset's statistics from the count cache when its key matches (``scan_cache``), else scanned and stored.
    The key chains the datasets scanned before it: the token counter carries calibrations from file to file."""

    def __init__(self, loaded: LoadedSpec, counter: TokenCounter, count_tokens: bool):
        self.loaded, self.counter, self.count_tokens = loaded, counter, count_tokens
        self.chain: list | None = [] if cache.enabled() else None
        self._base: dict | None = None

    def base(self) -> dict:
        if self._base is None:
            dumped = self.loaded.spec.model_dump(mode="json")
            self._base = {"spec": {k: dumped.get(k) for k in SCANNED_SECTIONS}, "count_tokens": self.count_tokens,
                          "counter": self.counter.identity() if self.count_tokens else None}
        return self._base

    def scan(self, stats: DataStats, fmt: str, train_hashes, run) -> DataStats:
        if self.chain is None:
            return run()
        digest = cache.digest_or_none(stats.path)
        if digest is None:  # nothing read (a missing file): the counter learnt nothing either
            self.chain.append(["absent", str(stats.path)])
            return run()
        try:
            key = scan_cache.key_for(self.base(), stats, fmt, self.chain, digest)
        except Exception:  # noqa: BLE001 - a counter that cannot say what it counts with: no cache
            self.chain = None
            return run()
        hit = scan_cache.load(key, stats)
        if hit is not None:
            stats, state = hit
            if state is not None:
                self.counter.restore(state)
            self.chain.append(key)
            return stats
        error_before = getattr(self.counter, "template_error", None)
        stats = run()
        if stats.images or getattr(self.counter, "template_error", None) is not error_before:
            self.chain = None  # what it saw beside the data (image files), or a template that failed: not stored
            return stats
        try:
            scan_cache.store(key, stats, self.counter.state() if self.count_tokens else None)
        except TypeError:  # a value the cache cannot hold: scanned every time
            self.chain = None
            return stats
        self.chain.append(key)
        return stats
