from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    s = ctx.spec
    if s.method != "grpo":
        return
    t, g, world = s.training, s.grpo, s.compute.world_size
    global_batch = t.batch_size * world
    if g.generation_batch_size is not None:
        if g.generation_batch_size % global_batch:
            yield rule.finding(ctx, f"grpo.generation_batch_size {g.generation_batch_size} must be a multiple of the "
                               f"global batch {global_batch} (batch_size {t.batch_size} x {world} process(es)): "
                               "GRPOConfig refuses it", at=("grpo", "generation_batch_size"))
            return
        gen, at, source = g.generation_batch_size, ("grpo", "generation_batch_size"), "grpo.generation_batch_size"
    else:
        gen = global_batch * t.gradient_accumulation
        at = ("training", "batch_size")
        source = (f"batch_size {t.batch_size} x {world} process(es) x gradient_accumulation "
                  f"{t.gradient_accumulation}")
    if gen % g.num_generations:
        fits = [b for b in range(1, 4 * g.num_generations + 1) if (b * world * t.gradient_accumulation)
                % g.num_generations == 0][:1] if g.generation_batch_size is None else []
        hint = (f"batch_size {fits[0]} (or a multiple) works" if fits else
                f"a generation batch that is a multiple of {g.num_generations}")
        yield rule.finding(ctx, f"the generation batch, {source} = {gen}, does not divide by grpo.num_generations "
                           f"{g.num_generations}: each prompt's completions must share a batch (GRPOConfig raises "
                           "at launch)", at=at, hint=hint)
        return
    per_block = gen // g.num_generations
    d = ctx.train
    if d is not None and not d.read_error and 0 < ctx.effective_train_count() < per_block:
        yield rule.finding(ctx, f"each generation batch takes {per_block} prompts ({gen} completions / "
                           f"{g.num_generations}), but only {ctx.effective_train_count()} prompts train: the sampler "
                           "drops the incomplete block and no step runs", at=at)


RULE = Rule("FT124", "grpo-batch-arithmetic", "error", "GRPO's generation batch does not hold whole prompt groups.",
            doc("Computes GRPOConfig's generation batch (batch_size x processes x gradient_accumulation, or "
                "grpo.generation_batch_size) and checks that it divides by grpo.num_generations, that an explicit "
                "one is a multiple of the global batch, and that the data fills at least one generation block.",
                "GRPOConfig raises these at launch (trl#2858, ms-swift#3980), after the job was queued; the plan "
                "can say which key to change before anything runs.",
                "batch_size: 6 with num_generations: 4 (6 does not divide by 4)", "000 Ark (RL)"), "000", check)
