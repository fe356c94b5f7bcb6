from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    s = ctx.spec
    if s.method != "grpo":
        return
    room = s.data.max_length - s.grpo.max_completion_length
    if room <= 0:
        yield rule.finding(ctx, f"grpo.max_completion_length {s.grpo.max_completion_length} leaves no room for a "
                           f"prompt within data.max_length {s.data.max_length}", at=("grpo", "max_completion_length"))
        return
    for d in ctx.datasets():
        if d.over_length and d.role != "holdout":
            yield rule.finding(ctx, f"{d.over_length} of {d.records} prompts in {d.spec_value} are longer than "
                               f"{room} tokens (data.max_length {s.data.max_length} - grpo.max_completion_length "
                               f"{s.grpo.max_completion_length}; longest {d.max_tokens}, {ctx.counter.mode}): prompt "
                               f"and completion would not fit; first at line(s) {', '.join(map(str, d.over_lines))}",
                               at=("data", "max_length"), hint="raise data.max_length or shorten the prompts")


RULE = Rule("FT125", "grpo-prompt-too-long", "error", "A GRPO prompt leaves no room for its completion.",
            doc("Counts each prompt as GRPOTrainer renders it (chat template and generation prompt) and checks it "
                "is at most data.max_length - grpo.max_completion_length tokens.",
                "TRL 1.16 no longer truncates prompts (max_prompt_length was removed): a long prompt plus its "
                "completion exceeds the length the memory plan was made for.",
                "max_length 512, max_completion_length 256, a 300-token prompt", "000 Ark (RL)"), "000", check)
