"""The planner's cost model: parameters, GPU memory, FLOPs, wall time and money, as pure arithmetic.

Built from and held to shared/COMPUTE-REFERENCES.md; docs/estimation.md writes every term down with its
source and compares the predictions with the published measurements. No torch, no transformers: this runs
inside ``ftspec plan``, whose cold start must stay under two seconds.

Units: bytes inside, GiB (2**30) in every reported memory figure, per device.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence, get_args

from ftspec.launch.accelerators import Accelerator, get_accelerator, interconnect_gb_s
from ftspec.plan.estimate_terms import (
    COLLECTIVE_EFFICIENCY, COMMUNICATION_OVERLAP, CPU_SECONDS_PER_VOCAB_TOKEN, DEFAULT_LOSS_IMPL, EIGHT_BIT_OPTIMIZERS,
    FIT_HEADROOM, FUSED_KERNELS_MFU_FACTOR, GENERATION_MFU_FACTOR, INTER_NODE_GB_S, MEMORY_BAND, MFU_PRIORS, NF4_BYTES_PER_PARAM,
    OPTIMIZER_BANDWIDTH_EFFICIENCY, OPTIMIZER_STEP_BYTES, QLORA_REFERENCE_TOKENS, QLORA_SLOWDOWN, TIME_BAND,
    ZERO_REDUCE_BUCKET, Adapter, AttentionImpl,
    Distributed, EstimateError, LossImpl, Optimizer, Precision)
from ftspec.plan.memory import FitReport, MemoryBreakdown, Setup, fit_report, memory_breakdown, trainable_parameters
from ftspec.plan.model_shape import ModelShape, as_shape, count_parameters, matmul_parameters


def attention_flops_per_token(s: ModelShape, st: Setup) -> float:
    """The attention score and value matmuls' share of flops_per_token (recomputation included)."""
    return (6 + (2 if st.gradient_checkpointing else 0)) * s.layers * st.attention_seq_len * s.q_dim


def flops_per_token(s: ModelShape, st: Setup, trainable: int) -> float:
    n = matmul_parameters(s)
    # Causal attention with FlashAttention/SDPA skips the masked half: QK^T and AV cost 2·s·q_dim per
    # token forward, x3 for training = 6·L·s·q_dim.
    attention = 6 * s.layers * st.attention_seq_len * s.q_dim
    recompute_attention = 2 * s.layers * st.attention_seq_len * s.q_dim
    if st.adapter == "full":
        flops = 6 * n + attention  # forward 2N, backward 4N (input and weight gradients)
        recompute = 2 * n + recompute_attention
    else:
        # Frozen base: forward 2N and input gradients 2N, no weight gradients; the adapter does 6P.
        flops = 4 * n + 6 * trainable + attention
        recompute = 2 * n + 2 * trainable + recompute_attention
    return flops + (recompute if st.gradient_checkpointing else 0)


def optimizer_step_seconds(st: Setup, trainable: int, steps: int) -> float:
    """The optimizer steps' time: each streams its share of the trainable parameters' states through memory once."""
    acc = st.accelerator
    if not steps or acc.bandwidth_gb_s is None:
        return 0.0
    if st.optimizer in EIGHT_BIT_OPTIMIZERS:
        per_param = OPTIMIZER_STEP_BYTES["8bit"]
    elif st.adapter != "full" or st.precision != "bf16":  # fp32 adapters, or fp32 master weights and moments
        per_param = OPTIMIZER_STEP_BYTES["fp32-states"]
    else:
        per_param = OPTIMIZER_STEP_BYTES["bf16-states"]
    sharded = st.distributed in ("zero2", "zero3", "fsdp") and st.num_processes > 1
    share = trainable / st.num_processes if sharded else trainable
    return steps * share * per_param / (acc.bandwidth_gb_s * 1e9 * OPTIMIZER_BANDWIDTH_EFFICIENCY)


