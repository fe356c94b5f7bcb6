import importlib.util

from ftspec.lint.rules.base import Rule, doc

INSTALL = "DS_BUILD_OPS=0 pip install --no-build-isolation 'ftspec[deepspeed]'"


def deepspeed_installed() -> bool:
    return importlib.util.find_spec("deepspeed") is not None  # found, not imported: lint stays instant


def check(ctx, rule):
    distributed = ctx.spec.compute.distributed
    if distributed in ("zero2", "zero3") and not deepspeed_installed():
        yield rule.finding(ctx, f"compute.distributed {distributed} runs DeepSpeed ZeRO, which is not installed in this "
                           "environment (the job runs the environment that plans it)", at=("compute", "distributed"),
                           hint=INSTALL)


RULE = Rule("FT009", "zero-needs-deepspeed", "error", "A ZeRO layout without DeepSpeed installed.",
            doc("Checks that the deepspeed package is importable (without importing it) when compute.distributed is "
                "zero2 or zero3.",
                "accelerate starts ZeRO through DeepSpeed: without it the job fails at launch, after queueing. "
                "DeepSpeed is ftspec's optional extra; DS_BUILD_OPS=0 and --no-build-isolation keep pip from "
                "compiling its kernels or pulling a second torch to build it.",
                "compute: {accelerator: h100, gpus_per_node: 8, distributed: zero3} without deepspeed",
                "operations (DeepSpeed); no guide"), "deepspeed", check)
