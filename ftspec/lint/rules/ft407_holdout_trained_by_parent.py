from ftspec.lint.rules.base import Rule, doc


def _hashes(path, method) -> set:
    from ftspec.data.formats import detect_format
    from ftspec.data.reader import DataReadError, read_records
    from ftspec.data.texts import canonical_texts

    out = set()
    try:
        for _line, record, error in read_records(path):
            if error is None:
                _problems, canon = method.convert(record, detect_format(record))
                if canon:
                    out.add(hash(canonical_texts(canon)))
    except (DataReadError, OSError):
        pass
    return out


def check(ctx, rule):
    from ftspec.lint.rules.ft015_parent_run import parent_of
    from ftspec.methods import get_method

    holdout = ctx.holdout
    if holdout is None or not holdout.path.is_file():
        return
    try:
        parent = parent_of(ctx)
    except ValueError:
        return
    if parent is None:
        return
    trained = set()
    for rows in parent.trained_rows():
        trained |= _hashes(rows, get_method(str(parent.plan.get("method", ctx.spec.method))))
    from ftspec.data.formats import detect_format
    from ftspec.data.reader import read_records
    from ftspec.data.texts import canonical_texts

    method, leaked = get_method(ctx.spec.method), []
    for line, record, error in read_records(holdout.path):
        if error is None:
            _problems, canon = method.convert(record, detect_format(record))
            if canon and hash(canonical_texts(canon)) in trained:
                leaked.append(line)
    if leaked:
        yield rule.finding(ctx, f"{len(leaked)} samples of holdout {holdout.spec_value} were trained on by "
                           f"{parent.run_id} (the run this one continues), e.g. line(s) "
                           f"{', '.join(map(str, leaked[:5]))}: V2's scores would be inflated", at=holdout.at,
                           hint="hold out samples no earlier version trained on")


RULE = Rule("FT407", "holdout-trained-by-parent", "error", "Holdout samples an earlier version trained on.",
            doc("For incremental training: compares the holdout with the rows the parent run trained and validated on "
                "(its run folder's data/), by canonical prompt and answer.",
                "A V2 holdout drawn from production data can contain what V1 already learned; its scores then "
                "measure memory, and the V1 -> V2 comparison is leaked.",
                "V1 trained on data/v1.jsonl; V2's holdout is a sample of data/v1.jsonl + new data",
                "004 primer (held-out test sets), 003 (incremental versions)"), "004", check)
