"""The planner's cost model: parameters, GPU memory, FLOPs, wall time and money, as pure arithmetic.

Built from and held to shared/COMPUTE-REFERENCES.md; docs/estimation.md writes every term down with its
source and compares the predictions with the published measurements. No torch, no transformers: this runs
inside ``ftspec plan``, whose cold start must stay under two seconds.

Units: bytes inside, GiB (2**30) in every reported memory figure, per device.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal, Sequence, get_args

from ftspec.plan.hardware import Accelerator, get_accelerator

GIB = 1024**3

Adapter = Literal["lora", "rslora", "qlora", "full"]
Distributed = Literal["none", "ddp", "fsdp", "zero2", "zero3"]
# "bf16": weights loaded in bf16 and trained in bf16 (transformers 5 loads the checkpoint's dtype, so this
# is what TRL does); a full fine-tune keeps AdamW's moments in bf16 too ("pure bf16", ~8 B/param).
# "bf16-mixed": bf16 compute with an fp32 master copy (DeepSpeed/FSDP mixed precision, AMP over fp32
# weights): 2 + 2 + 12 = 16 B/param. "fp32": no autocast, activations in fp32 as well.
Precision = Literal["bf16", "bf16-mixed", "fp32"]
Optimizer = Literal["adamw", "adamw8bit"]
# How the loss meets the vocabulary (the largest single tensor for small models, see _logits_bytes):
# "hf": transformers' ForCausalLMLoss, full logits upcast to fp32;  "hf-bf16": cross-entropy on bf16
# logits (Qwen-1's remote code, older stacks);  "chunked": bf16 logits kept, the fp32 loss taken per chunk
# (torchtune CEWithChunkedOutputLoss, litgpt chunked_cross_entropy);  "fused": no logits at all, the LM
# head and loss run tile by tile (TRL 1.x SFTTrainer's fused LM head, the default; Liger's fused CE).
LossImpl = Literal["hf", "hf-bf16", "chunked", "fused"]
AttentionImpl = Literal["sdpa", "flash", "eager"]

DEFAULT_LOSS_IMPL: LossImpl = "fused"  # TRL 1.x: loss_type "nll" ("chunked_nll" is its deprecated alias)
LORA_ADAPTERS = ("lora", "rslora", "qlora")

# ---- constants, each from COMPUTE-REFERENCES.md unless said otherwise ----
NF4_BYTES_PER_PARAM = 0.516  # QLoRA paper (arXiv 2305.14314): 4-bit + double-quantised block constants
CUDA_CONTEXT_GIB = 1.0  # outside PyTorch's allocator: 0.3-2 GB; 1 GiB is mid-range on CUDA 12
NCCL_BUFFERS_GIB = 0.5  # communicators and their buffers, once world size > 1 (our pick)
FRAGMENTATION = 0.10  # caching-allocator slack over the live-tensor peak
FIT_HEADROOM = 0.10  # fits when the prediction is within 90% of the device
MEMORY_BAND = 0.25  # uncalibrated error bands (COMPUTE-REFERENCES "Realistic error bands")
TIME_BAND = 0.50
QLORA_SLOWDOWN = 1.35  # published 1.25-1.5x; QwenLM/Qwen README measures 7.0 / 5.2 s/it = 1.35
# Logits bytes per vocabulary entry per token. hf: bf16 logits 2 + fp32 copy 4 + log-softmax 4 + its
# gradient 4 + the bf16 gradient 2 = 16, which fits Unsloth's HF+FA2 context table (2.47 MB/token at
# V = 128k). hf-bf16: logits, shifted copy, log-softmax and gradient in bf16 = 8. chunked: the bf16
# logits stay (2) plus one fp32 chunk of eight at a time (~1).
LOGITS_BYTES_PER_VOCAB = {"hf": 16, "hf-bf16": 8, "chunked": 3}
# TRL's fused LM head (trl/kernels/chunked_logprob.py): one [4096 tokens x 32768 vocab] tile.
FUSED_TOKEN_TILE, FUSED_VOCAB_TILE = 4096, 32768

# MFU priors for HF Trainer / TRL (the stack `ftspec apply` runs), by accelerator class. The published
# band for HF Trainer is 15-35%; its centre, 25%, is moved by 5 points with the chip's memory bandwidth
# per peak FLOP, since a Trainer step is full of unfused bandwidth-bound ops (norms, rotary, SwiGLU,
# casts): A100 5.0-6.5 B/kFLOP -> 30%; A10/A6000/4090 4.8-6.1 -> 25%; H100/H200 2.6-4.9 -> 20% (the
# step's bandwidth-bound share grows as the tensor cores get faster); L4 2.5 -> 20%.
# "cpu" is measured, against the nominal 1 TFLOP/s: builtin:tiny on this project's 2-core machine ran
# 2.38e12 FLOPs in 30.8 s (the quickstart, full fine-tuning, 2026-11-23) = 77 GFLOP/s; the training
# benchmark's 512-token LoRA run got ~16 GFLOP/s. A tiny model is overhead-bound: order of magnitude only.
MFU_PRIORS = {"ampere-datacenter": 0.30, "workstation": 0.25, "hopper": 0.20, "bandwidth-starved": 0.20,
              "cpu": 0.077}
# CPU terms, measured by bench/bench_real_vocab_cost.py on the Qwen fixtures (vocabulary 151,936, bodies of 4.9M
# parameters, micro-batches of 100-1,800 tokens; 5 runs, 2026-12-01, on the shared 2-core machine at load 6-7).
# At a real vocabulary the loss, not the body, is the CPU run: peak RSS grew 6.8 B per vocabulary entry per token
# of the micro-batch (the fused LM head runs as torch ops tile by tile there, yet the peak scales with tokens x
# vocab; the cause inside TRL/transformers is not pinned down). Train time: 3.9e-8 s per vocabulary entry per
# token, re-measured on the idle machine (2026-12-02: the mean of the two short LoRA cases, 3.2e-8 and 4.5e-8;
# the three other cases then land at x0.84-0.98), ~14x what the FLOPs say (log-softmax, entropy and top-1
# metrics over the whole vocabulary are memory-bound). The first fit, 2.8e-7, was taken at load 6-9 and was
# 6-8x too slow for an idle machine.
# The process itself (Python, torch, transformers, TRL, datasets, the tokenizer) held 0.70 GiB before any tensor.
CPU_PROCESS_GIB = 0.70
CPU_BYTES_PER_VOCAB_TOKEN = 6.8
CPU_SECONDS_PER_VOCAB_TOKEN = 3.9e-8

# Centre of the published 35-55% for optimized stacks (FlashAttention-2, fused kernels, compile, packing):
# pass it as ``mfu`` when the run uses one. QwenLM/Qwen's finetune.py (FA2 + fused rotary/RMSNorm) lands here.
OPTIMIZED_STACK_MFU = 0.45


class EstimateError(ValueError):
    """An estimate was asked for with arguments that do not make a training run."""


# ---------------------------------------------------------------- architecture shape and parameters

@dataclass(frozen=True)
class LinearModule:
    name: str  # the name PEFT's target_modules matches
    d_in: int
    d_out: int
    bias: bool


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden: int
    intermediate: int  # width of each SwiGLU branch
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    linears: tuple[LinearModule, ...]  # per decoder layer
    norm_params_per_layer: int

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim


_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


def model_shape(arch: dict) -> ModelShape:
    """Read a config.json-shaped dict (catalogue entry or a local config) into the shape the model needs."""
    if "hidden_size" not in arch and isinstance(arch.get("text_config"), dict):
        arch = arch["text_config"]  # multimodal wrappers keep the language model's shape inside
    missing = [k for k in _REQUIRED if arch.get(k) is None]
    if missing:
        raise EstimateError(f"architecture lacks {', '.join(missing)}: cannot size the model")
    model_type = str(arch.get("model_type", "llama"))
    h, layers, heads = int(arch["hidden_size"]), int(arch["num_hidden_layers"]), int(arch["num_attention_heads"])
    vocab = int(arch["vocab_size"])
    # The Llama/Qwen config classes default to untied embeddings when the key is absent.
    tied = bool(arch.get("tie_word_embeddings", False))
    if model_type == "qwen":
        # Qwen 1.0 remote code: fused c_attn (always with bias), MHA, w1/w2 each half of intermediate_size.
        head_dim = int(arch.get("kv_channels") or h // heads)
        inter = int(arch["intermediate_size"]) // 2
        bias = not arch.get("no_bias", True)
        q = heads * head_dim
        linears = (LinearModule("c_attn", h, 3 * q, True), LinearModule("c_proj", q, h, bias),
                   LinearModule("w1", h, inter, bias), LinearModule("w2", h, inter, bias),
                   LinearModule("c_proj", inter, h, bias))
        return ModelShape(model_type, h, inter, layers, heads, heads, head_dim, vocab, tied, linears, 2 * h)
    head_dim = int(arch.get("head_dim") or h // heads)
    kv_heads = int(arch.get("num_key_value_heads") or heads)
    inter = int(arch["intermediate_size"])
    # Qwen2's modeling code puts bias on q/k/v (not o) without a config key; Llama's attention_bias
    # covers all four projections.
    qkv_bias = bool(arch.get("attention_bias", model_type == "qwen2"))
    o_bias = bool(arch.get("attention_bias", False))
    mlp_bias = bool(arch.get("mlp_bias", False))
    q, kv = heads * head_dim, kv_heads * head_dim
    linears = (LinearModule("q_proj", h, q, qkv_bias), LinearModule("k_proj", h, kv, qkv_bias),
               LinearModule("v_proj", h, kv, qkv_bias), LinearModule("o_proj", q, h, o_bias),
               LinearModule("gate_proj", h, inter, mlp_bias), LinearModule("up_proj", h, inter, mlp_bias),
               LinearModule("down_proj", inter, h, mlp_bias))
    norms = 2 * h + (2 * head_dim if model_type == "qwen3" else 0)  # Qwen3 adds q_norm and k_norm
    return ModelShape(model_type, h, inter, layers, heads, kv_heads, head_dim, vocab, tied, linears, norms)


def _shape(arch: dict | ModelShape) -> ModelShape:
    return arch if isinstance(arch, ModelShape) else model_shape(arch)


def count_parameters(arch: dict | ModelShape) -> int:
    """Total parameters, tied embeddings counted once (what ``model.num_parameters()`` reports)."""
    s = _shape(arch)
    per_layer = sum(m.d_in * m.d_out + (m.d_out if m.bias else 0) for m in s.linears) + s.norm_params_per_layer
    embeddings = s.vocab * s.hidden * (1 if s.tied else 2)
    return s.layers * per_layer + embeddings + s.hidden  # + the final norm


def matmul_parameters(arch: dict | ModelShape) -> int:
    """Parameters that take part in a matrix multiply per token: decoder Linears and the LM head.

    The input embedding is a lookup (no FLOPs); a tied LM head still multiplies, so it counts once either way.
    """
    s = _shape(arch)
    return s.layers * sum(m.d_in * m.d_out for m in s.linears) + s.vocab * s.hidden


def _quantisable_parameters(s: ModelShape) -> int:
    # bitsandbytes quantises the decoder Linears' weights; embeddings, lm_head, norms and biases stay bf16.
    return s.layers * sum(m.d_in * m.d_out for m in s.linears)


def _target_linears(s: ModelShape, target_modules: str | Sequence[str]) -> list[LinearModule]:
    if isinstance(target_modules, str):
        if target_modules == "all-linear":
            return list(s.linears)  # PEFT: every Linear in the blocks, lm_head excluded
        target_modules = [target_modules]
    names = {m.name for m in s.linears}
    unknown = [t for t in target_modules if t not in names]
    if unknown:
        raise EstimateError(f"target_modules {unknown} not in this architecture; it has "
                            f"{', '.join(sorted(names))} (or use 'all-linear')")
    wanted = set(target_modules)
    return [m for m in s.linears if m.name in wanted]


def lora_trainable_parameters(arch: dict | ModelShape, rank: int, target_modules: str | Sequence[str]) -> int:
    """PEFT's count: r x (d_in + d_out) per adapted Linear, over all layers."""
    if rank <= 0:
        raise EstimateError(f"LoRA rank must be positive, got {rank}")
    s = _shape(arch)
    return s.layers * sum(rank * (m.d_in + m.d_out) for m in _target_linears(s, target_modules))


