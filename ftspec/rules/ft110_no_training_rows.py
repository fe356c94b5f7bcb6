from .base import Rule, doc


def check(ctx, rule):
    prepared = ctx.prepared()
    if prepared is None or prepared.rows != 0:
        return
    from ..data.pipeline import no_rows_cause

    yield rule.finding(ctx, no_rows_cause(prepared.counts, ctx.spec.data.max_length), at=("data", "max_length"),
                       hint="raise data.max_length, shorten the samples, or set over_length: truncate")


RULE = Rule("FT110", "no-training-rows", "error", "No training row is left after dropping over-length samples.",
            doc("Runs the data pipeline the plan runs (exact token counts with the model's tokenizer and the chat "
                "template the trainer uses) and reports when over-length drops and the trainer's own drops (no "
                "loss-bearing token within max_length) leave nothing to train on, with how many each removed.",
                "The trainer would start on an empty dataset and fail, or train zero steps.",
                "max_length: 64 with 500-token samples and over_length: drop", "001 Bailian"), "001", check)
