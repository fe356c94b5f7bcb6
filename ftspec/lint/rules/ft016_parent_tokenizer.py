from ftspec.lint.rules.base import Rule, doc

TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")


def _template_text(ctx) -> str | None:
    if not ctx.spec.data.chat_template:
        return None
    try:
        return ctx.loaded.resolve(ctx.spec.data.chat_template).read_text(encoding="utf-8")
    except OSError:
        return None


def check(ctx, rule):
    from ftspec.core.hashing import sha256_file
    from ftspec.models.resolve import resolve_spec_model

    try:
        ref = resolve_spec_model(ctx.spec, ctx.loaded.dir, ctx.loaded.path)
    except ValueError:  # FT015 says why
        return
    parent = ref.parent
    if parent is None:
        return
    if parent.peft:  # a full fine-tune's own folder is the new base: its tokenizer is the one it saved
        folder, recorded = ref.local_dir, parent.model_files
        for name in TOKENIZER_FILES:
            now = sha256_file(folder / name) if folder and (folder / name).is_file() else None
            if name in recorded and recorded[name] != now:
                family = (ref.config or {}).get("model_type")
                now_is = f" (now a {family} model)" if family else ""
                yield rule.finding(ctx, f"{name} of the base model at {folder} differs from the one {parent.run_id} "
                                   f"trained with{now_is}: its adapter would be trained on another model or "
                                   "tokenizer", at=("model", "base"),
                                   hint="restore the model files the parent used, or train from the base model")
                return
    ours, theirs = _template_text(ctx), parent.chat_template()
    if ours != theirs:
        what = {(True, False): "its own data.chat_template, this spec the model's", (False, True): "the model's chat "
                "template, this spec data.chat_template"}.get((theirs is not None, ours is not None),
                                                                "another data.chat_template than this spec")
        yield rule.finding(ctx, f"{parent.run_id} trained with {what}: the new data is rendered differently from what "
                           "the parent learned", at=("data", "chat_template") if ours else ("model", "base"),
                           severity="warning",
                           hint="use the parent's template (its run folder has it in data/chat_template.jinja) unless "
                                "changing the format is the point")


RULE = Rule("FT016", "parent-tokenizer", "error", "The parent run's tokenizer or chat template is not this data's.",
            doc("For incremental training (model.base: run:<name>): the base model's config and tokenizer files must be "
                "the ones the parent run was planned with (an error: another model, of another family or revision), "
                "and the chat template the new data is rendered with "
                "should be the one the parent trained with (a warning).",
                "An adapter learned one token vocabulary and one turn format; continuing it on text tokenized or "
                "formatted for another teaches it a different prompt format, or garbage.",
                "V1 trained with data.chat_template: chatml.jinja; V2 drops it and renders with Llama's own template",
                "003 best practices (incremental training)"), "003", check)