# ---------------------------------------------------------------- the setup being estimated

@dataclass(frozen=True)
class _Setup:
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

    def with_(self, **changes) -> "_Setup":
        return dataclasses.replace(self, **changes)


def _trainable(s: ModelShape, st: _Setup) -> int:
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


def _weight_bytes(s: ModelShape, st: _Setup, trainable: int) -> float:
    total = count_parameters(s)
    base_bytes = 4 if st.precision == "fp32" else 2
    if st.adapter == "full":
        return total * base_bytes
    adapters = trainable * 4  # PEFT upcasts adapters to fp32 (autocast_adapter_dtype=True)
    if st.adapter == "qlora":
        quantised = _quantisable_parameters(s)
        return quantised * NF4_BYTES_PER_PARAM + (total - quantised) * 2 + adapters
    return total * base_bytes + adapters


def _grad_and_optimizer_bytes(st: _Setup, trainable: int) -> tuple[float, float]:
    if st.adapter != "full" or st.precision == "fp32":
        # fp32 parameters: LoRA adapters always (PEFT), everything under fp32. They are their own master.
        grad, moments, master = 4, (8 if st.optimizer == "adamw" else 2), 0
    else:
        grad = 2
        moment_bytes = 4 if st.precision == "bf16-mixed" else 2  # torch AdamW keeps moments in the param dtype
        moments = 2 * moment_bytes if st.optimizer == "adamw" else 2  # 8-bit: two 1-byte states
        master = 4 if st.precision == "bf16-mixed" else 0
    return trainable * grad, trainable * (moments + master)