def gather_seconds(s: ModelShape, st: Setup, trainable: int, micro_batches: int) -> float:
    """ZeRO-3 / FSDP: every micro-batch all-gathers every layer's weights for the forward, again for the backward (and
    once more for the recomputation under checkpointing), and reduce-scatters the gradients."""
    world = st.num_processes
    link = interconnect_gb_s(st.accelerator)
    if st.distributed not in ("zero3", "fsdp") or world < 2 or not micro_batches or link is None:
        return 0.0
    if st.nodes > 1:
        link = min(link, INTER_NODE_GB_S)
    weight_bytes = NF4_BYTES_PER_PARAM if st.adapter == "qlora" else (4 if st.precision == "fp32" else 2)
    gathers = 3 if st.gradient_checkpointing else 2
    per_micro_batch = (gathers * count_parameters(s) * weight_bytes + trainable * 2) * (world - 1) / world
    return micro_batches * per_micro_batch / (link * 1e9 * COLLECTIVE_EFFICIENCY)


@dataclass(frozen=True)
class Estimate:
    """What a run costs, per device for memory and in total for compute, time and money."""

    adapter: str
    accelerator: str
    num_processes: int
    distributed: str
    micro_batch_size: int
    seq_len: int
    gradient_checkpointing: bool
    precision: str
    optimizer: str
    loss_impl: str
    attention_impl: str
    total_parameters: int
    trainable_parameters: int
    memory: MemoryBreakdown
    memory_range_gib: tuple[float, float]  # +-MEMORY_BAND around memory.total
    fit: FitReport
    train_tokens: int
    flops_per_token: float
    total_flops: float
    peak_tflops_per_device: float
    mfu: float  # utilisation assumed (prior or the caller's calibration), QLoRA slowdown applied
    wall_time_hours: float
    wall_time_range_hours: tuple[float, float]  # +-TIME_BAND
    communication_hours: float  # ZeRO-3 / FSDP weight gathers and gradient reduce-scatters (before any overlap)
    optimizer_step_hours: float  # the optimizer steps, memory-bound (included in wall_time_hours)
    gpu_hours: float
    price_usd_per_gpu_hour: float | None
    price_source: str
    cost_usd: float | None
    cost_range_usd: tuple[float, float] | None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _band(value: float, band: float, digits: int = 4) -> tuple[float, float]:
    return round(value * (1 - band), digits), round(value * (1 + band), digits)


