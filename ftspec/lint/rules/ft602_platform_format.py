from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import bailian, get_platform, openai


def check(ctx, rule):
    platform = get_platform(ctx.spec.lint.profile)
    if platform is None or platform.accepted_formats is None:
        return
    accepted = platform.accepted_formats
    for d in ctx.datasets():
        if d.fmt and d.fmt not in accepted:
            yield rule.finding(ctx, f"{d.spec_value} is {d.fmt} data; {platform.name} takes "
                               f"{' or '.join(accepted)} lines", at=d.at)
        if platform.roles is not None:
            for name, t in sorted(d.tallies.items()):
                if name.startswith("role:"):
                    yield rule.finding(ctx, f"unrecognized_role: {name[5:]!r} in {t.count} records of {d.spec_value} "
                                       f"({platform.short} allows {', '.join(sorted(platform.roles))}; lines {t.where})",
                                       path=d.display, line=t.lines[0])
        for role in platform.expected_roles:
            t = d.tallied(f"no_{role}")
            if t.count and d.role != "holdout":
                yield rule.finding(ctx, f"{t.count} examples in {d.spec_value} have no {role} message (lines {t.where})",
                                   path=d.display, line=t.lines[0], severity="warning")


_OPENAI, _BAILIAN = openai.PLATFORM, bailian.PLATFORM
_ROLES = "/".join(sorted(_OPENAI.roles, key=("system", "user", "assistant", "function").index))
RULE = Rule("FT602", "platform-format", "error", "Data format or roles the platform does not accept.",
            doc(f"Under lint.profile openai: the data must be {_OPENAI.accepted_formats[0]} (or OpenAI "
                f"{_OPENAI.accepted_formats[1]}) lines, roles {_ROLES.replace('/', ', ')} (unrecognized_role); examples "
                f"with no {' or no '.join(_OPENAI.expected_roles)} message are warnings. Under bailian: "
                f"{', '.join(_BAILIAN.accepted_formats[:-1])} or {_BAILIAN.accepted_formats[-1]} lines.",
                "A file the platform refuses wastes the upload; converting by hand loses data.",
                'an alpaca file under profile openai; {"role": "tool"} under openai',
                "OpenAI data-prep checks; 001 Bailian (ChatML format)"),
            "openai/001", check,
            profiles={"openai": f"{_OPENAI.accepted_formats[0]} lines; roles {_ROLES}; "
                                f"no {'/'.join(_OPENAI.expected_roles)} message warned",
                      "bailian": f"{', '.join(_BAILIAN.accepted_formats[:-1])} or {_BAILIAN.accepted_formats[-1]} lines"},
            only=("openai", "bailian"))
