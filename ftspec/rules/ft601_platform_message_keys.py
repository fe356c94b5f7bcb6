from ftspec.record_checks import BAILIAN_REFUSED_KEYS, OPENAI_KEYS
from ftspec.rules.base import Rule, doc


def check(ctx, rule):
    profile = ctx.spec.lint.profile
    for d in ctx.datasets():
        if profile == "openai":
            for name, t in sorted(d.tallies.items()):
                if name.startswith("key:"):
                    yield rule.finding(ctx, f"message_unrecognized_key: {name[4:]!r} in {t.count} records of "
                                       f"{d.spec_value} (OpenAI allows {', '.join(sorted(OPENAI_KEYS))}; lines "
                                       f"{t.where})", path=d.display, line=t.lines[0])
        elif profile == "bailian":
            for key in (*BAILIAN_REFUSED_KEYS, "loss_weight"):
                t = d.tallied(key)
                if t.count:
                    yield rule.finding(ctx, f"{key!r} on messages in {t.count} records of {d.spec_value}: Bailian does "
                                       f"not support it, every assistant output is trained (lines {t.where})",
                                       path=d.display, line=t.lines[0])


RULE = Rule("FT601", "platform-message-keys", "error", "Message keys the platform does not accept.",
            doc("Under lint.profile openai: every message key outside role, content, name, function_call, weight "
                "(the cookbook's message_unrecognized_key). Under bailian: name, weight and loss_weight.",
                "The platform rejects the file, or ignores the key and trains what you meant to leave out.",
                '{"role": "assistant", "content": "...", "weight": 0} under profile bailian',
                "OpenAI data-prep checks; 001 Bailian (no name/weight keys)"),
            "openai/001", check,
            profiles={"openai": "message_unrecognized_key (allowed: role, content, name, function_call, weight)",
                      "bailian": "refuses name, weight and loss_weight"}, only=("openai", "bailian"))
