import math

from .base import Rule, doc


def steps(ctx) -> int:
    s = ctx.spec
    n = ctx.effective_train_count()
    procs = s.compute.nodes * (s.compute.processes_per_node or (1 if s.compute.accelerator == "cpu" else s.compute.gpus_per_node))
    batches = math.ceil(math.ceil(n / s.training.batch_size) / procs)
    return math.ceil(math.ceil(batches / s.training.gradient_accumulation) * s.training.epochs)


def check(ctx, rule):
    t = ctx.train
    if t is None or t.read_error or t.records == 0:
        return
    n = steps(ctx)
    if n < 50:
        s = ctx.spec.training
        yield rule.finding(ctx, f"about {n} optimizer steps ({ctx.effective_train_count()} samples after split, batch "
                           f"{s.batch_size} x accumulation {s.gradient_accumulation}, {s.epochs:g} epochs); fewer than "
                           f"~50 steps often trains poorly", at=("training", "batch_size"),
                           hint="lower batch_size/gradient_accumulation or add data")


RULE = Rule("FT105", "too-few-steps", "warning", "Fewer than ~50 optimizer steps.",
            doc("Estimates steps = ceil(ceil(N/batch)/processes/grad_accum) * epochs with N after the validation split.",
                "Too few updates is a common cause of poor fine-tuning results.",
                "100 samples, batch 16, 3 epochs -> 21 steps", "000 Ark overview"), "000", check)
