"""The cost model's vocabulary and constants: what can be estimated (adapters, precisions, loss and attention
implementations) and every fixed figure, each with its source (shared/COMPUTE-REFERENCES.md unless said otherwise)."""

from __future__ import annotations

from typing import Literal

GIB = 1024**3

Adapter = Literal["lora", "rslora", "qlora", "full"]
Distributed = Literal["none", "ddp", "fsdp", "zero2", "zero3"]
# "bf16": weights loaded in bf16 and trained in bf16 (transformers 5 loads the checkpoint's dtype, so this
# is what TRL does); a full fine-tune keeps AdamW's moments in bf16 too ("pure bf16", ~8 B/param).
# "bf16-mixed": bf16 compute with an fp32 master copy (DeepSpeed/FSDP mixed precision, AMP over fp32
# weights): 2 + 2 + 12 = 16 B/param. "fp32": no autocast, activations in fp32 as well.
Precision = Literal["bf16", "bf16-mixed", "fp32"]
# "adamw": torch's AdamW as HF Trainer builds it for optim="adamw_torch" (ftspec's training.optimizer: adamw), the
# multi-tensor ("foreach") implementation on CUDA: its step allocates sqrt(v) for every parameter it updates at once
# (torch/optim/adam.py _multi_tensor_adam: exp_avg_sq_sqrt = torch._foreach_sqrt(...)). "adamw-fused": a fused kernel
# that updates in place (torch fused=True, optim="adamw_torch_fused"; DeepSpeed's FusedAdam for a config with an
# "optimizer" section). "paged_adamw8bit": bitsandbytes' paged 8-bit AdamW; on the GPU the same bytes as "adamw8bit"
# (its pages move to host RAM only under memory pressure, which the fit check does not count on).
Optimizer = Literal["adamw", "adamw-fused", "adamw8bit", "paged_adamw8bit"]
EIGHT_BIT_OPTIMIZERS = ("adamw8bit", "paged_adamw8bit")
# Layouts whose optimizer keeps fp32 master weights under bf16: DeepSpeed's ZeRO optimizer (fp32 partitions of the
# weights and fp32 Adam moments) and accelerate's FSDP2 (it upcasts every trainable parameter to fp32 and computes in
# bf16 through its MixedPrecisionPolicy). Single-process and DDP runs train the bf16 weights the model loads in.
FP32_MASTER_LAYOUTS = ("zero2", "zero3", "fsdp")
# The spec's training.optimizer / loss_kernel / attention -> the cost model's names.
SPEC_OPTIMIZERS = {"adamw": "adamw", "adamw_fused": "adamw-fused", "adamw_8bit": "adamw8bit",
                   "paged_adamw_8bit": "paged_adamw8bit"}
SPEC_LOSS_KERNELS = {"fused": "fused", "liger": "fused", "plain": "hf"}  # liger: layer kernels over TRL's fused head
SPEC_ATTENTION = {"auto": "sdpa", "sdpa": "sdpa", "flash_attention_2": "flash", "eager": "eager"}
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
# QLoRA over LoRA on the weights' matmuls: published 1.25-1.5x; QwenLM/Qwen README measures 7.0 / 5.2 s/it = 1.35 at
# micro-batches of 1 x 2048 tokens (finetune.py pads to model_max_length). The dequantisation is a fixed cost per weight
# per micro-batch, so the excess is scaled by QLORA_REFERENCE_TOKENS / the micro-batch's tokens.
QLORA_SLOWDOWN = 1.35
QLORA_REFERENCE_TOKENS = 2048
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
# GRPO's generation (HF ``generate`` inside GRPOTrainer, no vLLM): decoding runs one token per forward pass over the
# generation batch, reading every weight for it, so it uses the chip far less than training does. Priors, ours,
# uncalibrated: a tenth of the training prior on a GPU; the training rate on the CPU. bench/bench_grpo.py
# (2026-12-05, idle 2-core machine): examples/grpo planned 13.9 s, trained in 25.8 s (x0.54), while the SFT
# quickstart the same day planned 12.1 s for 24.9 s (x0.49): the CPU prior is off for both, and generation is 7 % of
# the GRPO estimate, so the generation term is not what makes it short.
GENERATION_MFU_FACTOR = {"gpu": 0.10, "cpu": 1.0}
CPU_BYTES_PER_VOCAB_TOKEN = 6.8
CPU_SECONDS_PER_VOCAB_TOKEN = 3.9e-8

# DeepSpeed ZeRO's defaults (deepspeed/runtime/zero/config.py; ftspec's accelerate config sets none of them):
# reduce_bucket_size 5e8 elements, the contiguous gradient buffer (IPG) the reduction fills, in the gradients' bf16.
ZERO_REDUCE_BUCKET = 500_000_000
ZERO_SUB_GROUP = 1_000_000_000  # ZeRO-3's sub_group_size: the optimizer steps this many parameters at a time
# ZeRO-3's stage3_max_live_parameters (and stage3_max_reuse_distance), both 1e9 by default and in the configs
# transformers' docs, Qwen-1 and ms-swift ship: gathered parameters stay resident up to this many.
ZERO3_MAX_LIVE_PARAMETERS = 1_000_000_000
# Collectives and the optimizer step, priors (ours, uncalibrated): NCCL's all-gather / reduce-scatter reach about
# 70% of a link's one-way bandwidth (nccl-tests bus bandwidth on NVLink A100/H100 systems: 230-370 of 300-450 GB/s);
# between nodes each GPU gets 25 GB/s (a 200 Gb/s InfiniBand or RoCE port per GPU).
COLLECTIVE_EFFICIENCY = 0.70
INTER_NODE_GB_S = 25.0
# The optimizer step streams every trainable parameter's states through memory once: bytes read and written per
# parameter (fp32 master + moments + gradient + the bf16 copy written back: ~32; pure bf16: 16; 8-bit moments: 12),
# at half the datasheet bandwidth (torch's foreach AdamW runs a dozen elementwise kernels).
OPTIMIZER_STEP_BYTES = {"fp32-states": 32, "bf16-states": 16, "8bit": 12}
OPTIMIZER_BANDWIDTH_EFFICIENCY = 0.5
# Sharded layouts: how much of the gathers hides behind compute. FSDP2 prefetches the next layer's all-gather while
# the current one computes; DeepSpeed ZeRO-3 under HF Trainer is known to overlap poorly (stage3 fetches on hooks).
COMMUNICATION_OVERLAP = {"fsdp": 1.0, "zero3": 0.0}

# FlashAttention-2 or Liger's fused kernels make HF Trainer an optimized stack: the prior is raised by the ratio of
# the optimized-stack centre (OPTIMIZED_STACK_MFU, 45%) to HF Trainer's A100 prior (30%). Checked against the
# published step times in docs/estimation.md (Qwen-1 README with FA2; ms-swift with Liger).
FUSED_KERNELS_MFU_FACTOR = 1.5

# Centre of the published 35-55% for optimized stacks (FlashAttention-2, fused kernels, compile, packing):
# pass it as ``mfu`` when the run uses one. QwenLM/Qwen's finetune.py (FA2 + fused rotary/RMSNorm) lands here.
OPTIMIZED_STACK_MFU = 0.45


class EstimateError(ValueError):
    """An estimate was asked for with arguments that do not make a training run."""
