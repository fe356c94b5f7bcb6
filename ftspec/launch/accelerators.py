"""Accelerator catalogue: plain data for the layout and the planner's cost model (managed platforms' prices are in
``ftspec.platforms``).

Every figure carries where it came from. Memory is what the device reports to CUDA (``torch.cuda
.get_device_properties(i).total_memory``, the "total capacity" in an OOM message), which is less than the
marketing size. Peak throughput is the datasheet's dense bf16 tensor figure (no 2:4 sparsity). Prices are
the SkyPilot catalogue figures quoted in shared/GUIDE-RULES.md; where that list has no figure for a type, the
value is marked ``price_picked`` and the reason is in ``price_source``.

No torch here: ``ftspec plan`` must start cold in under two seconds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# The SkyPilot catalogue figures in GUIDE-RULES.md were read in 2026.
SKYPILOT_2026 = "SkyPilot catalog, 2026 (shared/GUIDE-RULES.md)"


@dataclass(frozen=True)
class Accelerator:
    name: str
    description: str
    memory_gib: float | None  # usable, as CUDA reports it; None for the host CPU (no fit check)
    peak_bf16_tflops: float  # dense, datasheet
    peak_source: str
    price_usd_per_hour: float | None  # per GPU
    price_source: str
    price_picked: bool  # True where the value is our pick rather than a figure from GUIDE-RULES
    supports_bf16: bool
    supports_4bit: bool  # bitsandbytes NF4 kernels (CUDA only)
    # Which MFU prior applies (see MFU_PRIORS in estimate.py): it depends on how far the chip's
    # bandwidth keeps up with its peak, since an HF Trainer step has many unfused, bandwidth-bound ops.
    mfu_class: str


def _gpu(name, description, memory_gib, tflops, peak_source, price, price_source, *, picked=False,
         mfu_class, bf16=True, four_bit=True) -> Accelerator:
    return Accelerator(name, description, memory_gib, tflops, peak_source, price, price_source, picked,
                       bf16, four_bit, mfu_class)


ACCELERATORS: dict[str, Accelerator] = {a.name: a for a in (
    _gpu("h100", "NVIDIA H100 SXM 80GB (HBM3)", 79.1, 989.0, "NVIDIA H100 datasheet, SXM, dense bf16",
         3.29, f"Lambda H100 SXM, {SKYPILOT_2026}; RunPod lists 2.99: the higher quote is kept so a "
         "plan does not understate the bill", mfu_class="hopper"),
    _gpu("h100-pcie", "NVIDIA H100 PCIe 80GB", 79.1, 756.0, "NVIDIA H100 datasheet, PCIe, dense bf16",
         2.49, f"Lambda H100 PCIe, {SKYPILOT_2026}", mfu_class="hopper"),
    _gpu("h200", "NVIDIA H200 SXM 141GB (HBM3e)", 139.8, 989.0, "NVIDIA H200 datasheet, dense bf16 (same die as H100)",
         3.99, f"RunPod H200, {SKYPILOT_2026}", mfu_class="hopper"),
    _gpu("a100-80gb", "NVIDIA A100 SXM 80GB", 79.1, 312.0, "NVIDIA A100 datasheet, dense bf16",
         1.89, f"RunPod A100-80GB SXM, {SKYPILOT_2026}; Lambda lists 1.79: the higher quote is kept",
         mfu_class="ampere-datacenter"),
    _gpu("a100-40gb", "NVIDIA A100 40GB", 39.4, 312.0, "NVIDIA A100 datasheet, dense bf16",
         1.29, f"Lambda A100-40GB, {SKYPILOT_2026}", mfu_class="ampere-datacenter"),
    _gpu("l4", "NVIDIA L4 24GB", 22.0, 121.0, "NVIDIA L4 datasheet, dense bf16 (242 with sparsity)",
         0.44, f"RunPod L4, {SKYPILOT_2026}", mfu_class="bandwidth-starved"),
    _gpu("a10", "NVIDIA A10 24GB", 22.0, 125.0, "NVIDIA A10 datasheet, dense bf16",
         0.75, f"Lambda A10, {SKYPILOT_2026}", mfu_class="workstation"),
    # AWS's A10G is an A10 variant (same GA102 die, same 24 GB GDDR6, same 150 W limit) for which
    # neither NVIDIA nor AWS publishes a tensor figure: we take the A10's. Its price is AWS's, not
    # SkyPilot's: the A10G exists only inside g5 instances.
    _gpu("a10g", "NVIDIA A10G 24GB (AWS g5)", 22.0, 125.0,
         "no published figure; picked equal to the A10 (same die and power limit)",
         1.006, "picked: AWS on-demand g5.xlarge (1x A10G, us-east-1) list price, not in GUIDE-RULES; "
         "the instance price includes its 4 vCPUs", picked=True, mfu_class="workstation"),
    _gpu("rtx4090", "NVIDIA GeForce RTX 4090 24GB", 23.6, 165.0,
         "NVIDIA Ada whitepaper, bf16 with fp32 accumulate, dense (PyTorch accumulates in fp32)",
         0.69, f"RunPod RTX 4090, {SKYPILOT_2026}", mfu_class="workstation"),
    _gpu("a6000", "NVIDIA RTX A6000 48GB", 47.5, 154.8, "NVIDIA RTX A6000 datasheet, dense bf16 (309.7 with sparsity)",
         0.80, "picked: Lambda 1x A6000 on-demand list price; the A6000 is not in GUIDE-RULES' figures",
         picked=True, mfu_class="workstation"),
    # The host CPU: lets builtin:tiny smoke runs be planned. No fit check (memory is the host's RAM)
    # and the time is an order of magnitude at best: 1 TFLOP/s is a generous many-core AVX-512 figure.
    Accelerator("cpu", "host CPU (no accelerator)", None, 1.0, "nominal; order-of-magnitude only",
                None, "no GPU rented", False, supports_bf16=True, supports_4bit=False, mfu_class="cpu"),
)}

# Spellings people write in specs, lower-cased. "a100" alone means the 80 GB part: it is what the cloud
# catalogues (SkyPilot's "A100-80GB" and RunPod's "A100 SXM") rent most, and the 40 GB one is
# spelled out when meant. "h100" alone is the SXM part, for the same reason.
ALIASES: dict[str, str] = {
    "h100-sxm": "h100", "h100-sxm5": "h100", "h100-80gb": "h100", "h100_sxm": "h100",
    "h100pcie": "h100-pcie", "h100_pcie": "h100-pcie",
    "h200-sxm": "h200", "h200-141gb": "h200",
    "a100": "a100-80gb", "a100-80g": "a100-80gb", "a100-sxm": "a100-80gb", "a100_80gb": "a100-80gb",
    "a100-40g": "a100-40gb", "a100_40gb": "a100-40gb",
    "rtx-4090": "rtx4090", "4090": "rtx4090", "geforce-rtx-4090": "rtx4090",
    "rtxa6000": "a6000", "rtx-a6000": "a6000", "a6000-48gb": "a6000",
    "nvidia-l4": "l4", "nvidia-a10": "a10", "nvidia-a10g": "a10g",
    "none": "cpu", "host": "cpu",
}


class UnknownAccelerator(ValueError):
    """A spec names an accelerator this catalogue does not know."""

    def __init__(self, name: str):
        known = sorted(ACCELERATORS)
        close = difflib.get_close_matches(_normalise(name), known + sorted(ALIASES), n=1, cutoff=0.6)
        hint = f" Did you mean {ALIASES.get(close[0], close[0])!r}?" if close else ""
        super().__init__(f"unknown accelerator {name!r}.{hint} Known: {', '.join(known)}.")
        self.name = name
        self.known = known


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "-")


def get_accelerator(name: str) -> Accelerator:
    """The catalogue entry for ``name`` (case-insensitive, aliases allowed); UnknownAccelerator otherwise."""
    key = _normalise(name)
    key = ALIASES.get(key, key)
    try:
        return ACCELERATORS[key]
    except KeyError:
        raise UnknownAccelerator(name) from None