def _activation_bytes_per_token_layer(s: ModelShape, st: _Setup) -> float:
    # Saved tensors of one HF Llama/Qwen2 block in bf16 with SDPA/FlashAttention (derived from
    # Korthikanti et al. 2205.05198 for a SwiGLU block): 20h + 4h_kv + 8I bytes per token.
    per_token = 20 * s.hidden + 4 * s.kv_dim + 8 * s.intermediate
    if st.attention_impl == "eager":
        per_token += 5 * s.heads * st.seq_len  # scores, softmax, dropout mask: the 5as/h term
    return per_token * (2 if st.precision == "fp32" else 1)


def _logits_bytes(s: ModelShape, st: _Setup, tokens: int) -> float:
    if st.loss_impl == "fused":
        tile = min(tokens, FUSED_TOKEN_TILE) * min(s.vocab, FUSED_VOCAB_TILE) * 2
        grad_hidden = tokens * s.hidden * 4  # accumulated in fp32
        grad_head = s.vocab * s.hidden * 4 if st.adapter == "full" else 0  # fp32 LM-head gradient
        return tile + grad_hidden + grad_head
    return LOGITS_BYTES_PER_VOCAB[st.loss_impl] * s.vocab * tokens


def _layer_parameters(s: ModelShape) -> int:
    return sum(m.d_in * m.d_out + (m.d_out if m.bias else 0) for m in s.linears) + s.norm_params_per_layer


