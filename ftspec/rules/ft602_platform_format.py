from ftspec.record_checks import OPENAI_ROLES
from ftspec.rules.base import Rule, doc

ACCEPTED = {"openai": ("messages", "preference"), "bailian": ("messages", "preference", "text")}


def check(ctx, rule):
    profile = ctx.spec.lint.profile
    if profile not in ACCEPTED:
        return
    for d in ctx.datasets():
        if d.fmt and d.fmt not in ACCEPTED[profile]:
            yield rule.finding(ctx, f"{d.spec_value} is {d.fmt} data; {profile} takes "
                               f"{' or '.join(ACCEPTED[profile])} lines", at=d.at)
        if profile == "openai":
            for name, t in sorted(d.tallies.items()):
                if name.startswith("role:"):
                    yield rule.finding(ctx, f"unrecognized_role: {name[5:]!r} in {t.count} records of {d.spec_value} "
                                       f"(OpenAI allows {', '.join(sorted(OPENAI_ROLES))}; lines {t.where})",
                                       path=d.display, line=t.lines[0])
            for key, what in (("no_system", "no system message"), ("no_user", "no user message")):
                t = d.tallied(key)
                if t.count and d.role != "holdout":
                    yield rule.finding(ctx, f"{t.count} examples in {d.spec_value} have {what} (lines {t.where})",
                                       path=d.display, line=t.lines[0], severity="warning")


RULE = Rule("FT602", "platform-format", "error", "Data format or roles the platform does not accept.",
            doc("Under lint.profile openai: the data must be messages (or OpenAI preference) lines, roles system, "
                "user, assistant, function (unrecognized_role); examples with no system or no user message are "
                "warnings. Under bailian: messages, preference or text lines.",
                "A file the platform refuses wastes the upload; converting by hand loses data.",
                'an alpaca file under profile openai; {"role": "tool"} under openai',
                "OpenAI data-prep checks; 001 Bailian (ChatML format)"),
            "openai/001", check,
            profiles={"openai": "messages lines; roles system/user/assistant/function; no system/user message warned",
                      "bailian": "messages, preference or text lines"}, only=("openai", "bailian"))
