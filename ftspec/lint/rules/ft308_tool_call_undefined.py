from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        t = d.tallied("tool_call_undefined")
        if t.count:
            yield rule.finding(ctx, f"{t.count} records in {d.spec_value} call a function their 'tools' do not define "
                               f"(lines {t.where})", path=d.display, line=t.lines[0])


RULE = Rule("FT308", "tool-call-undefined", "warning", "A tool call names a function missing from the record's tools.",
            doc("Compares the function names in tool-call turns (tool_calls, or a sharegpt function_call's JSON) "
                "with the names in the record's tools definitions.",
                "Function-call training needs the correct tools, exactly as the model will see them at inference.",
                '"tools": [{"name": "get_weather"}] with a call to "search"', "000 Ark overview"), "000", check)
