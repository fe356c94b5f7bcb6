from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    for d in ctx.datasets():
        if not d.render_errors:
            continue
        line, message = d.render_errors[0]
        lines = ", ".join(str(n) for n, _ in d.render_errors[:5])
        more = f" ({d.render_error_count} records in all: lines {lines}{', ...' if d.render_error_count > 5 else ''})" \
            if d.render_error_count > 1 else ""
        yield rule.finding(ctx, f"the chat template raised on this record: {message}{more}", path=d.display, line=line,
                           hint="fix or remove the record, or use a data.chat_template that renders it")


RULE = Rule("FT314", "template-raises", "error", "The chat template raises on a record.",
            doc("Renders the records with the chat template the trainer uses (data.chat_template over the model's "
                "own, and the training template for assistant-only loss) and reports each record the template "
                "refuses: its own raise_exception (Llama 3.1/3.2: \"This model only supports single tool-calls at "
                "once!\"), or an error inside it (a template that concatenates tool-call arguments as text, given an "
                "object), at the record's line. `ftspec plan` stops at the first such record the same way.",
                "The trainer would stop on the record after the job was scheduled; lint and plan used to stop with "
                "an internal error and no location.",
                'an assistant turn with two tool_calls on a Llama 3.2 model', "TRL SFTTrainer; transformers "
                "apply_chat_template"), "transformers", check)
