"""The plan's ``job``: the trainer's arguments, the adapter and quantization configs, and the model to load, as the
training entry point receives them. The shared TRL config arguments are here; each method adds its own
(``Method.trainer_args``)."""

from __future__ import annotations

from typing import Any

from ftspec.launch.layout import Layout
from ftspec.methods import get_method
from ftspec.pipeline.prepared import PreparedData
from ftspec.plan.estimate_terms import FP32_MASTER_LAYOUTS
from ftspec.plan.model import Job
from ftspec.spec.rewards import reward_name
from ftspec.runfolder.contract import CHAT_TEMPLATE, TRAIN_DATA, TRAINING_CHAT_TEMPLATE, VALIDATION_DATA


# training.optimizer -> transformers' ``optim`` value.
TRAINER_OPTIMIZERS = {"adamw": "adamw_torch", "adamw_fused": "adamw_torch_fused", "adamw_8bit": "adamw_bnb_8bit",
                      "paged_adamw_8bit": "paged_adamw_8bit"}


def precision(layout: Layout) -> tuple[str, str, str]:
    """(load dtype, mixed-precision flag for the trainer, the estimator's precision)."""
    if layout.mixed_precision == "bf16":
        return "bfloat16", "bf16", "bf16-mixed" if layout.distributed in FP32_MASTER_LAYOUTS else "bf16"
    if layout.mixed_precision == "fp16":
        # fp16 AMP needs fp32 master weights: load fp32, autocast to half.
        return "float32", "fp16", "bf16-mixed"
    return "float32", "no", "fp32"


def gradient_checkpointing(spec, layout: Layout) -> bool:
    if spec.training.gradient_checkpointing is not None:
        return spec.training.gradient_checkpointing
    return layout.accelerator != "cpu"


def trainer_args(spec, layout: Layout, prepared: PreparedData, mixed: str, checkpointing: bool) -> dict[str, Any]:
    t, d = spec.training, spec.data
    method = get_method(spec.method)
    has_validation = has_validation_rows(prepared) and method.has_validation_loss
    args: dict[str, Any] = {
        "num_train_epochs": t.epochs,
        "per_device_train_batch_size": t.batch_size,
        "per_device_eval_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.gradient_accumulation,
        "learning_rate": spec.learning_rate,
        "warmup_steps": t.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the total steps
        "lr_scheduler_type": t.lr_scheduler,
        "weight_decay": t.weight_decay,
        "max_grad_norm": t.max_grad_norm,
        "optim": TRAINER_OPTIMIZERS[t.optimizer],
        "seed": t.seed,
        "data_seed": t.seed,
        "bf16": mixed == "bf16",
        "fp16": mixed == "fp16",
        "use_cpu": layout.accelerator == "cpu",
        "activation_checkpointing": checkpointing,  # transformers 5 name; gradient_checkpointing is deprecated
        "logging_strategy": "steps",
        "logging_steps": t.logging_steps,
        # Checkpoints every epoch are also the resume points after a crash.
        "save_strategy": "epoch",
        # save_per_epoch: false keeps only the newest checkpoint (still a resume point after a crash).
        "save_total_limit": None if t.save_per_epoch else 1,
        "eval_strategy": "epoch" if has_validation else "no",
        "dataloader_drop_last": False,
        "report_to": report_to(spec),
        "max_length": d.max_length,
    }
    if t.loss_kernel == "liger":
        # TRL 1.x applies Liger's layer kernels and keeps its own fused LM head for the loss.
        args["use_liger_kernel"] = True
    if has_validation:
        # Tracking the best checkpoint also keeps it from checkpoint rotation (save_total_limit).
        args.update(metric_for_best_model="eval_loss", greater_is_better=False)
    for key in method.dropped_trainer_args:
        args.pop(key, None)
    args.update(method.trainer_args(spec))
    return args


def report_to(spec) -> list[str] | str:
    """The trainer's own loggers: TensorBoard alone, when asked; ftspec logs MLflow and W&B itself from the report."""
    return ["tensorboard"] if "tensorboard" in spec.tracking else "none"


def has_validation_rows(prepared: PreparedData) -> bool:
    return bool(prepared.validation) and prepared.counts.get("validation_rows", 1) > 0


def peft_config(spec) -> dict | None:
    a = spec.adapter
    if a.type == "full":
        return None
    return {"r": a.rank, "lora_alpha": a.alpha, "lora_dropout": a.dropout,
            "target_modules": a.target_modules, "use_rslora": a.type == "rslora"}


def quantization(spec, layout: Layout | None = None) -> dict | None:
    if spec.adapter.type != "qlora":
        return None
    config = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": "bfloat16",
              "bnb_4bit_use_double_quant": True}
    if layout is not None and layout.distributed == "fsdp":
        # FSDP flattens parameters of one dtype: the packed 4-bit weights must be stored as the bf16 around them.
        config["bnb_4bit_quant_storage"] = "bfloat16"
    return config


def continues_adapter(spec, parent) -> bool:
    """The new run trains its parent's own adapter further (rather than merging it and starting another)."""
    return parent.peft and spec.adapter.type != "full" and spec.model.parent_adapter == "continue"


def from_parent(spec, ref) -> dict[str, Any]:
    """The job.model keys of incremental training: what to merge into the base, the adapter to continue, and the
    pretrained root of the chain; nothing for a run from a base model."""
    parent = ref.parent
    if parent is None:
        return {}
    merged = list(parent.job_model.get("merge_adapters") or [])
    out: dict[str, Any] = {"pretrained": parent.pretrained}
    if not parent.peft:  # ref is the parent's full model folder already
        return out
    if continues_adapter(spec, parent):
        out["continue_adapter"] = str(parent.weights_dir)
    else:
        merged.append(str(parent.weights_dir))
    if merged:
        out["merge_adapters"] = merged
    return out


def build_job(spec, ref, layout: Layout, prepared: PreparedData, steps: int, spec_dir=None) -> Job:
    dtype, mixed, _ = precision(layout)
    rewards = [{**r.model_dump(mode="json", exclude_none=True), "name": reward_name(r)} for r in spec.rewards]
    return Job(
        method=spec.method,
        # A local folder is resolved against the spec's folder here: the trainer runs from another cwd.
        model={"base": str(ref.local_dir) if ref.kind == "local" else ref.base, "revision": ref.revision,
               "trust_remote_code": spec.model.trust_remote_code, "dtype": dtype,
               "attn_implementation": None if spec.training.attention == "auto" else spec.training.attention,
               **from_parent(spec, ref)},
        peft=peft_config(spec),
        quantization=quantization(spec, layout),
        trainer_args=trainer_args(spec, layout, prepared, mixed, gradient_checkpointing(spec, layout)),
        # data.chat_template: the trainer sets it on the tokenizer, as TRL's chat_template_path does.
        chat_template=CHAT_TEMPLATE if spec.data.chat_template else None,
        data={"train": TRAIN_DATA, "validation": VALIDATION_DATA if has_validation_rows(prepared)
              and get_method(spec.method).has_validation_loss else None},
        expected_optimizer_steps=steps,
        loss_kernel="plain" if spec.training.loss_kernel == "plain" else None,
        training_chat_template=TRAINING_CHAT_TEMPLATE if prepared.training_template else None,
        render_date=prepared.render_date.isoformat() if prepared.render_date else None,
        rewards=rewards or None,
        rewards_dir=str(spec_dir) if rewards and spec_dir is not None else None,
    )
