from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        if d.tool_issues:
            yield rule.finding(ctx, f"{len(d.tool_issues)} records have tool-call turns but no 'tools' definitions",
                               path=d.display, line=d.tool_issues[0])


RULE = Rule("FT306", "tool-calls-without-tools", "warning", "Tool-call turns without tool definitions.",
            doc("Flags function_call/observation/tool turns in records lacking 'tools'.",
                "Function-call training needs the correct tools, as at inference.",
                'conversations with "from": "function_call" and no tools', "000 Ark"), "000", check)
