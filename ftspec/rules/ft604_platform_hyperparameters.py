from ftspec.rules.base import Rule, doc


def check(ctx, rule):
    s = ctx.spec
    if s.lint.profile != "openai":
        return
    e = s.training.epochs
    if not (1 <= e <= 50 and float(e).is_integer()):
        yield rule.finding(ctx, f"epochs {e:g}: OpenAI's n_epochs is a whole number from 1 to 50",
                           at=("training", "epochs"), fix={"set": ["training", "epochs"], "value": min(50, max(1, round(e)))})
    batch = s.training.batch_size * s.training.gradient_accumulation
    if batch > 256:
        yield rule.finding(ctx, f"batch_size x gradient_accumulation = {batch}: OpenAI's batch_size is 1-256",
                           at=("training", "batch_size"))
    if s.method == "dpo" and not 0 < s.training.dpo_beta <= 2:
        yield rule.finding(ctx, f"dpo_beta {s.training.dpo_beta:g}: OpenAI's DPO beta is in (0, 2]",
                           at=("training", "dpo_beta"))


RULE = Rule("FT604", "platform-hyperparameters", "error", "Hyperparameters outside the platform's accepted range.",
            doc("Under lint.profile openai: n_epochs a whole number 1-50, batch_size (micro-batch x accumulation) "
                "1-256, DPO beta in (0, 2].",
                "The platform refuses the job; a spec that ports to it must stay in its ranges.",
                "training: {epochs: 60} under profile openai", "OpenAI fine-tuning API"),
            "openai", check, profiles={"openai": "n_epochs 1-50, batch_size 1-256, DPO beta in (0, 2]"},
            only=("openai",))
