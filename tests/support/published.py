"""Published measurements (``published_measurements.py``) as the cost model sees them: each row's setup mapped to
``estimate()``'s arguments by its source's stack, which rows can be scored and why the others cannot, and the
scores. Used by tests/test_estimate.py and bench/bench_published.py (which prints the table in docs/estimation.md).

The mapping rules are fixed per source before any prediction: they say what each stack really runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftspec.launch.accelerators import get_accelerator
from ftspec.models.architectures import find_architecture
from ftspec.plan.estimate import estimate
from ftspec.plan.estimate_terms import GIB
from support.published_measurements import HELD_BACK, SOURCES, VALIDATION

GB_TO_GIB = 1e9 / GIB

# How each source's stack meets the vocabulary (estimate's loss_impl), from its code:
# Qwen-1's modeling_qwen.py takes CrossEntropyLoss on the bf16 logits ("hf-bf16", as docs/estimation.md);
# litgpt's chunked_cross_entropy ("chunked"); transformers' ForCausalLMLoss upcasts the full logits to fp32 ("hf":
# the PEFT guides' TRL SFTTrainer of 2024, ms-swift, the Unsloth blog's HF+FA2 column); ms-swift's --use_liger_kernel
# patches in Liger's fused linear cross-entropy, which never builds the logits ("fused", with Liger's layer kernels).
STACK_LOSS = {"qwen1_readme": "hf-bf16", "litgpt_config_hub": "chunked"}
ROW_LOSS = {"hf": "hf", "liger": "fused", "chunked": "chunked", "fused": "fused"}
ATTENTION = {"flash_attention_2": "flash", "sdpa": "sdpa", "eager": "eager"}
# fp16 AMP keeps fp32 master weights, as bf16 mixed precision does; bf16-true / pure bf16 trains the loaded weights.
PRECISION = {"bf16": "bf16", "bf16-mixed": "bf16-mixed", "fp16": "bf16-mixed", "fp32": "fp32"}
# The DeepSpeed config each stack ships: its optimizer and reduce_bucket_size ("auto" is filled by transformers' DeepSpeed
# integration with hidden_size^2). A config with an "optimizer" section runs DeepSpeed's FusedAdam ("adamw-fused"); one
# without runs the Trainer's optim, adamw_torch (torch's foreach AdamW) before transformers made adamw_torch_fused the
# default for torch >= 2.8 (Aug 2025), later than these runs. Qwen-1: finetune/ds_config_zero2.json and
# ds_config_zero3.json at the commit above; ms-swift: swift/llm/ds_config/zero2.json and zero3.json (the Megatron
# benchmark page's deepspeed.sh passes --deepspeed zero2 / zero3). Other stacks (litgpt, the PEFT guides' accelerate
# plugin configs) leave both at their defaults: torch's foreach AdamW, DeepSpeed's 5e8 bucket.
HIDDEN_SQUARED = "hidden_size^2"
DEEPSPEED_CONFIGS = {
    ("qwen1_readme", "zero2"): ("adamw-fused", 200_000_000),
    ("qwen1_readme", "zero3"): ("adamw-fused", HIDDEN_SQUARED),
    ("ms_swift", "zero2"): ("adamw-fused", 200_000_000),
    ("ms_swift", "zero3"): ("adamw", HIDDEN_SQUARED),
}
# litgpt prints torch.cuda.max_memory_allocated; every other source a device-level or reserved figure.
ALLOCATED_SOURCES = ("litgpt_config_hub",)


def unscored_reason(row: dict) -> str | None:
    """Why a row cannot score the memory model, or None. Rules, fixed before any prediction: the source must state
    what sets the peak (tokens per micro-batch: packed, padded, or samples known to reach the cap) and run a layout
    ftspec runs; a figure below what any AdamW run must hold, or the card's whole size, is not a measurement."""
    distributed = str(row["distributed"])
    if "offload" in distributed or row["checkpointing"] == "unsloth-offload":
        return "CPU offload (of parameters or checkpointed activations): not a layout ftspec runs"
    if "ulysses" in distributed:
        return "sequence parallelism: not a layout ftspec runs"
    if row["kind"] != "memory":
        return None  # a fit / OOM row: scored on fit only
    if not row["packed"] and not row["padded"] and row["typical_len"] and row["source"] != "litgpt_config_hub" \
            and "peak set by the longest" not in row["typical_len"]:
        return "samples shorter than the cap, the longest not stated: the tokens per micro-batch are unknown"
    if row["label"] in ("litgpt-llama3.2-1b-full", "litgpt-llama3.2-3b-full"):
        return "below weights + gradients + two bf16 moments (8 B a parameter): less than any AdamW run holds"
    if "allocator filled the card" in (row["note"] or ""):
        return "the card's whole memory (expandable segments): a lower bound, scored on fit only"
    return None


