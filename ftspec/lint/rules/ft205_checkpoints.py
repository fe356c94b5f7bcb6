from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    t = ctx.spec.training
    if not t.save_per_epoch and t.epochs > 1:
        yield rule.finding(ctx, f"save_per_epoch is false with {t.epochs:g} epochs: only the final weights are kept, "
                           f"so there is no earlier checkpoint to pick if the last epoch overfits",
                           at=("training", "save_per_epoch"), hint="save_per_epoch: true",
                           fix={"set": ["training", "save_per_epoch"], "value": True})


RULE = Rule("FT205", "no-per-epoch-checkpoints", "info", "Several epochs without per-epoch checkpoints.",
            doc("Notes training.save_per_epoch: false when training runs more than one epoch.",
                "The guide saves a checkpoint per epoch and picks the best one on validation; more saves cost time.",
                "training: {epochs: 5, save_per_epoch: false}", "003 Ark best practices"), "003", check)
