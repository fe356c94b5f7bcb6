from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    if ctx.spec.method == "grpo" and not ctx.spec.rewards:
        yield rule.finding(ctx, "method grpo has no rewards: nothing tells the policy what is better",
                           at=("method",), hint="add rewards: e.g. - {metric: exact_match, reference: answer}")


RULE = Rule("FT121", "grpo-no-reward", "error", "GRPO without a reward.",
            doc("Checks that a method: grpo spec declares at least one entry under rewards:.",
                "GRPO learns only from rewards; TRL's GRPOTrainer refuses to start without a reward function.",
                "method: grpo with no rewards: section", "000 Ark (RL: a reward function)"), "000", check)
