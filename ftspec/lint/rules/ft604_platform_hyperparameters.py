from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import get_platform, openai

OPENAI = openai.PLATFORM


def check(ctx, rule):
    s, platform = ctx.spec, get_platform(ctx.spec.lint.profile)
    if platform is None:
        return
    who = platform.short
    r = platform.epochs
    e = s.training.epochs
    if r and not r.holds(e):
        yield rule.finding(ctx, f"epochs {e:g}: {who}'s {r.name} is {r.describe()}", at=("training", "epochs"),
                           fix={"set": ["training", "epochs"], "value": min(r.high, max(r.low, round(e)))})
    r = platform.batch_size
    batch = s.training.batch_size * s.training.gradient_accumulation
    if r and not r.holds(batch):
        yield rule.finding(ctx, f"batch_size x gradient_accumulation = {batch}: {who}'s {r.name} is {r.describe()}",
                           at=("training", "batch_size"))
    r = platform.dpo_beta
    if r and s.method == "dpo" and not r.holds(s.training.dpo_beta):
        yield rule.finding(ctx, f"dpo_beta {s.training.dpo_beta:g}: {who}'s {r.name} is {r.describe()}",
                           at=("training", "dpo_beta"))


RULE = Rule("FT604", "platform-hyperparameters", "error", "Hyperparameters outside the platform's accepted range.",
            doc(f"Under lint.profile openai: {OPENAI.epochs.name} a whole number {OPENAI.epochs.short()}, "
                f"{OPENAI.batch_size.name} (micro-batch x accumulation) {OPENAI.batch_size.short()}, "
                f"{OPENAI.dpo_beta.name} {OPENAI.dpo_beta.short()}.",
                "The platform refuses the job; a spec that ports to it must stay in its ranges.",
                "training: {epochs: 60} under profile openai", "OpenAI fine-tuning API"),
            "openai", check, profiles={"openai": f"{OPENAI.epochs.name} {OPENAI.epochs.short()}, {OPENAI.batch_size.name} "
                                                 f"{OPENAI.batch_size.short()}, {OPENAI.dpo_beta.name} {OPENAI.dpo_beta.short()}"},
            only=("openai",))
