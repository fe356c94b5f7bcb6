import importlib.util

from ftspec.lint.rules.base import Rule, doc

# The package each kernel needs, as pip installs it, and the module that shows it is there (found, not imported: lint
# stays instant and torch-free).
PACKAGES = {
    "liger": ("liger_kernel", "liger-kernel"),
    "flash_attention_2": ("flash_attn", "flash-attn --no-build-isolation"),
    "adamw_8bit": ("bitsandbytes", "bitsandbytes"),
    "paged_adamw_8bit": ("bitsandbytes", "bitsandbytes"),
}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def chosen_kernels(spec) -> list[tuple[tuple, str]]:
    """(spec path, value) of each kernel setting away from the built-in default."""
    t = spec.training
    out = []
    if t.loss_kernel != "fused":
        out.append((("training", "loss_kernel"), t.loss_kernel))
    if t.attention != "auto":
        out.append((("training", "attention"), t.attention))
    if t.optimizer != "adamw":
        out.append((("training", "optimizer"), t.optimizer))
    return out


def check(ctx, rule):
    from ftspec.methods import get_method

    spec = ctx.spec
    method = get_method(spec.method)
    if spec.training.loss_kernel not in method.loss_kernels:
        yield rule.finding(ctx, f"loss_kernel {spec.training.loss_kernel} is not one method {spec.method} can train "
                           f"with: its trainer takes every log-probability from TRL's fused LM head "
                           f"({', '.join(method.loss_kernels)})", at=("training", "loss_kernel"),
                           hint="loss_kernel: fused")
    for at, value in chosen_kernels(spec):
        if value in PACKAGES and not installed(PACKAGES[value][0]):
            module, pip = PACKAGES[value]
            yield rule.finding(ctx, f"{at[-1]} {value} needs the {module} package, which is not installed in this "
                               "environment (the job runs the environment that plans it)", at=at,
                               hint=f"pip install {pip}")


RULE = Rule("FT017", "kernel-unavailable", "error", "A loss, attention or optimizer kernel this job cannot run.",
            doc("Checks training.loss_kernel, training.attention and training.optimizer against the method and "
                "what is installed (found without importing it): liger needs liger-kernel, flash_attention_2 "
                "flash-attn, the 8-bit optimizers bitsandbytes; plain logits are for sft and cpt only. (The hardware "
                "each needs, a CUDA GPU, Ampere and bf16/fp16 for FlashAttention-2, is the layout's check: plan "
                "refuses it at the same key.)",
                "transformers and TRL refuse each of these only when the job starts (an ImportError at model load "
                "or trainer construction), after the queue and the data preparation; the plan would also have "
                "priced memory the run cannot get.",
                "training: {attention: flash_attention_2} with compute: {accelerator: v100}",
                "operations (transformers attn_implementation, TRL use_liger_kernel, bitsandbytes optimizers); "
                "no guide"), "kernels", check)
