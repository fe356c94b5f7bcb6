from ftspec.lint.rules.base import Rule, doc
from ftspec.platforms import bailian, get_platform, openai


def check(ctx, rule):
    platform = get_platform(ctx.spec.lint.profile)
    if platform is None:
        return
    for d in ctx.datasets():
        if platform.message_keys is not None:
            for name, t in sorted(d.tallies.items()):
                if name.startswith("key:"):
                    yield rule.finding(ctx, f"message_unrecognized_key: {name[4:]!r} in {t.count} records of "
                                       f"{d.spec_value} ({platform.short} allows "
                                       f"{', '.join(sorted(platform.message_keys))}; lines {t.where})",
                                       path=d.display, line=t.lines[0])
        for key in platform.refused_message_keys:
            t = d.tallied(key)
            if t.count:
                yield rule.finding(ctx, f"{key!r} on messages in {t.count} records of {d.spec_value}: {platform.short} "
                                   f"does not support it, every assistant output is trained (lines {t.where})",
                                   path=d.display, line=t.lines[0])


_ALLOWED = ", ".join(sorted(openai.PLATFORM.message_keys, key=("role", "content", "name", "function_call", "weight").index))
_REFUSED = bailian.PLATFORM.refused_message_keys
RULE = Rule("FT601", "platform-message-keys", "error", "Message keys the platform does not accept.",
            doc(f"Under lint.profile openai: every message key outside {_ALLOWED} "
                f"(the cookbook's message_unrecognized_key). Under bailian: {', '.join(_REFUSED[:-1])} and {_REFUSED[-1]}.",
                "The platform rejects the file, or ignores the key and trains what you meant to leave out.",
                '{"role": "assistant", "content": "...", "weight": 0} under profile bailian',
                "OpenAI data-prep checks; 001 Bailian (no name/weight keys)"),
            "openai/001", check,
            profiles={"openai": f"message_unrecognized_key (allowed: {_ALLOWED})",
                      "bailian": f"refuses {', '.join(_REFUSED[:-1])} and {_REFUSED[-1]}"}, only=("openai", "bailian"))