def _memory(s: ModelShape, st: _Setup) -> MemoryBreakdown:
    trainable = _trainable(s, st)
    world = st.num_processes
    tokens = st.micro_batch_size * st.seq_len  # per device: data parallel splits the batch, not the sequence

    weights = _weight_bytes(s, st, trainable)
    grads, optim = _grad_and_optimizer_bytes(st, trainable)
    buffers = 0.0
    if st.distributed in ("zero3", "fsdp") and world > 1:
        weights, grads, optim = weights / world, grads / world, optim / world
        # Gathered full-size: the layer being computed and the one prefetched, or the embedding/LM head.
        wbytes = NF4_BYTES_PER_PARAM if st.adapter == "qlora" else (4 if st.precision == "fp32" else 2)
        buffers += max(2 * _layer_parameters(s) * wbytes, s.vocab * s.hidden * 2)
    elif st.distributed == "zero2" and world > 1:
        grads, optim = grads / world, optim / world
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

    allocated = weights + grads + optim + activations + transient + buffers
    context = (CUDA_CONTEXT_GIB + (NCCL_BUFFERS_GIB if world > 1 else 0.0)) * GIB if on_gpu else 0.0
    fragmentation = FRAGMENTATION * allocated if on_gpu else 0.0
    process = 0.0 if on_gpu else CPU_PROCESS_GIB * GIB  # host RAM is the whole process's resident set
    total = allocated + context + fragmentation + process
    g = lambda b: b / GIB  # noqa: E731
    return MemoryBreakdown(g(weights), g(grads), g(optim), g(activations), g(recompute), g(logits), g(buffers),
                           g(context), g(fragmentation), g(allocated), g(total), g(process))


