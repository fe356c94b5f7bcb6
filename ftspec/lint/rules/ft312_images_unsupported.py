from ftspec.lint.rules.base import Rule, doc

VISION_MODEL_TYPES = ("vl", "vision", "llava", "idefics", "paligemma", "pixtral", "mllama", "internvl", "minicpmv")


def takes_images(ctx) -> tuple[bool, str]:
    from ftspec.models.resolve import resolve_spec_model

    base = ctx.spec.model.base
    try:
        ref = resolve_spec_model(ctx.spec, ctx.loaded.dir, ctx.loaded.path)
    except ValueError:
        return False, f"model {base!r} cannot be resolved"
    if ref.config is not None:
        model_type = str(ref.config.get("model_type", "")).lower()
        if "vision_config" in ref.config or any(v in model_type for v in VISION_MODEL_TYPES):
            return True, ""
        return False, f"model {base!r} is text-only (its config.json has no vision_config, model_type {model_type!r})"
    # A hub model that is not cached: its name is all there is to go on.
    if any(v in base.lower() for v in VISION_MODEL_TYPES):
        return True, ""
    return False, f"model {base!r} does not look like a vision-language model (not cached, name has no VL/vision)"


def check(ctx, rule):
    with_images = [d for d in ctx.datasets() if d.images]
    if not with_images:
        return
    n = sum(d.images for d in with_images)
    records = sum(d.tallied("image_records").count for d in with_images)
    first = with_images[0]
    if ctx.spec.method != "sft":
        yield rule.finding(ctx, f"{n} images in {records} records, but method {ctx.spec.method} cannot take images "
                           f"(image data is SFT only)", path=first.display, line=first.tallied("image_records").lines[0])
        return
    ok, why = takes_images(ctx)
    if not ok:
        yield rule.finding(ctx, f"{n} images in {records} records, but {why}", at=("model", "base"))


RULE = Rule("FT312", "images-unsupported", "error", "Image data with a method or model that cannot take images.",
            doc("When the data has image parts, checks the method is sft and the model takes images (a vision_config "
                "or a vision-language model_type in its config.json; for an uncached hub model, its name).",
                "A text-only model silently drops the images, so the answers are learned without what they describe.",
                "model: Qwen/Qwen2.5-0.5B with image parts in the data", "001 Bailian (image SFT)"), "001", check)
