from .base import Rule, doc


def check(ctx, rule):
    profile = ctx.spec.lint.profile
    for d in ctx.datasets():
        for key in ("weight", "loss_weight"):
            t = d.tallied(key)
            if not t.count:
                continue
            bad, off_turn = d.tallied(f"{key}:out_of_range"), d.tallied(f"{key}:not_assistant")
            if bad.count:
                yield rule.finding(ctx, f"{bad.count} records in {d.spec_value} have a {key} that is not a number in "
                                   f"[0, 1] (lines {bad.where})", path=d.display, line=bad.lines[0])
            if off_turn.count:
                yield rule.finding(ctx, f"{off_turn.count} records in {d.spec_value} put {key} on a non-assistant turn; "
                                   f"only assistant turns carry loss (lines {off_turn.where})", path=d.display,
                                   line=off_turn.lines[0])
            below = d.tallied(f"{key}:below_one")
            if below.count and d.role != "holdout":
                yield rule.finding(ctx, f"{below.count} records in {d.spec_value} weight an assistant turn below 1 "
                                   f"({key}); ftspec's trainer does not apply message weights yet, so those turns "
                                   f"would be trained with full loss (lines {below.where})", path=d.display,
                                   line=below.lines[0], hint="drop those turns from the data, or weight them 1")
            fractional = d.tallied(f"{key}:fractional")
            if key == "weight" and profile == "openai" and fractional.count:
                yield rule.finding(ctx, f"{fractional.count} records in {d.spec_value} have a weight other than 0 or 1; "
                                   f"OpenAI takes weight 0 or 1 only (lines {fractional.where})", path=d.display,
                                   line=fractional.lines[0])
            if key == "weight" and profile == "ark":
                yield rule.finding(ctx, f"'weight' on messages in {t.count} records of {d.spec_value}: Ark takes "
                                   f"loss_weight (in [0, 1]) instead (lines {t.where})", path=d.display,
                                   line=t.lines[0])


RULE = Rule("FT603", "message-weights", "error", "Message weights out of range or not the platform's.",
            doc("Checks weight / loss_weight on messages: a number in [0, 1] on assistant turns only; under "
                "lint.profile openai weight is 0 or 1; under ark the key is loss_weight. (Under bailian any weight is "
                "FT601; under openai loss_weight is FT601.) An assistant turn weighted below 1 is an error under every "
                "profile for now: ftspec's trainer does not apply message weights, so it would get full loss.",
                "A weight the platform does not take is rejected or ignored, and a turn meant to carry no loss is "
                "trained anyway.",
                '{"role": "assistant", "content": "...", "weight": 0.5} under profile openai',
                "OpenAI API (weight 0 or 1); Ark API (loss_weight in [0, 1])"),
            "openai/ark", check,
            profiles={"openai": "weight only 0 or 1", "ark": "loss_weight in [0, 1]; weight is not Ark's key"})
