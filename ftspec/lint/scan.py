"""Lint's one streaming pass over each dataset of a spec, into ``DataStats`` (rules then read only the stats)."""

from __future__ import annotations

from ftspec.data.formats import detect_format
from ftspec.data.texts import canonical_texts
from ftspec.data.reader import DataReadError, read_records
from ftspec.lint.context import DataStats, LintContext
from ftspec.lint.counting import NoTokenCounter, TokenCounter, platform_token_limit
from ftspec.lint.record_checks import RecordChecks
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
