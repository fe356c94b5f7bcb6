from ftspec.lint.rules.base import Rule, doc

FLOOR = 100


def check(ctx, rule):
    t = ctx.train
    if ctx.spec.method != "grpo" or t is None or t.read_error:
        return
    if t.records < FLOOR:
        yield rule.finding(ctx, f"{t.records} prompts in {t.spec_value}; the guide asks 100+ for RL", at=("data", "train"),
                           hint="add prompts: each is sampled grpo.num_generations times per epoch")


RULE = Rule("FT120", "grpo-too-few-prompts", "warning", "GRPO with fewer than 100 prompts.",
            doc("Counts the valid training prompts of a method: grpo spec and warns below 100.",
                "Ark's RL fine-tuning asks 100+ prompts: fewer gives few distinct generation groups, and the policy "
                "overfits their rewards.", "prompts.jsonl with 40 prompts", "000 Ark (RL: 100+ prompts)"),
            "000", check)
