from ftspec.lint.python_reward import missing_parameters, read_signature
from ftspec.lint.rules.base import Rule, doc
from ftspec.spec.rewards import PythonReward, module_file, python_reward_parts


def _shown(path, base) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def check(ctx, rule):
    if ctx.spec.method != "grpo":
        return
    t = ctx.train
    columns = set(t.columns) - {"prompt"} if t is not None and not t.read_error else set()
    for i, reward in enumerate(ctx.spec.rewards):
        if not isinstance(reward, PythonReward):
            continue
        module, function = python_reward_parts(reward)
        path = module_file(module, ctx.loaded.dir)
        sig = read_signature(path, function, _shown(path, ctx.loaded.dir))
        if sig.problem:
            yield rule.finding(ctx, f"python reward {reward.python!r}: {sig.problem}", at=("rewards", i, "python"))
            continue
        missing = missing_parameters(sig, columns)
        if missing:
            yield rule.finding(ctx, f"python reward {reward.python!r} cannot take what GRPOTrainer passes it: no "
                               f"parameter for {', '.join(missing)} and no **kwargs", at=("rewards", i, "python"),
                               hint=f"def {function}(prompts, completions, **kwargs)")


RULE = Rule("FT123", "python-reward-unusable", "error", "A python reward's module, function or signature is unusable.",
            doc("Reads the module named by {python: 'module:function'} relative to the spec's folder, without "
                "importing it: the file must exist and parse, define the function at its top level, and the function "
                "must take TRL's keyword arguments (prompts, completions, completion_ids, trainer_state, log_extra, "
                "log_metric and every data column, or **kwargs).",
                "TRL imports and calls rewards only once the model is loaded and the first completions are "
                "generated: a typo in a dotted path or a signature without **kwargs fails late (trl#3455).",
                "{python: 'rewards:score'} where rewards.py defines def score(completions)",
                "000 Ark (RL: a reward function)"), "000", check)
