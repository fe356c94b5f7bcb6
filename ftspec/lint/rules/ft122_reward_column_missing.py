from ftspec.lint.python_reward import ALWAYS_PASSED, read_signature
from ftspec.lint.rules.base import Rule, doc
from ftspec.spec.rewards import MetricReward, PythonReward, module_file, python_reward_parts

PROMPT = "prompt"  # TRL takes it apart as prompts=; every other column is passed by name


def _columns_read(ctx):
    """(reward index, spec path of the key, column, what reads it) for each column a reward reads."""
    for i, reward in enumerate(ctx.spec.rewards):
        if isinstance(reward, MetricReward):
            yield i, ("rewards", i, "reference"), reward.reference, f"reward {reward.metric} compares with"
        elif isinstance(reward, PythonReward):
            module, function = python_reward_parts(reward)
            sig = read_signature(module_file(module, ctx.loaded.dir), function)
            if sig.problem is None and sig.checked:
                for name in sig.required:
                    if name not in ALWAYS_PASSED:
                        yield i, ("rewards", i, "python"), name, f"{function}() requires the parameter"


def check(ctx, rule):
    if ctx.spec.method != "grpo":
        return
    for i, at, column, what in _columns_read(ctx):
        for d in (ctx.train, ctx.holdout):
            if d is None or d.read_error or not d.records:
                continue
            if d.role == "holdout" and not at[-1] == "reference":
                continue  # the holdout only needs the reference the evaluation scores against
            have = d.columns.get(column, 0)
            if column == PROMPT or have == d.records:
                continue
            where = f"; first at line {d.column_first_missing[column]}" if column in d.column_first_missing else ""
            lacking = "no record has it" if have == 0 else f"{d.records - have} of {d.records} records lack it"
            yield rule.finding(ctx, f"{what} column {column!r}, but {d.spec_value} {lacking}{where}", at=at,
                               hint="add the column to the data, or name the column that holds it")


RULE = Rule("FT122", "reward-column-missing", "error", "A reward reads a data column the data lacks.",
            doc("Lists the columns each reward reads (a metric reward's reference, a python reward's required "
                "parameters, read from its source without importing it) and checks every training record has them; "
                "the holdout must have the reference column the evaluation scores against.",
                "TRL passes a reward only the columns the dataset has: a missing one fails at the first generation "
                "batch, after the model has loaded (trl#3455), or scores every completion against nothing.",
                "{metric: exact_match, reference: solution} on records with an answer column",
                "000 Ark (RL: prompts + optional labels)"), "000", check)
