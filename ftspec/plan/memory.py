"""Peak GPU (or host) memory per device of one training setup, term by term, and whether it fits: the remedies that
would make it fit are each re-estimated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ftspec.launch.accelerators import Accelerator
from ftspec.plan.estimate_terms import (
    CPU_BYTES_PER_VOCAB_TOKEN, CPU_PROCESS_GIB, CUDA_CONTEXT_GIB, EIGHT_BIT_OPTIMIZERS, FP32_MASTER_LAYOUTS,
    FRAGMENTATION, FUSED_TOKEN_TILE, FUSED_VOCAB_TILE, GIB, LOGITS_BYTES_PER_VOCAB, NCCL_BUFFERS_GIB,
    NF4_BYTES_PER_PARAM, ZERO3_MAX_LIVE_PARAMETERS, ZERO_REDUCE_BUCKET, ZERO_SUB_GROUP, Adapter, AttentionImpl, Distributed, LossImpl, Optimizer, Precision)
from ftspec.plan.model_shape import (ModelShape, count_parameters, lora_trainable_parameters,
                                     quantisable_parameters)


@dataclass(frozen=True)
class Setup:
    adapter: Adapter
    rank: int
    target_modules: str | tuple[str, ...]
    micro_batch_size: int
    seq_len: int
    train_tokens: int
    gradient_checkpointing: bool
    precision: Precision
    accelerator: Accelerator
    num_processes: int
    distributed: Distributed
    optimizer: Optimizer
    loss_impl: LossImpl
    attention_impl: AttentionImpl
    attention_seq_len: int
    # GRPO: tokens of the KV cache one process holds while it generates (its generation batch x prompt+completion),
    # and a frozen reference model (beta > 0 with full fine-tuning; a LoRA run disables the adapter instead).
    generation_kv_tokens: int = 0
    reference_model: bool = False
    liger: bool = False  # Liger's layer kernels (training.loss_kernel: liger)
    nodes: int = 1
    zero_reduce_bucket: int = ZERO_REDUCE_BUCKET  # DeepSpeed's reduce_bucket_size (elements)

    def with_(self, **changes) -> "Setup":
        return dataclasses.replace(self, **changes)


def trainable_parameters(s: ModelShape, st: Setup) -> int:
    if st.adapter == "full":
        return count_parameters(s)
    return lora_trainable_parameters(s, st.rank, st.target_modules)


# ---------------------------------------------------------------- memory

@dataclass(frozen=True)
class MemoryBreakdown:
    """Peak memory per device, GiB. ``allocated`` is the live-tensor peak (torch.cuda.max_memory_allocated);
    ``total`` adds what lives outside the tensors and is what must fit on the device."""

    weights: float  # frozen base + trainable (incl. LoRA adapters, fp32)
    gradients: float  # of the trainable parameters
    optimizer: float  # AdamW moments (+ fp32 master under bf16-mixed)
    activations: float  # saved for backward: every layer without checkpointing, layer inputs with it
    layer_recompute: float  # with checkpointing: one layer's activations rebuilt during backward
    logits: float  # the loss's peak over the vocabulary
    buffers: float  # ZeRO-3/FSDP gathered layers, DDP gradient buckets, QLoRA dequantised weight
    cuda_context: float
    fragmentation: float
    allocated: float
    total: float
    process: float = 0.0  # CPU: the training process's resident set before any tensor (CPU_PROCESS_GIB)
    generation: float = 0.0  # GRPO: the KV cache and sampling logits while completions are generated
    reference_model: float = 0.0  # GRPO with beta > 0, full fine-tuning: the frozen reference copy


def _weight_bytes(s: ModelShape, st: Setup, trainable: int) -> float:
    total = count_parameters(s)
    base_bytes = 4 if st.precision == "fp32" else 2
    if st.adapter == "full":
        return total * base_bytes
    adapters = trainable * 4  # PEFT upcasts adapters to fp32 (autocast_adapter_dtype=True)
    if st.adapter == "qlora":
        quantised = quantisable_parameters(s)
        return quantised * NF4_BYTES_PER_PARAM + (total - quantised) * 2 + adapters
    return total * base_bytes + adapters


def _grad_and_optimizer_bytes(st: Setup, trainable: int) -> tuple[float, float]:
    if st.adapter != "full" or st.precision == "fp32":
        # fp32 parameters: LoRA adapters always (PEFT), everything under fp32. They are their own master.
        grad, moments, master = 4, (2 if st.optimizer in EIGHT_BIT_OPTIMIZERS else 8), 0
    else:
        grad = 2
        moment_bytes = 4 if st.precision == "bf16-mixed" else 2  # torch AdamW keeps moments in the param dtype
        moments = 2 if st.optimizer in EIGHT_BIT_OPTIMIZERS else 2 * moment_bytes  # 8-bit: two 1-byte states
        master = 4 if st.precision == "bf16-mixed" else 0
    return trainable * grad, trainable * (moments + master)


def _activation_bytes_per_token_layer(s: ModelShape, st: Setup) -> float:
    # Saved tensors of one HF Llama/Qwen2 block in bf16 with SDPA/FlashAttention (derived from
    # Korthikanti et al. 2205.05198 for a SwiGLU block): 20h + 4h_kv + 8I bytes per token.
    # Liger's SwiGLU keeps its two inputs and recomputes the activation in backward: 6I instead of 8I (its other
    # kernels' savings are not modelled).
    per_token = 20 * s.hidden + 4 * s.kv_dim + (6 if st.liger else 8) * s.intermediate
    if st.attention_impl == "eager":
        per_token += 5 * s.heads * st.seq_len  # scores, softmax, dropout mask: the 5as/h term
    return per_token * (2 if st.precision == "fp32" else 1)


def _logits_bytes(s: ModelShape, st: Setup, tokens: int) -> float:
    if st.loss_impl == "fused":
        tile = min(tokens, FUSED_TOKEN_TILE) * min(s.vocab, FUSED_VOCAB_TILE) * 2
        grad_hidden = tokens * s.hidden * 4  # accumulated in fp32
        grad_head = s.vocab * s.hidden * 4 if st.adapter == "full" else 0  # fp32 LM-head gradient
        return tile + grad_hidden + grad_head
    return LOGITS_BYTES_PER_VOCAB[st.loss_impl] * s.vocab * tokens


def _optimizer_step_bytes(st: Setup, trainable: int) -> float:
    """What one process's optimizer step allocates beyond the states it keeps (GPU only: on the CPU torch's AdamW
    updates one tensor at a time)."""
    share = trainable
    if st.distributed in ("zero2", "zero3", "fsdp"):
        share = trainable / st.num_processes
    if st.distributed == "zero3":
        share = min(ZERO_SUB_GROUP, share)  # ZeRO-3 steps one sub-group of at most sub_group_size at a time
    # DeepSpeed copies the gradient partition to fp32 before it steps (ZeRO-2: the whole partition; ZeRO-3: the
    # sub-group), on any number of processes.
    fp32_grad_copy = share * 4 if st.distributed in ("zero2", "zero3") else 0.0
    # torch's foreach AdamW allocates sqrt(v) for every parameter of the step at once, in the moments' dtype.
    fp32_states = st.adapter != "full" or st.precision != "bf16" or st.distributed in ("zero2", "zero3")
    foreach_sqrt = share * (4 if fp32_states else 2) if st.optimizer == "adamw" else 0.0
    return fp32_grad_copy + foreach_sqrt


def layer_parameters(s: ModelShape) -> int:
    return sum(m.d_in * m.d_out + (m.d_out if m.bias else 0) for m in s.linears) + s.norm_params_per_layer


def memory_breakdown(s: ModelShape, st: Setup) -> MemoryBreakdown:
    trainable = trainable_parameters(s, st)
    world = st.num_processes
    tokens = st.micro_batch_size * st.seq_len  # per device: data parallel splits the batch, not the sequence

    weights = _weight_bytes(s, st, trainable)
    grads, optim = _grad_and_optimizer_bytes(st, trainable)
    buffers = 0.0
    if st.distributed in ("zero3", "fsdp") and world > 1:
        weights, grads, optim = weights / world, grads / world, optim / world
    elif st.distributed == "zero2" and world > 1:
        grads, optim = grads / world, optim / world
    if st.distributed == "zero3" or (st.distributed == "fsdp" and world > 1):
        # Gathered full-size: the layer being computed and the one prefetched, or the embedding/LM head. DeepSpeed
        # ZeRO-3 (on any number of processes: its partitions and the gathered copies are separate tensors) keeps up to
        # stage3_max_live_parameters gathered while they are reused within stage3_max_reuse_distance.
        wbytes = NF4_BYTES_PER_PARAM if st.adapter == "qlora" else (4 if st.precision == "fp32" else 2)
        gathered = max(2 * layer_parameters(s), s.vocab * s.hidden)
        if st.distributed == "zero3":
            gathered = max(gathered, min(ZERO3_MAX_LIVE_PARAMETERS, count_parameters(s)))
        buffers += gathered * wbytes
    if st.distributed in ("zero2", "zero3"):  # DeepSpeed, on any number of processes
        # The contiguous buffer DeepSpeed reduces gradients through (reduce_bucket_size, bf16).
        buffers += min(st.zero_reduce_bucket, trainable) * 2
    elif st.distributed == "ddp" and world > 1:
        buffers += grads  # DDP's reducer keeps a flat-bucket copy of every gradient
    if st.adapter == "qlora":
        biggest = max(m.d_in * m.d_out for m in s.linears)
        buffers += biggest * 2  # one Linear dequantised to bf16 at a time

    per_token_layer = _activation_bytes_per_token_layer(s, st)
    on_gpu = st.accelerator.memory_gib is not None
    logits = _logits_bytes(s, st, tokens) if on_gpu else CPU_BYTES_PER_VOCAB_TOKEN * s.vocab * tokens
    if st.gradient_checkpointing:
        act_scale = 4 if st.precision == "fp32" else 2
        activations = s.layers * tokens * s.hidden * act_scale  # each layer's input, kept
        recompute = tokens * per_token_layer
        # The loss peaks before the backward reaches the layers; the recomputed layer comes after.
        transient = max(logits, recompute)
    else:
        activations = s.layers * tokens * per_token_layer
        recompute = 0.0
        transient = logits  # every layer's activations are still alive when the loss runs

    reference = 0.0
    if st.reference_model:
        reference = count_parameters(s) * (4 if st.precision == "fp32" else 2)
        if st.distributed in ("zero3", "fsdp") and world > 1:
            reference /= world
    generation = 0.0
    if st.generation_kv_tokens:
        kv_bytes = 4 if st.precision == "fp32" else 2
        sequences = max(1, st.generation_kv_tokens // max(st.seq_len, 1))
        # K and V of every layer for every token, plus one step's fp32 logits per sequence being sampled.
        generation = 2 * s.layers * s.kv_dim * kv_bytes * st.generation_kv_tokens + sequences * s.vocab * 4
    # Generation and the training step take turns: the larger of the two sits on top of what both keep.
    # (The optimizer step, after backward has freed the activations, likewise takes its turn.)
    step = _optimizer_step_bytes(st, trainable) if on_gpu else 0.0
    allocated = weights + grads + optim + buffers + reference + max(activations + transient, generation, step)
    context = (CUDA_CONTEXT_GIB + (NCCL_BUFFERS_GIB if world > 1 else 0.0)) * GIB if on_gpu else 0.0
    fragmentation = FRAGMENTATION * allocated if on_gpu else 0.0
    process = 0.0 if on_gpu else CPU_PROCESS_GIB * GIB  # host RAM is the whole process's resident set
    total = allocated + context + fragmentation + process
    g = lambda b: b / GIB  # noqa: E731
    return MemoryBreakdown(g(weights), g(grads), g(optim), g(activations), g(recompute), g(logits), g(buffers),
                           g(context), g(fragmentation), g(allocated), g(total), g(process), g(generation),
                           g(reference))


# ---------------------------------------------------------------- fit and remedies

@dataclass(frozen=True)
class Remedy:
    action: str  # what to change, in words
    change: dict  # the estimate() arguments that change
    memory_gib: float  # re-estimated per-device total with the change
    fits: bool
    # The plan's remedies only: the spec change as ``--set KEY=VALUE`` values, planned again (plan/remedies.py).
    sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class FitReport:
    fits: bool | None  # None on the CPU: no device memory to check against
    memory_gib: float
    device_memory_gib: float | None
    limit_gib: float | None  # device memory less the headroom
    headroom: float
    remedies: tuple[Remedy, ...] = ()


def fit_remedies(s: ModelShape, st: Setup, limit: float) -> list[Remedy]:
    out: list[Remedy] = []

    def add(action: str, new: Setup, **change) -> None:
        mem = memory_breakdown(s, new).total
        out.append(Remedy(action, change, round(mem, 2), mem <= limit))

    fused = st.with_(optimizer="adamw-fused")
    if st.optimizer == "adamw" and memory_breakdown(s, fused).total < memory_breakdown(s, st).total:
        add("use torch's fused AdamW (the same update in place, without the moment-sized buffer its multi-tensor "
            "step allocates)", fused, optimizer="adamw-fused")
    if not st.gradient_checkpointing:
        add("enable gradient checkpointing (~1/3 more compute)", st.with_(gradient_checkpointing=True),
            gradient_checkpointing=True)
    if st.loss_impl != "fused":
        add("compute the loss tile by tile (TRL 1.x's fused LM head) instead of materialising the logits",
            st.with_(loss_impl="fused"), loss_impl="fused")
    if st.attention_impl == "eager":
        add("use SDPA attention instead of eager (no attention matrices kept)", st.with_(attention_impl="sdpa"),
            attention_impl="sdpa")
    if st.adapter == "full" and st.optimizer in ("adamw", "adamw-fused") and st.accelerator.supports_4bit:
        add("keep AdamW's moments in 8 bits (bitsandbytes)", st.with_(optimizer="adamw8bit"), optimizer="adamw8bit")
    if st.adapter == "full":
        add("train a LoRA adapter (r=16, all-linear) instead of every weight",
            st.with_(adapter="lora", rank=16, target_modules="all-linear"),
            adapter="lora", rank=16, target_modules="all-linear")
    if st.adapter != "qlora" and st.accelerator.supports_4bit:
        rank = st.rank if st.adapter != "full" else 16
        targets = st.target_modules if st.adapter != "full" else "all-linear"
        add("switch to QLoRA (4-bit NF4 base weights; slower: every weight is dequantised each micro-batch)",
            st.with_(adapter="qlora", rank=rank, target_modules=targets),
            adapter="qlora", rank=rank, target_modules=targets)
    if st.micro_batch_size > 1:
        mbs = st.micro_batch_size // 2
        while mbs > 1 and memory_breakdown(s, st.with_(micro_batch_size=mbs)).total > limit:
            mbs //= 2
        factor = st.micro_batch_size // mbs
        add(f"lower the micro-batch {st.micro_batch_size} -> {mbs} and raise gradient accumulation x{factor} "
            "(same effective batch)", st.with_(micro_batch_size=mbs), micro_batch_size=mbs)
    if st.accelerator.memory_gib is not None:
        # ZeRO-3 cannot shard bitsandbytes' 4-bit weights (the layout refuses it); FSDP can.
        strategy = "fsdp" if st.distributed == "fsdp" or st.adapter == "qlora" else "zero3"
        label = "FSDP" if strategy == "fsdp" else "DeepSpeed ZeRO-3"
        for world in (2, 4, 8, 16, 32, 64):
            if world <= st.num_processes:
                continue
            mixed = st.precision == "bf16" and strategy in FP32_MASTER_LAYOUTS  # as plan.job.precision does
            new = st.with_(num_processes=world, distributed=strategy, precision="bf16-mixed" if mixed else st.precision)
            if memory_breakdown(s, new).total <= limit or world == 64:
                add(f"shard weights, gradients and optimizer states over {world} GPUs with {label}",
                    new, num_processes=world, distributed=strategy)
                break
    if st.seq_len > 256:
        length = st.seq_len // 2
        while length > 256 and memory_breakdown(s, st.with_(seq_len=length)).total > limit:
            length //= 2
        add(f"shorten max_length {st.seq_len} -> {length} (longer samples are dropped or truncated)",
            st.with_(seq_len=length), seq_len=length)
    return out


def fit_report(s: ModelShape, st: Setup, memory: MemoryBreakdown, device_memory_gib: float | None,
               headroom: float) -> FitReport:
    device = st.accelerator.memory_gib if device_memory_gib is None else device_memory_gib
    if device is None:
        return FitReport(None, round(memory.total, 2), None, None, headroom)
    limit = device * (1 - headroom)
    fits = memory.total <= limit
    remedies = () if fits else tuple(fit_remedies(s, st, limit))
    return FitReport(fits, round(memory.total, 2), device, round(limit, 2), headroom, remedies)