def estimate(
    arch: dict | ModelShape,
    *,
    adapter: Adapter,
    accelerator: str | Accelerator,
    train_tokens: int,
    rank: int = 8,
    target_modules: str | Sequence[str] = "all-linear",
    micro_batch_size: int = 8,
    seq_len: int = 1024,
    gradient_checkpointing: bool = True,
    precision: Precision = "bf16",
    num_processes: int = 1,
    distributed: Distributed = "none",
    optimizer: Optimizer = "adamw",
    loss_impl: LossImpl = DEFAULT_LOSS_IMPL,
    attention_impl: AttentionImpl = "sdpa",
    attention_seq_len: int | None = None,
    mfu: float | None = None,
    device_memory_gib: float | None = None,
    headroom: float = FIT_HEADROOM,
    generated_tokens: int = 0,
    generation_kv_tokens: int = 0,
    reference_model: bool = False,
    liger: bool = False,
    nodes: int = 1,
    optimizer_steps: int = 0,
    micro_batches: int = 0,
    zero_reduce_bucket: int | None = None,
) -> Estimate:
    """Estimate memory per device, FLOPs, wall time and cost of one training run.

    Defaults follow TRL 1.x SFTConfig / PEFT (micro-batch 8, max_length 1024, gradient checkpointing on,
    bf16, fused loss, r=8). ``train_tokens`` counts every token the model processes over all epochs and
    all processes (padding included if the batches are padded). ``attention_seq_len`` is the length
    attention spans on average, sum(s^2)/sum(s) over the samples (defaults to ``seq_len``, an upper
    bound). ``mfu`` replaces the prior with a calibrated utilisation. ``device_memory_gib`` overrides
    the accelerator's memory for the fit check. GRPO: ``generated_tokens`` are decoded one forward pass each
    (2N FLOPs, at GENERATION_MFU_FACTOR of the utilisation), ``generation_kv_tokens`` the KV cache one process holds
    while generating, ``reference_model`` a frozen copy of the weights (and its forward pass on every trained token).
    ``liger``: Liger's layer kernels. ``optimizer_steps`` and ``micro_batches`` (per process) time the optimizer steps
    and, under ZeRO-3 / FSDP, the weight gathers of every micro-batch (over ``nodes`` machines).
    ``zero_reduce_bucket``: a DeepSpeed config's reduce_bucket_size (ftspec's own launches leave DeepSpeed's default).
    """
    acc = accelerator if isinstance(accelerator, Accelerator) else get_accelerator(accelerator)
    s = as_shape(arch)
    if loss_impl == "chunked_nll":  # TRL's deprecated alias of its fused default
        loss_impl = "fused"
    for name, value, allowed in (("adapter", adapter, Adapter), ("distributed", distributed, Distributed),
                                 ("precision", precision, Precision), ("optimizer", optimizer, Optimizer),
                                 ("loss_impl", loss_impl, LossImpl), ("attention_impl", attention_impl, AttentionImpl)):
        if value not in get_args(allowed):
            raise EstimateError(f"{name} must be one of {', '.join(get_args(allowed))}, got {value!r}")
    for name, value in (("micro_batch_size", micro_batch_size), ("seq_len", seq_len), ("num_processes", num_processes)):
        if value < 1:
            raise EstimateError(f"{name} must be at least 1, got {value}")
    if train_tokens < 0:
        raise EstimateError(f"train_tokens must not be negative, got {train_tokens}")
    if num_processes > 1 and distributed == "none":
        raise EstimateError(f"{num_processes} processes need a distributed strategy (ddp, fsdp, zero2, zero3)")
    if acc.memory_gib is None and num_processes > 1:
        raise EstimateError("the CPU accelerator runs one process")
    st = Setup(adapter, rank, target_modules if isinstance(target_modules, str) else tuple(target_modules),
                micro_batch_size, seq_len, train_tokens, gradient_checkpointing, precision, acc, num_processes,
                distributed, optimizer, loss_impl, attention_impl, attention_seq_len or seq_len,
                generation_kv_tokens, reference_model, liger, nodes,
                ZERO_REDUCE_BUCKET if zero_reduce_bucket is None else zero_reduce_bucket)

    trainable = trainable_parameters(s, st)
    memory = memory_breakdown(s, st)
    fitting = fit_report(s, st, memory, device_memory_gib, headroom)

    per_token = flops_per_token(s, st, trainable)
    forward = 2 * matmul_parameters(s)
    train_flops = per_token * train_tokens + (forward * train_tokens if reference_model else 0)
    generation_flops = forward * generated_tokens
    total_flops = train_flops + generation_flops
    utilisation = mfu if mfu is not None else MFU_PRIORS[acc.mfu_class]
    fused_kernels = attention_impl == "flash" or liger
    if mfu is None and fused_kernels and acc.memory_gib is not None:
        utilisation *= FUSED_KERNELS_MFU_FACTOR
    # QLoRA dequantises every weight on every use, once per micro-batch whatever its length: the slowdown applies to
    # the weights' matmuls, not to attention's (which dominates at long context), and shrinks as a micro-batch's
    # tokens share the dequantisation.
    slowdown = 1.0
    if adapter == "qlora":
        if micro_batches and train_tokens:
            micro_batch_tokens = train_tokens / (micro_batches * num_processes)
        else:
            micro_batch_tokens = micro_batch_size * seq_len
        slowdown = 1 + (QLORA_SLOWDOWN - 1) * QLORA_REFERENCE_TOKENS / max(micro_batch_tokens, 1)
    attention_flops = attention_flops_per_token(s, st) * train_tokens
    on_cpu = acc.memory_gib is None
    device_flops = num_processes * acc.peak_bf16_tflops * 1e12
    seconds = ((train_flops - attention_flops) * slowdown + attention_flops) / (device_flops * utilisation)
    utilisation /= slowdown  # reported, and used for decoding (all weight reads)
    if generated_tokens:
        seconds += generation_flops / (device_flops * utilisation * GENERATION_MFU_FACTOR["cpu" if on_cpu else "gpu"])
    if on_cpu:  # the vocabulary-wide loss work, measured (CPU_SECONDS_PER_VOCAB_TOKEN); decoding has a third of it
        seconds += CPU_SECONDS_PER_VOCAB_TOKEN * s.vocab * (train_tokens + generated_tokens / 3)
    gathers = gather_seconds(s, st, trainable, micro_batches)
    overlap = COMMUNICATION_OVERLAP.get(distributed, 0.0)
    seconds += gathers - overlap * min(gathers, seconds)  # what compute does not hide
    step_seconds = optimizer_step_seconds(st, trainable, optimizer_steps)
    seconds += step_seconds
    hours = seconds / 3600
    gpu_hours = hours * num_processes
    price = acc.price_usd_per_hour
    cost = gpu_hours * price if price is not None else None

    notes = []
    if acc.memory_gib is None:
        notes.append("CPU: memory is host RAM, no fit check; time is an order of magnitude at best")
    if adapter == "qlora" and not acc.supports_4bit:
        notes.append(f"bitsandbytes 4-bit needs a CUDA GPU; {acc.name} cannot run QLoRA")
    if price is None and acc.memory_gib is not None:
        notes.append(f"no citable price for {acc.name}: cost not estimated; set compute.price_per_gpu_hour")
    if acc.price_picked:
        notes.append(f"price for {acc.name} is our pick, not a catalogue figure: {acc.price_source}")
    if mfu is None and acc.memory_gib is not None:
        kernels = " with fused kernels (FlashAttention-2 or Liger)" if fused_kernels else ""
        notes.append(f"MFU {utilisation:.0%} is an uncalibrated prior for HF Trainer/TRL{kernels} on {acc.mfu_class} "
                     "GPUs")

    return Estimate(
        adapter=adapter, accelerator=acc.name, num_processes=num_processes, distributed=distributed,
        micro_batch_size=micro_batch_size, seq_len=seq_len, gradient_checkpointing=gradient_checkpointing,
        precision=precision, optimizer=optimizer, loss_impl=loss_impl, attention_impl=attention_impl,
        total_parameters=count_parameters(s), trainable_parameters=trainable,
        memory=memory, memory_range_gib=_band(memory.total, MEMORY_BAND, 2), fit=fitting,
        train_tokens=train_tokens, flops_per_token=per_token, total_flops=total_flops,
        peak_tflops_per_device=acc.peak_bf16_tflops, mfu=utilisation,
        wall_time_hours=hours, wall_time_range_hours=_band(hours, TIME_BAND),
        communication_hours=gathers / 3600, optimizer_step_hours=step_seconds / 3600,
        gpu_hours=gpu_hours, price_usd_per_gpu_hour=price, price_source=acc.price_source,
        cost_usd=cost, cost_range_usd=_band(cost, TIME_BAND, 2) if cost is not None else None,
        notes=tuple(notes),
    )


def fit(arch: dict | ModelShape, *, device_memory_gib: float | None = None, headroom: float = FIT_HEADROOM,
        **setup) -> FitReport:
    """Does the run fit on its accelerator (or on ``device_memory_gib``)? If not, remedies, each re-estimated.

    Takes estimate()'s keyword arguments; ``train_tokens`` may be left out (memory does not depend on it).
    """
    setup.setdefault("train_tokens", 0)
    return estimate(arch, device_memory_gib=device_memory_gib, headroom=headroom, **setup).fit
