"""Compile a loaded spec into a Plan: the resolved job, its launch files, exact counts and the cost preview.

The Plan is a data object (Terraform style): ``views.py`` renders it as text or JSON, ``apply`` executes
exactly what it holds. Nothing here imports torch.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from ftspec.data.pipeline import PreparedData, no_rows_cause, packing_strategy, prepare
from ftspec.models.resolve import resolve_model
from ftspec.plan import fingerprint
from ftspec.plan.architectures import find_architecture
from ftspec.plan.estimate import EstimateError, estimate
from ftspec.plan.launch import Layout, render_launch, resolve_layout
from ftspec.plan.steps import optimizer_steps

PLAN_FORMAT = 1
CHAT_TEMPLATE_FILE = "data/chat_template.jinja"  # in the run folder
NO_ROWS_RULE = "FT110"  # ftspec/lint/rules/ft110_no_training_rows.py says the same in lint


class PlanError(Exception):
    """A spec that cannot be planned; ``spec_path`` says where (for a located message)."""

    def __init__(self, message: str, spec_path: tuple = (), file: str | None = None, line: int | None = None,
                 code: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.spec_path, self.file, self.line = message, spec_path, file, line
        self.code, self.hint = code, hint  # the lint rule that names the problem; FT000 when none does


class TrainTokens(BaseModel):
    per_epoch: int | None  # tokens through the model per epoch, no padding (DPO: chosen + rejected)
    loss_bearing_per_epoch: int | None  # tokens that carry a label
    total: int | None  # per epoch x epochs: what FLOPs and the managed platforms' bills count


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = PLAN_FORMAT
    name: str
    method: str
    spec_file: str
    spec: dict  # the resolved spec (extends merged, defaults filled)
    fingerprint: dict
    optimizer_steps: int
    optimizer_steps_exact: bool
    train_tokens: TrainTokens
    tokens_estimated: bool  # True without the model's tokenizer (character-based estimate)
    flops: float | None
    peak_memory_gib_per_device: float | None
    wall_time_hours: float | None
    cost_usd: float | None
    fits: bool | None  # None on the CPU (host RAM, no fit check) or for an unknown architecture
    remedies: list[dict]  # each with its own re-estimated memory
    managed_costs: list[dict]  # the same training tokens on managed platforms, where the guides give a price
    data: dict  # counts of the pipeline: read, split, mixed, dropped, rows the trainer sees
    layout: dict
    launch: dict  # accelerate_config, launch_argv, launch_line, sbatch, skypilot
    job: dict  # what the training entry point receives
    estimate: dict | None
    notes: list[str]


def _precision(layout: Layout) -> tuple[str, str, str]:
    """(load dtype, mixed-precision flag for the trainer, the estimator's precision)."""
    if layout.mixed_precision == "bf16":
        return "bfloat16", "bf16", "bf16"
    if layout.mixed_precision == "fp16":
        # fp16 AMP needs fp32 master weights: load fp32, autocast to half.
        return "float32", "fp16", "bf16-mixed"
    return "float32", "no", "fp32"


def _gradient_checkpointing(spec, layout: Layout) -> bool:
    if spec.training.gradient_checkpointing is not None:
        return spec.training.gradient_checkpointing
    return layout.accelerator != "cpu"


def trainer_args(spec, layout: Layout, prepared: PreparedData, mixed: str, checkpointing: bool) -> dict[str, Any]:
    t, d = spec.training, spec.data
    has_validation = has_validation_rows(prepared)
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
        "optim": "adamw_bnb_8bit" if t.optimizer == "adamw_8bit" else "adamw_torch",
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
        "report_to": ["tensorboard"],
        "max_length": d.max_length,
    }
    if has_validation:
        # Tracking the best checkpoint also keeps it from checkpoint rotation (save_total_limit).
        args.update(metric_for_best_model="eval_loss", greater_is_better=False)
    if spec.method in ("sft", "cpt"):
        args.update(packing=d.packing, packing_strategy=packing_strategy(spec.method))
    if spec.method == "sft":
        args["assistant_only_loss"] = d.assistant_only_loss
    if spec.method == "cpt":
        args["dataset_text_field"] = "text"
    if spec.method == "dpo":
        args["beta"] = t.dpo_beta
    return args


