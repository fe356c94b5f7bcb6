from ftspec.lint.rules.base import Rule, doc


def parent_of(ctx):
    """The run model.base names (``ftspec.runfolder.parent.ParentRun``), None for a base model; ParentError (a
    ValueError) when that run cannot be trained on."""
    from ftspec.models.resolve import resolve_spec_model

    return resolve_spec_model(ctx.spec, ctx.loaded.dir, ctx.loaded.path).parent


def check(ctx, rule):
    from ftspec.runfolder.parent import ParentError, is_run_reference

    if not is_run_reference(ctx.spec.model.base, ctx.loaded.dir):
        return
    try:
        parent = parent_of(ctx)
    except ParentError as exc:
        yield rule.finding(ctx, str(exc), at=("model", "base"),
                           hint="`ftspec runs` lists the runs and their status; finish the run with `ftspec apply` first")
        return
    except ValueError as exc:
        yield rule.finding(ctx, f"the run's base model cannot be resolved: {exc}", at=("model", "base"))
        return
    merges = parent.peft and (ctx.spec.adapter.type == "full" or ctx.spec.model.parent_adapter == "merge")
    if merges and ctx.spec.adapter.type == "qlora":
        yield rule.finding(ctx, f"merging {parent.run_id}'s adapter into 4-bit (QLoRA) weights would round it away",
                           at=("model", "parent_adapter"),
                           hint="parent_adapter: continue (train the same adapter further), or adapter.type: lora")


RULE = Rule("FT015", "parent-run", "error", "model.base names an earlier run that cannot be trained on.",
            doc("Resolves model.base when it names an earlier ftspec run (run:<name>, or its run folder): the run must "
                "exist, be finished (report.json, status completed) and its final weights must still match the hashes "
                "its report recorded. Merging its adapter into QLoRA's 4-bit weights is refused.",
                "Training V2 on an interrupted or altered V1 would build on weights nobody evaluated; the trainer "
                "would otherwise fail late, or silently start from something else.",
                "model: {base: run:support-bot}  # while support-bot's only run is still training", "003 best practices "
                "(incremental training: ModelReference.CustomModelId)"), "003", check)
