from ftspec.lint.rules.base import Rule, doc
from ftspec.data.turn_weights import WEIGHT_KEYS


def _estimated_cause(ctx) -> str:
    """Why no row is left, from lint's own tallies, when the pipeline cannot run exactly (no local tokenizer)."""
    t, s = ctx.train, ctx.spec
    if t.items == 0:
        return "the file has no records"
    if t.records == 0:
        return (f"none of its {t.items} records is usable ({t.problem_count} with format errors, {len(t.labels)} "
                f"KTO-labelled)")
    parts = []
    if t.over_length and s.over_length == "drop" and s.method != "cpt":
        parts.append(f"{t.over_length} of {t.records} valid samples are over max_length {s.data.max_length} "
                     f"(estimated tokens) and dropped")
    if isinstance(s.data.validation, float):
        parts.append(f"the validation split takes {s.data.validation:g} of what is left")
    return "no training rows are left: " + ("; ".join(parts) or f"{t.records} valid samples")


def _rows_certain(ctx) -> bool:
    """True when lint's own tallies prove training rows are left, so the pipeline (a second pass over the data)
    need not run: enough samples survive the split, none is weighted out, and, when over-length samples are kept
    (truncated), at least one is within max_length and so keeps every loss-bearing token."""
    t = ctx.train
    if ctx.effective_train_count() <= 64:
        return False
    if any(t.tallied(f"{key}:below_one").count for key in WEIGHT_KEYS):
        return False
    return ctx.spec.over_length == "drop" or ctx.spec.method == "cpt" or t.over_length < t.records


def check(ctx, rule):
    t = ctx.train
    if t is None or t.read_error:
        return
    if t.records and _rows_certain(ctx):
        return
    prepared = ctx.prepared()
    if prepared is not None:
        if prepared.rows != 0:
            return
        from ftspec.pipeline.prepare import no_rows_cause

        yield rule.finding(ctx, no_rows_cause(prepared.counts, ctx.spec.data.max_length), at=("data", "max_length"),
                           hint="raise data.max_length, shorten the samples, or set over_length: truncate")
    elif t.items == 0 or t.records == 0 or ctx.effective_train_count() == 0:
        yield rule.finding(ctx, f"{t.spec_value}: {_estimated_cause(ctx)}", at=("data", "train"))


RULE = Rule("FT110", "no-training-rows", "error", "No training row is left after format errors and over-length drops.",
            doc("Runs the data pipeline the plan runs (exact token counts with the model's tokenizer and the chat "
                "template the trainer uses) and reports when over-length drops and the trainer's own drops (no "
                "loss-bearing token within max_length) leave nothing to train on, with how many each removed. Without "
                "the model's tokenizer on the machine it counts from lint's estimate: empty files, records that all "
                "fail the format, and the validation split.",
                "The trainer would start on an empty dataset and fail, or train zero steps.",
                "max_length: 64 with 500-token samples and over_length: drop", "001 Bailian"), "001", check)
