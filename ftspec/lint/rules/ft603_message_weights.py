from ftspec.lint.rules.base import Rule, doc
from ftspec.data.turn_weights import WEIGHT_KEYS
from ftspec.platforms import get_platform


def check(ctx, rule):
    platform = get_platform(ctx.spec.lint.profile)
    for d in ctx.datasets():
        for key in WEIGHT_KEYS:
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
            fractional = d.tallied(f"{key}:fractional")
            if fractional.count:
                why = (f"{platform.short} takes {key} 0 or 1 only" if platform and platform.binary_weights
                       and key == platform.weight_key else
                       "ftspec trains a turn or leaves it out: 0 or 1 (TRL has no fractional loss weights)")
                yield rule.finding(ctx, f"{fractional.count} records in {d.spec_value} have a {key} other than 0 or 1; "
                                   f"{why} (lines {fractional.where})", path=d.display, line=fractional.lines[0],
                                   hint="round each weight to 0 (no loss) or 1 (trained)")
            zero = d.tallied(f"{key}:below_one")
            if zero.count and d.role != "holdout":
                if ctx.spec.method != "sft":
                    yield rule.finding(ctx, f"{zero.count} records in {d.spec_value} weight an assistant turn below 1, "
                                       f"but message weights apply to SFT only, not {ctx.spec.method} (lines "
                                       f"{zero.where})", path=d.display, line=zero.lines[0])
                elif not ctx.spec.data.assistant_only_loss:
                    yield rule.finding(ctx, f"{zero.count} records in {d.spec_value} weight an assistant turn below 1, "
                                       f"which needs the assistant mask; data.assistant_only_loss is false (lines "
                                       f"{zero.where})", path=d.display, line=zero.lines[0],
                                       hint="set data.assistant_only_loss: true, or remove the weights")
            # A platform that checks every message key says so in FT601; one that does not is told here.
            own = platform.weight_key if platform and platform.message_keys is None else None
            if own and key != own:
                yield rule.finding(ctx, f"'{key}' on messages in {t.count} records of {d.spec_value}: {platform.short} "
                                   f"takes {own} (in [0, 1]) instead; ftspec trains with either, but the file will not "
                                   f"upload to {platform.short} as it is (lines {t.where})", path=d.display,
                                   line=t.lines[0], severity="warning", hint=f"rename {key} to {own}")


RULE = Rule("FT603", "message-weights", "error", "Message weights out of range or not the platform's.",
            doc("Checks weight / loss_weight on messages: a number in [0, 1] on assistant turns only; under "
                "lint.profile openai weight is 0 or 1; under ark the key is loss_weight ('weight' there is a warning). (Under bailian any weight is "
                "FT601; under openai loss_weight is FT601.) ftspec honours weights as those platforms do: a turn weighted 0 "
                "carries no loss in training and the plan counts it out; a sample whose turns are all weighted 0 is "
                "dropped. A weight strictly between 0 and 1 cannot be applied (TRL has no fractional loss weights) "
                "and is an error; so are weights under DPO or CPT, or with data.assistant_only_loss: false.",
                "A weight the platform does not take is rejected or ignored, and a weight ftspec cannot apply would "
                "train a turn meant to carry no loss.",
                '{"role": "assistant", "content": "...", "weight": 0.5} under profile openai',
                "OpenAI API (weight 0 or 1); Ark API (loss_weight in [0, 1])"),
            "openai/ark", check,
            profiles={"openai": "weight only 0 or 1", "ark": "loss_weight in [0, 1]; weight is not Ark's key"})