def has_validation_rows(prepared: PreparedData) -> bool:
    return bool(prepared.validation) and prepared.counts.get("validation_rows", 1) > 0


def peft_config(spec) -> dict | None:
    a = spec.adapter
    if a.type == "full":
        return None
    return {"r": a.rank, "lora_alpha": a.alpha, "lora_dropout": a.dropout,
            "target_modules": a.target_modules, "use_rslora": a.type == "rslora"}


def quantization(spec) -> dict | None:
    if spec.adapter.type != "qlora":
        return None
    return {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": "bfloat16",
            "bnb_4bit_use_double_quant": True}


def _arch(spec, ref) -> tuple[dict | None, str | None]:
    if ref.config:
        return ref.config, f"config.json of {ref.kind} model"
    arch = find_architecture(spec.model.base)
    return (arch, "ftspec's architecture catalogue") if arch else (None, None)


def _managed_costs(total_tokens: int | None) -> list[dict]:
    from ftspec.platforms import managed_training_costs

    if not total_tokens:
        return []
    return [{"platform": p.platform, "model": p.model, "cost": round(cost, 4), "currency": p.currency,
             "price": p.price, "per_tokens": p.per_tokens, "source": p.source}
            for p, cost in managed_training_costs(total_tokens)]


def build_plan(loaded, *, run_dir_placeholder: str = "RUN_DIR") -> Plan:
    """Compile ``loaded`` (a LoadedSpec that passed lint) into a Plan; PlanError for what cannot run."""
    from ftspec.data.pipeline import PipelineError, load_tokenizer
    from ftspec.plan.launch import LayoutError

    spec = loaded.spec
    try:
        layout = resolve_layout(spec)
    except LayoutError as exc:
        raise PlanError(exc.message, exc.field) from None
    try:
        ref = resolve_model(spec.model.base, spec.model.revision, spec_dir=loaded.dir)
    except ValueError as exc:
        raise PlanError(str(exc), ("model", "base")) from None
    notes: list[str] = []
    try:
        tok = load_tokenizer(loaded)
        prepared = prepare(loaded, tok)
        if tok is None:
            exact = "exact (no sample can reach max_length)" if prepared.rows is not None else "an estimate"
            notes.append(f"{spec.model.base}'s tokenizer is not on this machine: token counts are estimates and the "
                         f"step count is {exact}; download the model (or point model.base at a folder) for exact counts")
    except PipelineError as exc:
        raise PlanError(exc.message, exc.spec_path, exc.file, exc.line, exc.code, exc.hint) from None

    t = spec.training
    rows, exact_steps = prepared.rows, prepared.rows is not None
    if rows is None:  # no tokenizer and packing or possible drops: an estimate, flagged as one
        per = prepared.tokens_per_epoch or 0
        rows = math.ceil(per / spec.data.max_length) if spec.data.packing else prepared.counts["train"]
    if rows == 0:
        raise PlanError(no_rows_cause(prepared.counts, spec.data.max_length), ("data", "max_length"), code=NO_ROWS_RULE,
                        hint="raise data.max_length, shorten the samples, or set over_length: truncate")
    steps = optimizer_steps(rows, epochs=t.epochs, per_device_batch=t.batch_size,
                            grad_accum=t.gradient_accumulation, world_size=layout.num_processes)
    per_epoch = prepared.tokens_per_epoch
    total_tokens = math.ceil(per_epoch * t.epochs) if per_epoch is not None else None

    dtype, mixed, est_precision = _precision(layout)
    checkpointing = _gradient_checkpointing(spec, layout)
    arch, arch_source = _arch(spec, ref)
    est = None
    if arch is None:
        notes.append(f"no architecture known for {spec.model.base}: memory, FLOPs, time and cost are not estimated")
    else:
        try:
            est = estimate(
                arch, adapter=spec.adapter.type, accelerator=layout.accelerator,
                train_tokens=total_tokens or 0, rank=spec.adapter.rank, target_modules=spec.adapter.target_modules,
                micro_batch_size=t.batch_size, seq_len=prepared.max_seq_len or spec.data.max_length,
                attention_seq_len=round(prepared.attention_seq_len) if prepared.attention_seq_len else None,
                gradient_checkpointing=checkpointing, precision=est_precision,
                num_processes=layout.num_processes, distributed=layout.distributed,
                optimizer="adamw8bit" if t.optimizer == "adamw_8bit" else "adamw",
            )
        except EstimateError as exc:
            notes.append(f"not estimated: {exc}")
        notes.append(f"model shape from {arch_source}")
    if prepared.validation and not has_validation_rows(prepared):
        notes.append("every validation sample loses all its loss-bearing tokens to max_length: no validation loss "
                     "(raise data.max_length or use over_length: drop)")
    if spec.method == "dpo":
        notes.append("DPO: the frozen reference model's forward passes are not in the FLOPs (about +1/3)")
    if total_tokens is None:
        notes.append("train_tokens unknown: FLOPs, time and cost are not estimated")

    launch = render_launch(layout, run_dir=run_dir_placeholder, job_name=spec.name)
    job = {
        "method": spec.method,
        # A local folder is resolved against the spec's folder here: the trainer runs from another cwd.
        "model": {"base": str(ref.local_dir) if ref.kind == "local" else spec.model.base, "revision": spec.model.revision,
                  "trust_remote_code": spec.model.trust_remote_code, "dtype": dtype},
        "peft": peft_config(spec),
        "quantization": quantization(spec),
        "trainer_args": trainer_args(spec, layout, prepared, mixed, checkpointing),
        # data.chat_template: the trainer sets it on the tokenizer, as TRL's chat_template_path does.
        "chat_template": CHAT_TEMPLATE_FILE if spec.data.chat_template else None,
        "data": {"train": "data/train.jsonl",
                 "validation": "data/validation.jsonl" if has_validation_rows(prepared) else None},
        "expected_optimizer_steps": steps,
    }
    have_cost = est is not None and total_tokens is not None
    price = spec.compute.price_per_gpu_hour
    cost = None
    if have_cost:
        cost = est.gpu_hours * price if price is not None else est.cost_usd
    return Plan(
        name=spec.name, method=spec.method, spec_file=str(loaded.path), spec=spec.model_dump(mode="json"),
        fingerprint=fingerprint.compute(loaded, ref),
        optimizer_steps=steps, optimizer_steps_exact=exact_steps,
        tokens_estimated=prepared.tokens_estimated,
        train_tokens=TrainTokens(per_epoch=per_epoch, loss_bearing_per_epoch=prepared.loss_tokens_per_epoch,
                                 total=total_tokens),
        flops=est.total_flops if have_cost else None,
        peak_memory_gib_per_device=round(est.memory.total, 2) if est else None,
        wall_time_hours=est.wall_time_hours if have_cost else None,
        cost_usd=round(cost, 4) if cost is not None else None,
        fits=est.fit.fits if est else None,
        managed_costs=_managed_costs(total_tokens),
        remedies=[{"action": r.action, "change": r.change, "memory_gib": r.memory_gib, "fits": r.fits}
                  for r in (est.fit.remedies if est else ())],
        data={**prepared.counts, "rows": rows, "max_seq_len": prepared.max_seq_len},
        layout=layout.to_dict(),
        launch=launch.to_dict(),
        job=job,
        estimate=est.to_dict() if est else None,
        notes=notes + (list(est.notes) if est else []),
    )
