"""The planner's cost model held to shared/COMPUTE-REFERENCES.md and the guides' hardware table.

Every reference point reproduces its source's setup (batch, length, checkpointing, loss, attention, LoRA
targets). docs/estimation.md has the full comparison table, including the points that cannot be matched
and why; only points whose setup is known well enough are asserted here. Pure arithmetic: fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftspec.models.architectures import ARCHITECTURES, UnknownArchitecture, find_architecture, get_architecture
from ftspec.plan.estimate import estimate, fit
from ftspec.plan.estimate_terms import CPU_PROCESS_GIB, GIB, MEMORY_BAND, OPTIMIZED_STACK_MFU, TIME_BAND, EstimateError
from ftspec.plan.memory import layer_parameters
from ftspec.plan.model_shape import as_shape, count_parameters, lora_trainable_parameters, matmul_parameters
from ftspec.launch.accelerators import ACCELERATORS, NO_PRICE, UnknownAccelerator, get_accelerator
from ftspec.platforms import managed_training_costs, managed_training_prices

REPO = Path(__file__).resolve().parents[1]
GB = 1e9

QWEN25_05 = get_architecture("Qwen/Qwen2.5-0.5B-Instruct")
QWEN25_7 = get_architecture("Qwen/Qwen2.5-7B-Instruct")
QWEN1_7 = get_architecture("Qwen/Qwen-7B-Chat")
QWEN1_18 = get_architecture("Qwen/Qwen-1_8B-Chat")
LLAMA31_8 = get_architecture("meta-llama/Llama-3.1-8B-Instruct")
LLAMA3_8 = get_architecture("meta-llama/Meta-Llama-3-8B")


# ------------------------------------------------------------------ parameter counts

PUBLISHED_SIZES = {
    "Qwen/Qwen2.5-0.5B": 494_032_768, "Qwen/Qwen2.5-1.5B": 1_543_714_304, "Qwen/Qwen2.5-3B": 3_085_938_688,
    "Qwen/Qwen2.5-7B": 7_615_616_512, "Qwen/Qwen2.5-14B": 14_770_033_664, "Qwen/Qwen2.5-32B": 32_763_876_352,
    "Qwen/Qwen2.5-72B": 72_706_203_648, "meta-llama/Llama-3.2-1B": 1_235_814_400,
    "meta-llama/Llama-3.2-3B": 3_212_749_824, "meta-llama/Llama-3.1-8B": 8_030_261_248,
    "meta-llama/Meta-Llama-3-8B": 8_030_261_248, "meta-llama/Llama-3.1-70B": 70_553_706_496,
    "meta-llama/Llama-3.3-70B-Instruct": 70_553_706_496,
    # ms-swift Benchmark.md prints 7721.3245 M for qwen-7b-chat.
    "Qwen/Qwen-7B": 7_721_324_544, "Qwen/Qwen-1_8B": 1_836_828_672,
}


@pytest.mark.parametrize("model_id, published", PUBLISHED_SIZES.items())
def test_total_parameters_match_published_sizes(model_id, published):
    assert count_parameters(get_architecture(model_id)) == published


@pytest.mark.parametrize("model_id, trainable", [
    ("Qwen/Qwen2.5-0.5B-Instruct", 8_798_208), ("Qwen/Qwen2.5-7B-Instruct", 40_370_176),
    ("meta-llama/Meta-Llama-3-8B", 41_943_040), ("Qwen/Qwen2.5-1.5B-Instruct", 18_464_768),
])
def test_lora_r16_all_linear_matches_peft(model_id, trainable):
    assert lora_trainable_parameters(get_architecture(model_id), 16, "all-linear") == trainable


def test_lora_named_targets_and_fused_qwen1_attention():
    # q and v only: r x (h + h) + r x (h + h_kv) per layer.
    assert lora_trainable_parameters(LLAMA3_8, 8, ["q_proj", "v_proj"]) == 32 * 8 * (8192 + 5120)
    # ms-swift prints 4.19 M (DEFAULT = c_attn) and 17.89 M (ALL) trainable for qwen-7b-chat at r 8.
    assert lora_trainable_parameters(QWEN1_7, 8, ["c_attn"]) == 4_194_304
    assert lora_trainable_parameters(QWEN1_7, 8, "all-linear") == 17_891_328
    # "c_proj" names both the attention and the MLP output projection, as PEFT's suffix match does.
    assert lora_trainable_parameters(QWEN1_7, 8, "c_proj") == 32 * 8 * ((4096 + 4096) + (11008 + 4096))


def test_tied_embeddings_counted_once_and_lm_head_multiplies():
    untied = {**QWEN25_05, "tie_word_embeddings": False}
    assert count_parameters(untied) - count_parameters(QWEN25_05) == 151936 * 896
    assert matmul_parameters(untied) == matmul_parameters(QWEN25_05)


def test_local_config_json_shapes_are_read():
    # A local Qwen3-style config: explicit head_dim, no q/k/v bias, q_norm/k_norm.
    qwen3 = {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
             "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
             "tie_word_embeddings": True, "attention_bias": False}
    assert count_parameters(qwen3) == 596_049_920  # Qwen3-0.6B
    wrapped = {"model_type": "llava", "text_config": dict(QWEN25_05)}
    assert count_parameters(wrapped) == 494_032_768
    with pytest.raises(EstimateError, match="hidden_size"):
        count_parameters({"model_type": "llama"})


def test_unknown_target_module_and_bad_rank():
    with pytest.raises(EstimateError, match="c_attn.*all-linear"):
        lora_trainable_parameters(QWEN25_7, 8, ["c_attn"])
    with pytest.raises(EstimateError, match="rank"):
        lora_trainable_parameters(QWEN25_7, 0, "all-linear")


# ------------------------------------------------------------------ catalogues and lookups

def test_architecture_lookup_is_case_insensitive_and_returns_copies():
    arch = find_architecture("qwen/qwen2.5-7b-INSTRUCT")
    assert arch == ARCHITECTURES["Qwen/Qwen2.5-7B-Instruct"]
    arch["hidden_size"] = 1
    assert ARCHITECTURES["Qwen/Qwen2.5-7B-Instruct"]["hidden_size"] == 3584
    assert find_architecture("nobody/nothing") is None
    base, instruct = get_architecture("Qwen/Qwen2.5-7B"), get_architecture("Qwen/Qwen2.5-7B-Instruct")
    assert {k: v for k, v in base.items() if k != "max_position_embeddings"} == \
           {k: v for k, v in instruct.items() if k != "max_position_embeddings"}
    for hub_id in ("meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B-Instruct",
                   "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct",
                   "meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct",
                   "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-3B-Instruct"):
        assert get_architecture(hub_id)["num_hidden_layers"] > 0


def test_unknown_architecture_suggests_close_ids():
    with pytest.raises(UnknownArchitecture) as err:
        get_architecture("Qwen/Qwen2.5-7B-Instruc")
    assert "Qwen/Qwen2.5-7B-Instruct" in str(err.value) and "config.json" in str(err.value)


def test_accelerator_aliases():
    assert get_accelerator("H100").name == "h100"
    assert get_accelerator("h100-sxm").name == "h100"
    assert get_accelerator("A100").name == "a100-80gb"  # the 80 GB part, as the catalogues rent
    assert get_accelerator(" RTX 4090 ").name == "rtx4090"
    assert get_accelerator("cpu").memory_gib is None


def test_unknown_accelerator_lists_names_and_suggests():
    with pytest.raises(UnknownAccelerator) as err:
        get_accelerator("h100-sxm-80g")
    message = str(err.value)
    assert "Did you mean 'h100'" in message  # only the same card: h1000 or h20 get none (test_accelerators.py)
    for name in ACCELERATORS:
        assert name in message
    with pytest.raises(UnknownAccelerator):
        estimate(QWEN25_05, adapter="lora", accelerator="tpu-v5", train_tokens=1)


def test_catalogue_entries_are_complete():
    required = {"h100", "h100-pcie", "h200", "a100-80gb", "a100-40gb", "l4", "a10", "a10g", "rtx4090", "a6000", "cpu"}
    assert required <= set(ACCELERATORS)
    for acc in ACCELERATORS.values():
        assert acc.peak_bf16_tflops > 0 and acc.price_source and acc.peak_source
        if acc.name != "cpu":  # no price only where none could be cited: the plan then shows no cost
            assert acc.memory_gib and acc.supports_4bit and (acc.price_usd_per_hour or acc.price_source == NO_PRICE)
    # GUIDE-RULES' SkyPilot figures, USD per GPU-hour.
    assert get_accelerator("h200").price_usd_per_hour == 3.99
    assert get_accelerator("l4").price_usd_per_hour == 0.44
    assert get_accelerator("a10g").price_picked and get_accelerator("a6000").price_picked


def test_managed_training_costs():
    costs = {(p.platform, p.model): cost for p, cost in managed_training_costs(2_000_000)}
    assert costs[("openai", "gpt-4o-mini")] == pytest.approx(6.0)  # USD 3 per 1M tokens
    assert costs[("bailian", "qwen3-8b")] == pytest.approx(12.0)  # CNY 0.006 per 1K tokens
    assert {p.currency for p in managed_training_prices()} == {"USD", "CNY"}


# ------------------------------------------------------------------ the guides' hardware table (seed 004)
# Interpretation: each "Qwen-xB <method> >= N GB" is the smallest card the guide recommends, so the model
# must predict that the run fits on an N GiB card (with the 10% headroom) under the guide's typical setup.
# We take that setup to be TRL 1.x's defaults: bf16, gradient checkpointing on, fused loss, torch's fused AdamW
# (transformers' default on torch >= 2.8; ftspec's own default, the multi-tensor AdamW, allocates one more moment-sized
# buffer at the step), LoRA r 8 on all linear layers, one sample of the guides' default max_length 2048 (Bailian).
# docs/estimation.md shows that with the plain HF loss the 0.5B rows only hold at <= 1024 tokens.

GUIDE_TABLE = [
    (QWEN25_05, "lora", 6), (QWEN25_05, "qlora", 4), (QWEN25_05, "full", 12),
    (QWEN25_7, "lora", 24), (QWEN25_7, "qlora", 12),
]


@pytest.mark.parametrize("arch, adapter, card_gb", GUIDE_TABLE)
@pytest.mark.parametrize("micro_batch_size, seq_len", [(1, 2048), (8, 1024)])  # the second: TRL's own defaults
def test_guide_minimum_cards_fit(arch, adapter, card_gb, micro_batch_size, seq_len):
    report = fit(arch, adapter=adapter, rank=8, accelerator="a100-80gb", micro_batch_size=micro_batch_size,
                 seq_len=seq_len, device_memory_gib=card_gb, precision="bf16-mixed", optimizer="adamw-fused")
    assert report.fits, report


def test_guide_ordering_qlora_lora_full():
    for arch in (QWEN25_05, QWEN25_7):
        mem = {a: estimate(arch, adapter=a, accelerator="a100-80gb", train_tokens=0, micro_batch_size=1,
                           seq_len=2048).memory.total for a in ("qlora", "lora", "full")}
        assert mem["qlora"] < mem["lora"] < mem["full"]


def test_guide_qwen7b_full_needs_48gb_or_several_gpus():
    # ">= 48 GB GPU or multi-GPU": one 48 GB card is not enough even in pure bf16 (8 B/param = 57 GiB) ...
    single = fit(QWEN25_7, adapter="full", accelerator="a6000", micro_batch_size=1, seq_len=2048)
    assert single.fits is False
    assert {"adapter", "num_processes"} <= {key for r in single.remedies for key in r.change}
    sharded = next(r for r in single.remedies if "num_processes" in r.change)
    assert sharded.fits and sharded.change["distributed"] == "zero3"
    # ... and mixed precision (16 B/param) fits on four of them with ZeRO-3 (TRL's default fused AdamW: the
    # multi-tensor one's sqrt(v) buffer at the step tips it over the headroom).
    four = fit(QWEN25_7, adapter="full", accelerator="a6000", micro_batch_size=1, seq_len=2048,
               precision="bf16-mixed", num_processes=4, distributed="zero3", optimizer="adamw-fused")
    assert four.fits


# ------------------------------------------------------------------ published measurements (COMPUTE-REFERENCES)
# (label, arch, estimate kwargs, measured, unit, which figure): "total" where the source's number is a
# device-level or reserved figure, "allocated" where it is torch.cuda.max_memory_allocated.

_QWEN_README = dict(micro_batch_size=1, accelerator="a100-80gb", loss_impl="hf-bf16", attention_impl="flash")
_SWIFT = dict(adapter="lora", rank=8, target_modules=["c_attn"], micro_batch_size=1, accelerator="a100-80gb",
              loss_impl="hf", attention_impl="flash")
_TORCHTUNE = dict(rank=8, target_modules=["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                  micro_batch_size=2, seq_len=2048, accelerator="rtx4090", loss_impl="chunked")
_LITGPT = dict(rank=32, target_modules=["q_proj", "v_proj"], seq_len=512, accelerator="a10g", loss_impl="chunked",
               gradient_checkpointing=False)
_UNSLOTH_HF = dict(adapter="qlora", rank=32, micro_batch_size=1, accelerator="a100-80gb", loss_impl="hf")

MEASURED = [
    # QwenLM/Qwen README: Qwen-7B, A100-80G, bs 1, FA2, LoRA r 64 on all linear, checkpointing on.
    ("Qwen README 7B LoRA 256", QWEN1_7, dict(adapter="lora", rank=64, seq_len=256), 20.1, "GB", "total"),
    ("Qwen README 7B LoRA 2048", QWEN1_7, dict(adapter="lora", rank=64, seq_len=2048), 23.8, "GB", "total"),
    ("Qwen README 7B LoRA 8192", QWEN1_7, dict(adapter="lora", rank=64, seq_len=8192), 36.6, "GB", "total"),
    ("Qwen README 7B QLoRA 256", QWEN1_7, dict(adapter="qlora", rank=64, seq_len=256), 11.5, "GB", "total"),
    ("Qwen README 7B QLoRA 2048", QWEN1_7, dict(adapter="qlora", rank=64, seq_len=2048), 13.9, "GB", "total"),
    ("Qwen README 7B QLoRA 8192", QWEN1_7, dict(adapter="qlora", rank=64, seq_len=8192), 23.5, "GB", "total"),
    ("Qwen README 1.8B full 2048", QWEN1_18, dict(adapter="full", seq_len=2048, precision="bf16-mixed"), 43.5, "GB",
     "total"),
    ("Qwen README 1.8B LoRA 2048", QWEN1_18, dict(adapter="lora", rank=64, seq_len=2048), 11.0, "GB", "total"),
    # torchtune README: Llama-3.1-8B, bs 2 packed to 2048, activation checkpointing, chunked CE; torch stats.
    ("torchtune 8B LoRA 4090", LLAMA31_8, dict(adapter="lora"), 16.2, "GiB", "allocated"),
    ("torchtune 8B QLoRA 4090", LLAMA31_8, dict(adapter="qlora"), 7.4, "GiB", "allocated"),
    # Same table, Llama-3.1-70B LoRA r 16 (attention + MLP) sharded with FSDP over 8 A100s.
    ("torchtune 70B LoRA 8xA100", get_architecture("meta-llama/Llama-3.1-70B-Instruct"),
     dict(adapter="lora", rank=16, target_modules="all-linear", accelerator="a100-80gb", num_processes=8,
          distributed="fsdp"), 27.6, "GiB", "allocated"),
    # litgpt config_hub: Llama-3-8B LoRA r 32 on q/v, bf16-true, no checkpointing, mbs 1, 512 tokens.
    ("litgpt 8B LoRA A10G", LLAMA3_8, dict(adapter="lora", micro_batch_size=1), 19.73, "GB", "allocated"),
    # ms-swift Benchmark.md: qwen-7b-chat LoRA r 8 on c_attn, bs 1, reserved GiB.
    ("ms-swift 7B 512", QWEN1_7, dict(seq_len=512), 18.01, "GiB", "total"),
    ("ms-swift 7B 1024", QWEN1_7, dict(seq_len=1024), 21.73, "GiB", "total"),
    ("ms-swift 7B 2048", QWEN1_7, dict(seq_len=2048), 27.74, "GiB", "total"),
    ("ms-swift 7B 4096", QWEN1_7, dict(seq_len=4096), 35.31, "GiB", "total"),
    ("ms-swift 7B 8192", QWEN1_7, dict(seq_len=8192), 48.41, "GiB", "total"),
    ("ms-swift 7B 2048 no ckpt", QWEN1_7, dict(seq_len=2048, gradient_checkpointing=False), 37.70, "GiB", "total"),
    ("ms-swift 7B 2048 no ckpt no FA", QWEN1_7, dict(seq_len=2048, gradient_checkpointing=False,
                                                     attention_impl="eager"), 57.67, "GiB", "total"),
    ("ms-swift 7B 2048 no FA", QWEN1_7, dict(seq_len=2048, attention_impl="eager"), 27.71, "GiB", "total"),
    # Unsloth README: the longest context HF + FA2 fits for Llama-3.1-8B QLoRA r 32 all-linear, bs 1.
    ("Unsloth HF 12 GB", LLAMA31_8, dict(seq_len=932), 12, "GiB", "total"),
    ("Unsloth HF 16 GB", LLAMA31_8, dict(seq_len=2551), 16, "GiB", "total"),
    ("Unsloth HF 24 GB", LLAMA31_8, dict(seq_len=5789), 24, "GiB", "total"),
    ("Unsloth HF 40 GB", LLAMA31_8, dict(seq_len=12264), 40, "GiB", "total"),
    ("Unsloth HF 48 GB", LLAMA31_8, dict(seq_len=15502), 48, "GiB", "total"),
    ("Unsloth HF 80 GB", LLAMA31_8, dict(seq_len=28454), 80, "GiB", "total"),
]

_DEFAULTS = {"Qwen README": _QWEN_README, "torchtune": _TORCHTUNE, "litgpt": _LITGPT, "ms-swift": _SWIFT,
             "Unsloth": _UNSLOTH_HF}


def predicted(label: str, arch: dict, kwargs: dict, unit: str, which: str) -> float:
    setup = {**next(v for k, v in _DEFAULTS.items() if label.startswith(k)), **kwargs}
    value = getattr(estimate(arch, train_tokens=0, **setup).memory, which)
    return value * GIB / GB if unit == "GB" else value


@pytest.mark.parametrize("label, arch, kwargs, measured, unit, which", MEASURED, ids=[m[0] for m in MEASURED])
def test_memory_within_band_of_published_measurements(label, arch, kwargs, measured, unit, which):
    value = predicted(label, arch, kwargs, unit, which)
    assert abs(value - measured) / measured <= MEMORY_BAND, f"{label}: predicted {value:.2f} vs {measured} {unit}"


def test_no_checkpointing_and_eager_attention_deltas_match_ms_swift():
    # The differences isolate single terms: checkpointing's saved activations (measured 9.96 GiB) and
    # eager attention's 5·a·s²·L bytes (measured 19.97 GiB).
    base = estimate(QWEN1_7, train_tokens=0, seq_len=2048, **_SWIFT).memory
    no_ckpt = estimate(QWEN1_7, train_tokens=0, seq_len=2048, gradient_checkpointing=False, **_SWIFT).memory
    eager = estimate(QWEN1_7, train_tokens=0, seq_len=2048, gradient_checkpointing=False,
                     **{**_SWIFT, "attention_impl": "eager"}).memory
    assert (no_ckpt.allocated - base.allocated) == pytest.approx(37.70 - 27.74, rel=0.25)
    assert (eager.allocated - no_ckpt.allocated) == pytest.approx(57.67 - 37.70, rel=0.10)


@pytest.mark.parametrize("adapter, precision, llama_factory_gb", [
    ("full", "bf16-mixed", 120), ("full", "bf16", 60), ("lora", "bf16", 16), ("qlora", "bf16", 6)])
def test_static_states_match_llama_factory_table(adapter, precision, llama_factory_gb):
    # LLaMA-Factory's "Hardware Requirement" for 7B (weights + gradients + optimizer, no activations):
    # AMP 18x = 120 GB, pure bf16 8x = 60 GB, LoRA 2x = 16 GB, QLoRA 4-bit x/2 = 6 GB.
    m = estimate(QWEN25_7, adapter=adapter, precision=precision, accelerator="h200", train_tokens=0).memory
    static_gb = (m.weights + m.gradients + m.optimizer) * GIB / GB
    assert static_gb == pytest.approx(llama_factory_gb, rel=MEMORY_BAND)


@pytest.mark.parametrize("adapter, seconds_per_step", [("lora", 5.2), ("qlora", 7.0)])
def test_time_within_band_of_qwen_readme(adapter, seconds_per_step):
    # bs 1 x GA 8 at 2048 tokens (finetune.py pads to model_max_length) = 16384 tokens per step on an A100.
    # Qwen's script is an optimized stack (FA2, fused rotary and RMSNorm), so the optimized-stack prior applies.
    est = estimate(QWEN1_7, adapter=adapter, rank=64, seq_len=2048, train_tokens=8 * 2048, mfu=OPTIMIZED_STACK_MFU,
                   **{k: v for k, v in _QWEN_README.items() if k != "seq_len"})
    seconds = est.wall_time_hours * 3600
    assert abs(seconds - seconds_per_step) / seconds_per_step <= TIME_BAND


# ------------------------------------------------------------------ the terms themselves

def test_flops_formulas():
    n = matmul_parameters(QWEN25_7)
    shape = dict(accelerator="h100", train_tokens=1000, micro_batch_size=1, seq_len=2048)
    attention = 6 * 28 * 2048 * 3584
    full = estimate(QWEN25_7, adapter="full", gradient_checkpointing=False, **shape)
    assert full.flops_per_token == 6 * n + attention
    assert full.total_flops == full.flops_per_token * 1000
    p = lora_trainable_parameters(QWEN25_7, 16, "all-linear")
    lora = estimate(QWEN25_7, adapter="lora", rank=16, gradient_checkpointing=False, **shape)
    assert lora.flops_per_token == 4 * n + 6 * p + attention
    ckpt = estimate(QWEN25_7, adapter="full", gradient_checkpointing=True, **shape)
    assert ckpt.flops_per_token == 8 * n + attention + 2 * 28 * 2048 * 3584


def test_time_and_cost_arithmetic():
    est = estimate(QWEN25_7, adapter="lora", accelerator="h100", train_tokens=10_000_000, num_processes=2,
                   distributed="ddp")
    assert est.mfu == 0.20
    hours = est.total_flops / (2 * 989e12 * 0.20) / 3600
    assert est.wall_time_hours == pytest.approx(hours)
    assert est.gpu_hours == pytest.approx(2 * hours)
    assert est.cost_usd == pytest.approx(2 * hours * 3.29)
    assert est.wall_time_range_hours == pytest.approx((hours * 0.5, hours * 1.5), rel=1e-3)
    # QLoRA's dequantisation costs the same per micro-batch whatever its tokens: x1.35 at 1 x 2048 (its calibration),
    # a quarter of the excess at the default 8 x 1024.
    qlora = estimate(QWEN25_7, adapter="qlora", accelerator="h100", train_tokens=10_000_000)
    assert qlora.mfu == pytest.approx(0.20 / (1 + 0.35 / 4))
    qlora_2048 = estimate(QWEN25_7, adapter="qlora", accelerator="h100", train_tokens=10_000_000, micro_batch_size=1,
                          seq_len=2048)
    assert qlora_2048.mfu == pytest.approx(0.20 / 1.35)


def test_memory_terms_follow_the_byte_counts():
    n = count_parameters(QWEN25_7)
    common = dict(adapter="full", accelerator="h100", train_tokens=0, micro_batch_size=1, seq_len=1024)
    pure = estimate(QWEN25_7, precision="bf16", **common).memory
    mixed = estimate(QWEN25_7, precision="bf16-mixed", **common).memory
    eight_bit = estimate(QWEN25_7, precision="bf16-mixed", optimizer="adamw8bit", **common).memory
    assert pure.weights * GIB == pytest.approx(n * 2) and pure.gradients * GIB == pytest.approx(n * 2)
    assert pure.optimizer * GIB == pytest.approx(n * 4)  # pure bf16: moments in the parameters' dtype
    assert mixed.optimizer * GIB == pytest.approx(n * 12)  # fp32 master + two moments
    assert eight_bit.optimizer * GIB == pytest.approx(n * 6)
    qlora = estimate(QWEN25_7, adapter="qlora", rank=16, accelerator="h100", train_tokens=0).memory
    assert 5.0 < qlora.weights < 5.5  # 6.53 B linear weights x 0.516 + 1.09 B bf16 embeddings/head + adapters


def test_loss_impl_changes_only_the_logits_term():
    common = dict(adapter="lora", accelerator="h100", train_tokens=0, micro_batch_size=1, seq_len=4096,
                  gradient_checkpointing=False)
    hf = estimate(QWEN25_05, loss_impl="hf", **common).memory
    fused = estimate(QWEN25_05, loss_impl="fused", **common).memory
    assert hf.logits * GIB == pytest.approx(16 * 151936 * 4096)
    assert fused.logits < 0.3 and hf.weights == fused.weights and hf.activations == fused.activations
    assert estimate(QWEN25_05, loss_impl="chunked_nll", **common).loss_impl == "fused"  # TRL's deprecated alias


def test_sharding_divides_what_each_strategy_shards():
    common = dict(adapter="full", accelerator="h100", train_tokens=0, micro_batch_size=1, seq_len=1024)
    one = estimate(QWEN25_7, **common).memory
    ddp = estimate(QWEN25_7, num_processes=4, distributed="ddp", **common).memory
    zero2 = estimate(QWEN25_7, num_processes=4, distributed="zero2", **common).memory
    zero3 = estimate(QWEN25_7, num_processes=4, distributed="zero3", **common).memory
    fsdp = estimate(QWEN25_7, num_processes=4, distributed="fsdp", **common).memory
    assert ddp.weights == one.weights and ddp.buffers == pytest.approx(one.gradients)  # bucket copy
    assert zero2.weights == one.weights and zero2.optimizer == pytest.approx(one.optimizer / 4)
    assert zero3.weights == pytest.approx(one.weights / 4) and zero3.gradients == pytest.approx(one.gradients / 4)
    # DeepSpeed adds its 5e8-element bf16 reduce bucket (0.93 GiB) to what FSDP shards the same way, and keeps up to
    # stage3_max_live_parameters (1e9) gathered where FSDP holds the larger of two layers and the embedding.
    fsdp_gathered = max(2 * layer_parameters(as_shape(QWEN25_7)), 152064 * 3584)
    assert zero3.buffers - fsdp.buffers == pytest.approx((5e8 + 1e9 - fsdp_gathered) * 2 / GIB)
    assert fsdp.total < zero3.total < zero2.total < one.total < ddp.total
    assert ddp.cuda_context > one.cuda_context  # NCCL


def test_checkpointing_keeps_layer_inputs_only():
    common = dict(adapter="lora", accelerator="h100", train_tokens=0, micro_batch_size=2, seq_len=2048)
    on = estimate(LLAMA31_8, gradient_checkpointing=True, **common).memory
    off = estimate(LLAMA31_8, gradient_checkpointing=False, **common).memory
    tokens = 2 * 2048
    assert on.activations * GIB == pytest.approx(32 * tokens * 4096 * 2)
    assert off.activations * GIB == pytest.approx(32 * tokens * (20 * 4096 + 4 * 1024 + 8 * 14336))
    assert on.layer_recompute * GIB == pytest.approx(tokens * (20 * 4096 + 4 * 1024 + 8 * 14336))


# ------------------------------------------------------------------ fit and remedies

def test_no_fit_offers_remedies_each_re_estimated():
    setup = dict(adapter="lora", rank=16, accelerator="rtx4090", micro_batch_size=8, seq_len=4096,
                 gradient_checkpointing=False, loss_impl="hf")
    report = fit(QWEN25_7, **setup)
    assert report.fits is False and report.memory_gib > report.limit_gib
    assert report.limit_gib == pytest.approx(23.6 * 0.9, abs=0.01)
    actions = {key for r in report.remedies for key in r.change}
    assert {"gradient_checkpointing", "loss_impl", "adapter", "micro_batch_size", "num_processes", "seq_len"} <= actions
    for remedy in report.remedies:
        redo = estimate(QWEN25_7, train_tokens=0, **{**setup, **remedy.change})
        assert remedy.memory_gib == pytest.approx(redo.memory.total, abs=0.01)
        assert remedy.fits == redo.fit.fits
        assert remedy.memory_gib < report.memory_gib
    mbs = next(r for r in report.remedies if "micro_batch_size" in r.change)
    assert mbs.change["micro_batch_size"] in (1, 2, 4)


def test_fit_with_headroom():
    mem = estimate(QWEN25_7, adapter="lora", accelerator="h100", train_tokens=0).memory.total
    assert fit(QWEN25_7, adapter="lora", accelerator="h100", device_memory_gib=mem / 0.95).fits is False
    assert fit(QWEN25_7, adapter="lora", accelerator="h100", device_memory_gib=mem / 0.85).fits is True
    assert fit(QWEN25_7, adapter="lora", accelerator="h100").remedies == ()


def test_cpu_reports_memory_without_a_fit_check():
    est = estimate(QWEN25_05, adapter="lora", accelerator="cpu", train_tokens=1000)
    assert est.fit.fits is None and est.fit.device_memory_gib is None
    assert est.memory.cuda_context == 0 and est.memory.allocated > 0
    # Host RAM is the training process's resident set: its measured baseline plus the live tensors.
    assert est.memory.process == CPU_PROCESS_GIB and est.memory.total == pytest.approx(est.memory.allocated + CPU_PROCESS_GIB)
    assert est.cost_usd is None and est.wall_time_hours > 0
    assert any("CPU" in note for note in est.notes)
    assert any("4-bit" in n for n in estimate(QWEN25_05, adapter="qlora", accelerator="cpu", train_tokens=1).notes)


def test_argument_errors():
    with pytest.raises(EstimateError, match="distributed"):
        estimate(QWEN25_7, adapter="lora", accelerator="h100", train_tokens=1, num_processes=4)
    with pytest.raises(EstimateError, match="adapter"):
        estimate(QWEN25_7, adapter="prefix", accelerator="h100", train_tokens=1)
    with pytest.raises(EstimateError, match="micro_batch_size"):
        estimate(QWEN25_7, adapter="lora", accelerator="h100", train_tokens=1, micro_batch_size=0)
    with pytest.raises(TypeError):
        estimate(QWEN25_7, "lora", "h100", 1)  # keyword-only


def test_estimate_serialises_to_json():
    est = estimate(QWEN25_7, adapter="qlora", accelerator="a10g", train_tokens=5_000_000, micro_batch_size=4,
                   seq_len=4096, gradient_checkpointing=False)
    data = json.loads(json.dumps(est.to_dict()))
    assert data["memory"]["total"] == est.memory.total
    assert data["fit"]["remedies"] and data["cost_range_usd"][0] < data["cost_usd"] < data["cost_range_usd"][1]
    low, high = est.memory_range_gib
    assert low == pytest.approx(est.memory.total * 0.75, abs=0.01) and high == pytest.approx(est.memory.total * 1.25,
                                                                                          abs=0.01)


def test_planner_modules_import_without_torch_or_transformers():
    code = ("import sys; import ftspec.plan.estimate, ftspec.launch.accelerators, ftspec.models.architectures; "
            "bad = [m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules]; "
            "assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def _with_vocab(arch: dict, vocab: int) -> dict:
    return {**arch, "vocab_size": vocab}


def test_vocabulary_terms_scale_with_the_vocabulary_on_gpu():
    common = dict(accelerator="h100", train_tokens=1000, micro_batch_size=1, seq_len=4096, gradient_checkpointing=False)
    small, big = (estimate(_with_vocab(QWEN25_05, v), adapter="full", **common) for v in (64000, 128000))
    # The LM head is a V x h matmul: +6·ΔV·h FLOPs per trained token, and its fp32 gradient ΔV·h·4 bytes.
    h = QWEN25_05["hidden_size"]
    assert big.flops_per_token - small.flops_per_token == pytest.approx(6 * 64000 * h)
    assert (big.memory.logits - small.memory.logits) * GIB == pytest.approx(64000 * h * 4)
    # The plain HF loss: c ~ 16 bytes per vocabulary entry per token, which fits Unsloth's 2.47 MB/token at V = 128k
    # (COMPUTE-REFERENCES, "Logits").
    hf = estimate(_with_vocab(QWEN25_05, 128256), adapter="lora", loss_impl="hf", **common).memory
    assert 0.8 < hf.logits * GIB / 4096 / 2.47e6 < 1.2


def test_cpu_terms_hold_the_measured_real_vocabulary_runs():
    """bench/bench_real_vocab_cost.py, qwen25-lora-b8-long: Qwen2.5 fixture (V = 151,936, 4.9M parameters), LoRA r8,
    micro-batch 8 x 222 tokens: measured peak RSS 2.446 GiB and train 44.73 s for 7,084 tokens on the idle machine
    (2026-12-02; out of the time term's calibration sample)."""
    from ftspec.models.fixtures import FAMILIES

    arch = FAMILIES["qwen2.5-instruct"].config
    est = estimate(arch, adapter="lora", rank=8, accelerator="cpu", train_tokens=7084, micro_batch_size=8,
                   seq_len=222, gradient_checkpointing=False, precision="fp32")
    assert abs(est.memory.total / 2.446 - 1) <= 0.30
    assert abs(est.wall_time_hours * 3600 / 44.73 - 1) <= 0.50
    # Both vocabulary terms scale with V: a byte-level vocabulary costs next to nothing.
    tiny = estimate(_with_vocab(arch, 259), adapter="lora", rank=8, accelerator="cpu", train_tokens=7084,
                    micro_batch_size=8, seq_len=222, gradient_checkpointing=False, precision="fp32")
    assert tiny.memory.logits < 0.01 and tiny.wall_time_hours * 3600 < 5


# ------------------------------------------------------------------ published measurements COMPUTE-REFERENCES leaves out
# tests/support/published_measurements.py: 60 rows from 8 documents of 5 projects, each with the text it was copied
# from; every 4th row in the order they were found is held back (chosen before any prediction). Scoring rules
# (tests/support/published.py) are per source stack and fixed: docs/estimation.md has the table and every miss.

from support import published  # noqa: E402

VALIDATION_SCORES = published.validation()
HELD_BACK_SCORES = published.held_back()


def _memory_scored(scores):
    return [s for s in scores if s.error is not None]


def test_the_published_set_covers_what_the_issue_asks():
    rows = _memory_scored(VALIDATION_SCORES)
    assert len(rows) >= 20 and len(published.sources(VALIDATION_SCORES)) >= 4
    params = [count_parameters(as_shape(published.architecture(s.row))) for s in rows]
    assert min(params) < 1.5e9 and max(params) > 65e9  # 1B to 70B
    assert any(s.row["seq_len"] >= 8192 for s in rows)  # long context
    assert any(s.row["method"] == "full" and str(s.row["distributed"]).startswith("zero") for s in rows)
    assert any(s.row["method"] == "qlora" and s.row["micro_batch"] > 1 for s in rows)
    assert any(s.row["gpus"] > 1 for s in rows)


def test_peak_memory_within_15_percent_on_80_percent_of_the_published_rows():
    errors = [s.error for s in _memory_scored(VALIDATION_SCORES)]
    within = sum(abs(e) <= 0.15 for e in errors)
    assert within / len(errors) >= 0.80, sorted(f"{s.row['label']} {s.error:+.0%}" for s in
                                                 _memory_scored(VALIDATION_SCORES) if abs(s.error) > 0.15)


def test_held_back_rows_check_the_model_independently():
    # Not tuned on. Below the validation set's 80 %: litgpt's QLoRA runs use more memory than any term here explains
    # (docs/estimation.md); the floor records what was measured so a regression shows.
    errors = [s.error for s in _memory_scored(HELD_BACK_SCORES)]
    assert len(errors) >= 8
    assert sum(abs(e) <= 0.15 for e in errors) / len(errors) >= 0.55
    assert sum(abs(e) <= 0.25 for e in errors) / len(errors) >= 0.90


KNOWN_FIT_MISSES = {
    # docs/estimation.md, "What the published rows do not match": each predicted 4-5 % over the card.
    "litgpt-mistral-7b-v0.2-lora-mb2", "swift-megatron-bench-qwen2.5-14b-full-zero2-8xa800",
}


def test_fit_or_no_fit_matches_every_run_but_the_documented_edge_cases():
    judged = [s for s in VALIDATION_SCORES + HELD_BACK_SCORES if s.fits_measured is not None
              and not (s.reason and "layout" in s.reason) and "below weights" not in (s.reason or "")]
    misses = {s.row["label"] for s in judged if s.fits_predicted != s.fits_measured}
    assert misses <= KNOWN_FIT_MISSES, misses - KNOWN_FIT_MISSES
    assert len(judged) >= 30
    for s in judged:
        if s.row["label"] in KNOWN_FIT_MISSES:  # a near miss, not a wrong order of magnitude
            card = published.device_gib(s.row)
            assert 1.0 < s.total_gib / card < 1.10


def test_step_time_within_x1_5_where_the_source_states_its_stack():
    timed = [s for s in VALIDATION_SCORES if s.time_ratio is not None]
    within = [s for s in timed if 1 / 1.5 <= s.time_ratio <= 1.5]
    assert len(timed) >= 12 and len(within) / len(timed) >= 0.90, [
        f"{s.row['label']} x{s.time_ratio:.2f}" for s in timed if s not in within]
