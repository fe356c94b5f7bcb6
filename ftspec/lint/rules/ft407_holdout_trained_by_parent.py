from ftspec.lint.rules.base import Rule, doc


def _keyed(path, method):
    """(line, hash of the canonical prompt and answer) of every record of ``path`` the method can read, as FT402
    compares train and holdout."""
    from ftspec.data.formats import detect_format
    from ftspec.data.reader import DataReadError, read_records
    from ftspec.data.texts import canonical_texts

    try:
        for line, record, error in read_records(path):
            if error is None:
                _problems, canon = method.convert(record, detect_format(record))
                if canon:
                    yield line, hash(canonical_texts(canon))
    except (DataReadError, OSError):
        return


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
    parent_method = get_method(str(parent.plan.get("method", ctx.spec.method)))
    trained = {h for rows in parent.trained_rows() for _line, h in _keyed(rows, parent_method)}
    leaked = [line for line, h in _keyed(holdout.path, get_method(ctx.spec.method)) if h in trained]
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
