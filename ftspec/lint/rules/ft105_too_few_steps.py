from ftspec.lint.rules.base import Rule, doc
from ftspec.methods import get_method


MIN_STEPS = 50


def _estimated(ctx) -> int:
    s = ctx.spec
    n = ctx.effective_train_count()
    try:
        return get_method(s.method).optimizer_steps(n, s, s.compute.world_size)
    except ValueError:  # an empty dataloader, or batch arithmetic the trainer refuses: no count to judge
        return 2 * MIN_STEPS


def steps(ctx) -> tuple[int, bool]:
    """(optimizer steps, exact): the plan's own count when the model's tokenizer is here, else an estimate."""
    s = ctx.spec
    prepared = ctx.prepared()
    if prepared is not None and prepared.rows:
        try:
            return get_method(s.method).optimizer_steps(prepared.rows, s, s.compute.world_size), True
        except ValueError:  # the batch arithmetic itself is broken: the rule that checks it reports that
            return None, True
    return _estimated(ctx), False


def check(ctx, rule):
    t = ctx.train
    if t is None or t.read_error or t.records == 0:
        return
    if not ctx.spec.data.packing and _estimated(ctx) >= 2 * MIN_STEPS:
        # Far from the threshold: only mix-ins (more rows) and the trainer's rare drops separate the estimate from
        # the plan's count, so running the whole pipeline (a second pass over the data) cannot change the verdict.
        return
    n, exact = steps(ctx)
    if n is not None and n < MIN_STEPS:
        s = ctx.spec.training
        if exact:
            rows = ctx.prepared().rows
            what = f"{n} optimizer steps (exact, as the plan counts: {rows} training rows"
        else:
            what = f"about {n} optimizer steps (estimated: {ctx.effective_train_count()} samples after split"
        yield rule.finding(ctx, f"{what}, batch {s.batch_size} x accumulation {s.gradient_accumulation}, "
                           f"{s.epochs:g} epochs); fewer than ~50 steps often trains poorly", at=("training", "batch_size"),
                           hint="lower batch_size/gradient_accumulation or add data")


RULE = Rule("FT105", "too-few-steps", "warning", "Fewer than ~50 optimizer steps.",
            doc("Counts optimizer steps as the plan does (the data pipeline's rows) when the model's tokenizer is on "
                "this machine and the estimate is under 100 (twice the threshold, without packing); otherwise estimates steps = ceil(ceil(N/batch)/processes/grad_accum) * epochs with N "
                "after the validation split.",
                "Too few updates is a common cause of poor fine-tuning results.",
                "100 samples, batch 16, 3 epochs -> 21 steps", "000 Ark overview"), "000", check)