# ---------------------------------------------------------------- fit and remedies

@dataclass(frozen=True)
class Remedy:
    action: str  # what to change, in words
    change: dict  # the estimate() arguments that change
    memory_gib: float  # re-estimated per-device total with the change
    fits: bool


@dataclass(frozen=True)
class FitReport:
    fits: bool | None  # None on the CPU: no device memory to check against
    memory_gib: float
    device_memory_gib: float | None
    limit_gib: float | None  # device memory less the headroom
    headroom: float
    remedies: tuple[Remedy, ...] = ()


def _remedies(s: ModelShape, st: _Setup, limit: float) -> list[Remedy]:
    out: list[Remedy] = []

    def add(action: str, new: _Setup, **change) -> None:
        mem = _memory(s, new).total
        out.append(Remedy(action, change, round(mem, 2), mem <= limit))

    if not st.gradient_checkpointing:
        add("enable gradient checkpointing (~1/3 more compute)", st.with_(gradient_checkpointing=True),
            gradient_checkpointing=True)
    if st.loss_impl != "fused":
        add("compute the loss tile by tile (TRL 1.x's fused LM head) instead of materialising the logits",
            st.with_(loss_impl="fused"), loss_impl="fused")
    if st.adapter == "full":
        add("train a LoRA adapter (r=16, all-linear) instead of every weight",
            st.with_(adapter="lora", rank=16, target_modules="all-linear"),
            adapter="lora", rank=16, target_modules="all-linear")
    if st.adapter != "qlora" and st.accelerator.supports_4bit:
        rank = st.rank if st.adapter != "full" else 16
        targets = st.target_modules if st.adapter != "full" else "all-linear"
        add("switch to QLoRA (4-bit NF4 base weights; ~1.35x slower)",
            st.with_(adapter="qlora", rank=rank, target_modules=targets),
            adapter="qlora", rank=rank, target_modules=targets)
    if st.micro_batch_size > 1:
        mbs = st.micro_batch_size // 2
        while mbs > 1 and _memory(s, st.with_(micro_batch_size=mbs)).total > limit:
            mbs //= 2
        factor = st.micro_batch_size // mbs
        add(f"lower the micro-batch {st.micro_batch_size} -> {mbs} and raise gradient accumulation x{factor} "
            "(same effective batch)", st.with_(micro_batch_size=mbs), micro_batch_size=mbs)
    if st.accelerator.memory_gib is not None:
        strategy = "fsdp" if st.distributed == "fsdp" else "zero3"
        label = "FSDP" if strategy == "fsdp" else "DeepSpeed ZeRO-3"
        for world in (2, 4, 8, 16, 32, 64):
            if world <= st.num_processes:
                continue
            new = st.with_(num_processes=world, distributed=strategy)
            if _memory(s, new).total <= limit or world == 64:
                add(f"shard weights, gradients and optimizer states over {world} GPUs with {label}",
                    new, num_processes=world, distributed=strategy)
                break
    if st.seq_len > 256:
        length = st.seq_len // 2
        while length > 256 and _memory(s, st.with_(seq_len=length)).total > limit:
            length //= 2
        add(f"shorten max_length {st.seq_len} -> {length} (longer samples are dropped or truncated)",
            st.with_(seq_len=length), seq_len=length)
    return out


