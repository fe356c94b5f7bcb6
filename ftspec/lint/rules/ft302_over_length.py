from ftspec.lint.rules.base import Rule, doc
from ftspec.methods import get_method


def check(ctx, rule):
    s = ctx.spec
    if get_method(s.method).keeps_every_example:  # nothing is dropped or cut: FT125 refuses such prompts instead
        return
    for d in ctx.datasets():
        if d.over_length and d.role != "holdout":
            action = "truncated" if s.over_length == "truncate" else "dropped"
            yield rule.finding(ctx, f"{d.over_length} of {d.records} samples in {d.spec_value} exceed max_length "
                               f"{s.data.max_length} tokens (longest {d.max_tokens}, {ctx.counter.mode}) and will be "
                               f"{action}; first at line(s) {', '.join(map(str, d.over_lines))}", at=("data", "max_length"))


RULE = Rule("FT302", "over-max-length", "warning", "Samples longer than max_length (dropped for SFT/DPO, truncated for CPT).",
            doc("Counts samples whose token length exceeds data.max_length.",
                "Bailian drops them for SFT/DPO (API), so the effective dataset shrinks.",
                "max_length: 512 with 3000-token samples", "001 Bailian"), "001", check)