def architecture(row: dict) -> dict:
    if row["config"]:
        return {k: v for k, v in row["config"].items() if not k.startswith("_")}
    model = row["model"].replace("-Chat-Int4", "").replace("-Int4", "")
    arch = find_architecture(model)
    if arch is None:
        raise KeyError(f"no architecture for {row['model']}")
    return arch


def arguments(row: dict) -> dict:
    """estimate()'s keyword arguments for the row's run."""
    distributed = str(row["distributed"]).split("+")[0]
    if distributed.startswith("ulysses"):  # unscored; priced as plain data parallelism for the table
        distributed = "ddp"
    targets = row["targets"] or "all-linear"
    loss = STACK_LOSS.get(row["source"], ROW_LOSS.get(row["loss"], "hf"))
    stack = "ms_swift" if row["source"].startswith("ms_swift") else row["source"]
    optimizer, bucket = DEEPSPEED_CONFIGS.get((stack, distributed), (row["optimizer"], None))
    if bucket == HIDDEN_SQUARED:
        bucket = architecture(row)["hidden_size"] ** 2
    return dict(
        adapter=row["method"], accelerator=row["gpu"], train_tokens=0, rank=row["rank"] or 8,
        target_modules="all-linear" if targets == "all-linear+lm_head" else targets,
        micro_batch_size=row["micro_batch"], seq_len=row["seq_len"] or 512,
        gradient_checkpointing=bool(row["checkpointing"]), precision=PRECISION[row["precision"]],
        num_processes=row["gpus"], distributed=distributed if row["gpus"] > 1 or distributed.startswith("zero") else "none",
        optimizer=optimizer, zero_reduce_bucket=bucket, loss_impl=loss, attention_impl=ATTENTION[row["attention"]],
        liger=row["loss"] == "liger", nodes=2 if "multinode" in row["label"] else 1)


def measured_gib(row: dict) -> float | None:
    if row["memory"] is None:
        return None
    return row["memory"] if row["unit"] == "GiB" else row["memory"] * GB_TO_GIB


def device_gib(row: dict) -> float:
    """The card the run used, as CUDA reports it; a fit row's stated budget where it names one."""
    if row["kind"] in ("fits", "oom") and row["memory"] is not None:
        card = get_accelerator(row["gpu"]).memory_gib
        return min(card, measured_gib(row)) if row["unit"] != "GiB" else measured_gib(row)
    return get_accelerator(row["gpu"]).memory_gib


@dataclass
class Scored:
    row: dict
    reason: str | None  # why the memory is not scored
    predicted_gib: float  # per device, the figure the source measured (allocated or total)
    measured_gib: float | None
    fits_predicted: bool  # predicted total <= the card's memory
    fits_measured: bool | None  # the run ran (a measurement or "fits"), or did not ("oom")
    total_gib: float = 0.0  # the predicted per-device total, what the fit is judged on
    time_predicted_s: float | None = None  # per optimizer step
    time_measured_s: float | None = None

    @property
    def error(self) -> float | None:
        if self.reason or self.measured_gib is None or self.row["kind"] != "memory":
            return None
        return self.predicted_gib / self.measured_gib - 1

    @property
    def time_ratio(self) -> float | None:
        if self.time_predicted_s is None or self.time_measured_s is None:
            return None
        return self.time_predicted_s / self.time_measured_s


def tokens_per_step(row: dict) -> int | None:
    """Tokens of one optimizer step where the source fixes them (padded or packed to the stated length)."""
    if row["tokens_per_step"]:
        return row["tokens_per_step"]
    if (row["packed"] or row["padded"]) and row["seq_len"] and row["grad_accum"]:
        return row["micro_batch"] * row["grad_accum"] * row["gpus"] * row["seq_len"]
    return None


def score(row: dict) -> Scored:
    args = arguments(row)
    steps_tokens = tokens_per_step(row) if row["time_unit"] == "s/it" and row["time"] else None
    if steps_tokens:
        args.update(train_tokens=steps_tokens, optimizer_steps=1, micro_batches=row["grad_accum"])
    est = estimate(architecture(row), **args)
    which = "allocated" if row["source"] in ALLOCATED_SOURCES else "total"
    predicted = getattr(est.memory, which)
    fits_measured = None if row["kind"] == "memory" and row["memory"] is None else row["kind"] != "oom"
    return Scored(row, unscored_reason(row), predicted, measured_gib(row),
                  est.memory.total <= device_gib(row), fits_measured,
                  est.memory.total, est.wall_time_hours * 3600 if steps_tokens else None,
                  row["time"] if steps_tokens else None)


def scored(rows) -> list[Scored]:
    return [score(r) for r in rows]


def validation() -> list[Scored]:
    return scored(VALIDATION)


def held_back() -> list[Scored]:
    return scored(HELD_BACK)


def sources(rows: list[Scored]) -> set[str]:
    return {s.row["source"].split("_docs")[0] if s.row["source"].startswith("peft") else s.row["source"]
            for s in rows if s.error is not None}


__all__ = ["SOURCES", "Scored", "held_back", "validation", "score", "sources"]