def _fit(s: ModelShape, st: _Setup, memory: MemoryBreakdown, device_memory_gib: float | None,
         headroom: float) -> FitReport:
    device = st.accelerator.memory_gib if device_memory_gib is None else device_memory_gib
    if device is None:
        return FitReport(None, round(memory.total, 2), None, None, headroom)
    limit = device * (1 - headroom)
    fits = memory.total <= limit
    remedies = () if fits else tuple(_remedies(s, st, limit))
    return FitReport(fits, round(memory.total, 2), device, round(limit, 2), headroom, remedies)


# ---------------------------------------------------------------- FLOPs, time, money

def _flops_per_token(s: ModelShape, st: _Setup, trainable: int) -> float:
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
) -> Estimate:
    """Estimate memory per device, FLOPs, wall time and cost of one training run.

    Defaults follow TRL 1.x SFTConfig / PEFT (micro-batch 8, max_length 1024, gradient checkpointing on,
    bf16, fused loss, r=8). ``train_tokens`` counts every token the model processes over all epochs and
    all processes (padding included if the batches are padded). ``attention_seq_len`` is the length
    attention spans on average, sum(s^2)/sum(s) over the samples (defaults to ``seq_len``, an upper
    bound). ``mfu`` replaces the prior with a calibrated utilisation. ``device_memory_gib`` overrides
    the accelerator's memory for the fit check.
    """
    acc = accelerator if isinstance(accelerator, Accelerator) else get_accelerator(accelerator)
    s = _shape(arch)
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
    st = _Setup(adapter, rank, target_modules if isinstance(target_modules, str) else tuple(target_modules),
                micro_batch_size, seq_len, train_tokens, gradient_checkpointing, precision, acc, num_processes,
                distributed, optimizer, loss_impl, attention_impl, attention_seq_len or seq_len)

    trainable = _trainable(s, st)
    memory = _memory(s, st)
    fit_report = _fit(s, st, memory, device_memory_gib, headroom)

    per_token = _flops_per_token(s, st, trainable)
    total_flops = per_token * train_tokens
    utilisation = mfu if mfu is not None else MFU_PRIORS[acc.mfu_class]
    if adapter == "qlora":
        utilisation /= QLORA_SLOWDOWN  # dequantising every weight on every use
    seconds = total_flops / (num_processes * acc.peak_bf16_tflops * 1e12 * utilisation)
    if acc.memory_gib is None:  # the vocabulary-wide loss work, measured (CPU_SECONDS_PER_VOCAB_TOKEN)
        seconds += CPU_SECONDS_PER_VOCAB_TOKEN * s.vocab * train_tokens
    hours = seconds / 3600
    gpu_hours = hours * num_processes
    price = acc.price_usd_per_hour
    cost = gpu_hours * price if price is not None else None

    notes = []
    if acc.memory_gib is None:
        notes.append("CPU: memory is host RAM, no fit check; time is an order of magnitude at best")
    if adapter == "qlora" and not acc.supports_4bit:
        notes.append(f"bitsandbytes 4-bit needs a CUDA GPU; {acc.name} cannot run QLoRA")
    if acc.price_picked:
        notes.append(f"price for {acc.name} is our pick, not a catalogue figure: {acc.price_source}")
    if mfu is None and acc.memory_gib is not None:
        notes.append(f"MFU {utilisation:.0%} is an uncalibrated prior for HF Trainer/TRL on {acc.mfu_class} GPUs")

    return Estimate(
        adapter=adapter, accelerator=acc.name, num_processes=num_processes, distributed=distributed,
        micro_batch_size=micro_batch_size, seq_len=seq_len, gradient_checkpointing=gradient_checkpointing,
        precision=precision, optimizer=optimizer, loss_impl=loss_impl, attention_impl=attention_impl,
        total_parameters=count_parameters(s), trainable_parameters=trainable,
        memory=memory, memory_range_gib=_band(memory.total, MEMORY_BAND, 2), fit=fit_report,
        train_tokens=train_tokens, flops_per_token=per_token, total_flops=total_flops,
        peak_tflops_per_device=acc.peak_bf16_tflops, mfu=utilisation,
        wall_time_hours=hours, wall_time_range_hours=_band(hours, TIME_BAND),
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
