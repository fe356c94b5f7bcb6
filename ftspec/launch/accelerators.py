"""Accelerator catalogue: plain data for the layout and the planner's cost model (managed platforms' prices are in
``ftspec.platforms``).

Every figure carries where it came from. Memory is what the device reports to CUDA (``torch.cuda
.get_device_properties(i).total_memory``, the "total capacity" in an OOM message), which is less than the
marketing size (``memory_gb``, the datasheet's GB). Peak throughput is the datasheet's dense bf16 tensor figure
(no 2:4 sparsity); the V100 has no bf16, so its entry holds the fp16 tensor figure, the precision its runs use.
Prices are the SkyPilot catalogue figures quoted in shared/GUIDE-RULES.md; where that list has no figure for a
type, the value is marked ``price_picked`` and the reason is in ``price_source``, or it is None where no public
figure could be cited (the China-market cards): the plan then shows no cost until ``compute.price_per_gpu_hour``
gives one.

No torch here: ``ftspec plan`` must start cold in under two seconds.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# The SkyPilot catalogue figures in GUIDE-RULES.md were read in 2026.
SKYPILOT_2026 = "SkyPilot catalog, 2026 (shared/GUIDE-RULES.md)"
NO_PRICE = ("no price: no public per-GPU-hour list price could be cited for it; set compute.price_per_gpu_hour "
            "(USD) to have the plan cost the run")
H100_DATASHEET = "https://www.nvidia.com/en-us/data-center/h100/"
A100_DATASHEET = ("https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
                  "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf")
ADA_WHITEPAPER = "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf"
V100_DATASHEET = ("https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf"
                  "; https://developer.nvidia.com/programming-tensor-cores-cuda-9-0 (up to 125 tensor TFLOPS)")


@dataclass(frozen=True)
class Accelerator:
    name: str
    description: str
    memory_gib: float | None  # usable, as CUDA reports it; None for the host CPU (no fit check)
    peak_bf16_tflops: float  # dense, datasheet (V100: fp16, it has no bf16)
    peak_source: str
    price_usd_per_hour: float | None  # per GPU; None: no citable figure, the plan gives no cost
    price_source: str
    price_picked: bool  # True where the value is our pick rather than a figure from GUIDE-RULES
    supports_bf16: bool
    supports_4bit: bool  # bitsandbytes NF4 kernels (CUDA only)
    # Which MFU prior applies (see MFU_PRIORS in estimate_terms.py): it depends on how far the chip's
    # bandwidth keeps up with its peak, since an HF Trainer step has many unfused, bandwidth-bound ops.
    mfu_class: str
    memory_gb: int | None = None  # datasheet (marketing) size
    bandwidth_gb_s: float | None = None  # datasheet memory bandwidth; what mfu_class was chosen from
    source: str = ""  # datasheet or spec page (URL) for memory, peak and bandwidth
    # The card's identity for "did you mean": model number, datasheet GB, form factor ("sxm", "pcie" or
    # None where the catalogue entry stands for either). See _suggestion.
    model: str = ""
    form: str | None = None


def _gpu(name, description, memory_gib, tflops, peak_source, price, price_source, *, picked=False, mfu_class,
         memory_gb, bandwidth, source, model, form=None, bf16=True, four_bit=True) -> Accelerator:
    return Accelerator(name, description, memory_gib, tflops, peak_source, price, price_source, picked,
                       bf16, four_bit, mfu_class, memory_gb, bandwidth, source, model, form)


ACCELERATORS: dict[str, Accelerator] = {a.name: a for a in (
    _gpu("h100", "NVIDIA H100 SXM 80GB (HBM3)", 79.1, 989.0, "NVIDIA H100 datasheet, SXM, dense bf16",
         3.29, f"Lambda H100 SXM, {SKYPILOT_2026}; RunPod lists 2.99: the higher quote is kept so a "
         "plan does not understate the bill", mfu_class="hopper",
         memory_gb=80, bandwidth=3350, source=H100_DATASHEET, model="h100", form="sxm"),
    _gpu("h100-pcie", "NVIDIA H100 PCIe 80GB", 79.1, 756.0, "NVIDIA H100 datasheet, PCIe, dense bf16",
         2.49, f"Lambda H100 PCIe, {SKYPILOT_2026}", mfu_class="hopper",
         memory_gb=80, bandwidth=2000, source=H100_DATASHEET, model="h100", form="pcie"),
    _gpu("h200", "NVIDIA H200 SXM 141GB (HBM3e)", 139.8, 989.0, "NVIDIA H200 datasheet, dense bf16 (same die as H100)",
         3.99, f"RunPod H200, {SKYPILOT_2026}", mfu_class="hopper",
         memory_gb=141, bandwidth=4800, source="https://www.nvidia.com/en-us/data-center/h200/", model="h200",
         form="sxm"),
    # The China-market Hopper cut to ~15% of the H100's tensor rate, with more memory and bandwidth. NVIDIA
    # publishes no English datasheet: the figures are the widely reported ones (cited), 96 GB HBM3 is confirmed
    # by nvidia-smi (97,871 MiB; CUDA sees ~0.55 GiB less, as on the H100: 95.0). Its bandwidth per FLOP
    # (27 B/kFLOP) is far above every other class, so it takes the highest prior, not the Hopper one.
    _gpu("h20", "NVIDIA H20 96GB (HBM3, China market)", 95.0, 148.0,
         "reported dense fp16/bf16 (NVIDIA publishes no datasheet; not vendor-confirmed)", None, NO_PRICE,
         mfu_class="ampere-datacenter", memory_gb=96, bandwidth=4000,
         source="https://willitrunai.com/es/gpus/h20-96gb; https://zangshuxian.com/new/674733024499207168 "
         "(third-party; 148 TFLOPS fp16 dense, 4.0 TB/s)", model="h20"),
    # The H100 SXM with NVLink cut to 400 GB/s and FP64 cut: the tensor rate, memory and bandwidth are the
    # H100's (NVIDIA's H800 page is China-only; the comparison below is third-party).
    _gpu("h800", "NVIDIA H800 SXM 80GB (HBM3, China market)", 79.1, 989.0,
         "H100 SXM datasheet's dense bf16; the H800 differs only in NVLink and FP64 (third-party comparison)",
         None, NO_PRICE, mfu_class="hopper", memory_gb=80, bandwidth=3350,
         source=f"{H100_DATASHEET}; https://www.philisun.com/technical-analysis/"
         "nvidia-h800-vs-h100-a-technical-deep-dive-into-politically-defined-ai-chips/", model="h800", form="sxm"),
    _gpu("a100-80gb", "NVIDIA A100 SXM 80GB", 79.1, 312.0, "NVIDIA A100 datasheet, dense bf16",
         1.89, f"RunPod A100-80GB SXM, {SKYPILOT_2026}; Lambda lists 1.79: the higher quote is kept",
         mfu_class="ampere-datacenter", memory_gb=80, bandwidth=2039, source=A100_DATASHEET, model="a100",
         form="sxm"),
    _gpu("a100-40gb", "NVIDIA A100 40GB", 39.4, 312.0, "NVIDIA A100 datasheet, dense bf16",
         1.29, f"Lambda A100-40GB, {SKYPILOT_2026}", mfu_class="ampere-datacenter",
         memory_gb=40, bandwidth=1555, source=A100_DATASHEET, model="a100"),
    # The A800 is the A100 with NVLink cut to 400 GB/s: same GA100 at 1410 MHz, same tensor rate and memory.
    _gpu("a800-80gb", "NVIDIA A800 SXM 80GB (China market)", 79.1, 312.0,
         "A100 datasheet's dense bf16; A800 spec tables list 311.87 (third-party)", None, NO_PRICE,
         mfu_class="ampere-datacenter", memory_gb=80, bandwidth=2039,
         source=f"{A100_DATASHEET}; https://hmc-tech.com/gpu/nvidia-a800-vs-nvidia-t40", model="a800", form="sxm"),
    _gpu("a800-40gb", "NVIDIA A800 PCIe 40GB (China market)", 39.4, 312.0,
         "from the spec tables (108 SMs at 1410 MHz, as the A100 40GB); no NVIDIA datasheet found", None, NO_PRICE,
         mfu_class="ampere-datacenter", memory_gb=40, bandwidth=1555,
         source="https://siliconcat.net/gpu/nvidia-a800-pcie-40-gb (third-party)", model="a800", form="pcie"),
    _gpu("l4", "NVIDIA L4 24GB", 22.0, 121.0, "NVIDIA L4 datasheet, dense bf16 (242 with sparsity)",
         0.44, f"RunPod L4, {SKYPILOT_2026}", mfu_class="bandwidth-starved",
         memory_gb=24, bandwidth=300, source="https://www.nvidia.com/en-us/data-center/l4/", model="l4"),
    # China-market Ada card (AD102, 92 SMs) with the L40S's 48 GB and 864 GB/s; NVIDIA's page is China-only.
    # One public write-up lists 59.8 dense, but cuBLAS measures 116 TFLOPS fp16 on an L20 (LeetCUDA hgemm
    # README), which only fits 119.5 being the dense figure. Its bandwidth per FLOP (7.2 B/kFLOP) is above the
    # A100's, so it takes the A100's prior.
    _gpu("l20", "NVIDIA L20 48GB (GDDR6, China market)", 44.4, 119.5,
         "reported dense fp16/bf16 tensor (not vendor-confirmed; consistent with measured cuBLAS 116 TFLOPS)",
         None, NO_PRICE, mfu_class="ampere-datacenter", memory_gb=48, bandwidth=864,
         source="https://github.com/xdit-project/xDiT (docs/performance/hunyuandit.md: 119.5 TFLOPS fp16); "
         "https://github.com/DefTruth/LeetCUDA (hgemm README, measured on L20); nvidia-smi 46,068 MiB as the L40S",
         model="l20"),
    _gpu("l40s", "NVIDIA L40S 48GB (GDDR6)", 44.4, 362.05, "NVIDIA L40S datasheet, dense bf16 (733 with sparsity)",
         None, NO_PRICE, mfu_class="bandwidth-starved", memory_gb=48, bandwidth=864,
         source="https://www.nvidia.com/en-us/data-center/l40s/ (datasheet table reproduced at "
         "https://www.mullet.se/product.html?product_id=355414); CUDA reports 44.39-44.42 GiB", model="l40s"),
    _gpu("a10", "NVIDIA A10 24GB", 22.0, 125.0, "NVIDIA A10 datasheet, dense bf16",
         0.75, f"Lambda A10, {SKYPILOT_2026}", mfu_class="workstation", memory_gb=24, bandwidth=600,
         source="https://www.nvidia.com/en-us/data-center/products/a10-gpu/", model="a10"),
    # AWS's A10G is an A10 variant (same GA102 die, same 24 GB GDDR6, same 150 W limit) for which
    # neither NVIDIA nor AWS publishes a tensor figure: we take the A10's. Its price is AWS's, not
    # SkyPilot's: the A10G exists only inside g5 instances.
    _gpu("a10g", "NVIDIA A10G 24GB (AWS g5)", 22.0, 125.0,
         "no published figure; picked equal to the A10 (same die and power limit)",
         1.006, "picked: AWS on-demand g5.xlarge (1x A10G, us-east-1) list price, not in GUIDE-RULES; "
         "the instance price includes its 4 vCPUs", picked=True, mfu_class="workstation", memory_gb=24,
         bandwidth=600, source="https://aws.amazon.com/ec2/instance-types/g5/", model="a10g"),
    _gpu("rtx4090", "NVIDIA GeForce RTX 4090 24GB", 23.6, 165.0,
         "NVIDIA Ada whitepaper, bf16 with fp32 accumulate, dense (PyTorch accumulates in fp32)",
         0.69, f"RunPod RTX 4090, {SKYPILOT_2026}", mfu_class="workstation", memory_gb=24, bandwidth=1008,
         source=ADA_WHITEPAPER, model="4090"),
    # The China-market 4090: 114 of the 4090's 128 SMs at the same 2.52 GHz boost, so 114/128 of its rate:
    # 114 x 512 FLOP/clock (bf16, fp32 accumulate) x 2.52 GHz = 147.1, the figure spec tables list too.
    # Same 24 GB GDDR6X (nvidia-smi 24,564 MiB, as the 4090), so the 4090's CUDA figure.
    _gpu("rtx4090d", "NVIDIA GeForce RTX 4090 D 24GB (China market)", 23.6, 147.1,
         "derived from the SM count and boost clock; bf16 with fp32 accumulate, dense (not vendor-published)",
         None, NO_PRICE, mfu_class="workstation", memory_gb=24, bandwidth=1008,
         source="https://hmc-tech.com/gpu/nvidia-geforce-rtx-4090-d (third-party: 114 SMs, 2520 MHz, "
         f"147.09 TFLOPS); {ADA_WHITEPAPER}", model="4090d"),
    _gpu("a6000", "NVIDIA RTX A6000 48GB", 47.5, 154.8, "NVIDIA RTX A6000 datasheet, dense bf16 (309.7 with sparsity)",
         0.80, "picked: Lambda 1x A6000 on-demand list price; the A6000 is not in GUIDE-RULES' figures",
         picked=True, mfu_class="workstation", memory_gb=48, bandwidth=768,
         source="https://www.nvidia.com/en-us/design-visualization/rtx-a6000/", model="a6000"),
    # Volta has no bf16: supports_bf16=False makes precision "auto" resolve to fp16 and refuses an explicit
    # bf16 (launch/layout.py). Peak is the SXM2 fp16 tensor figure (PCIe: 112). Its bandwidth per FLOP
    # (7.2) would give the A100's prior, but FlashAttention-2 does not run on Volta (sm70): one class lower.
    _gpu("v100-16gb", "NVIDIA Tesla V100 SXM2 16GB (HBM2)", 15.7, 125.0,
         "NVIDIA V100 datasheet, SXM2, fp16 tensor (Volta has no bf16)", None, NO_PRICE,
         mfu_class="workstation", memory_gb=16, bandwidth=900, bf16=False,
         source=f"{V100_DATASHEET}; CUDA reports 15.77 GiB", model="v100", form="sxm"),
    _gpu("v100-32gb", "NVIDIA Tesla V100 SXM2 32GB (HBM2)", 31.7, 125.0,
         "NVIDIA V100 datasheet, SXM2, fp16 tensor (Volta has no bf16)", None, NO_PRICE,
         mfu_class="workstation", memory_gb=32, bandwidth=900, bf16=False,
         source=f"{V100_DATASHEET}; CUDA reports 31.75 GiB", model="v100", form="sxm"),
    # The host CPU: lets builtin:tiny smoke runs be planned. No fit check (memory is the host's RAM)
    # and the time is an order of magnitude at best: 1 TFLOP/s is a generous many-core AVX-512 figure.
    Accelerator("cpu", "host CPU (no accelerator)", None, 1.0, "nominal; order-of-magnitude only",
                None, "no GPU rented", False, supports_bf16=True, supports_4bit=False, mfu_class="cpu", model="cpu"),
)}

# Spellings people write in specs, lower-cased, after vendor words (nvidia, geforce, tesla) are dropped.
# "a100" alone means the 80 GB part: it is what the cloud catalogues (SkyPilot's "A100-80GB" and RunPod's
# "A100 SXM") rent most, and the 40 GB one is spelled out when meant. "h100" alone is the SXM part, for the
# same reason. "v100" alone is the 16 GB part: SkyPilot's "V100" is, and the smaller card is the one a fit
# check must not overstate. "a800" alone is the 80 GB SXM part the Chinese clouds rent.
ALIASES: dict[str, str] = {
    "h100-sxm": "h100", "h100-sxm5": "h100", "h100-80gb": "h100", "h100_sxm": "h100",
    "h100pcie": "h100-pcie", "h100_pcie": "h100-pcie",
    "h200-sxm": "h200", "h200-141gb": "h200",
    "h20-96gb": "h20",
    "h800-sxm": "h800", "h800-sxm5": "h800", "h800-80gb": "h800",
    "a100": "a100-80gb", "a100-80g": "a100-80gb", "a100-sxm": "a100-80gb", "a100-sxm4": "a100-80gb",
    "a100_80gb": "a100-80gb", "a100-40g": "a100-40gb", "a100_40gb": "a100-40gb",
    "a800": "a800-80gb", "a800-80g": "a800-80gb", "a800-sxm": "a800-80gb", "a800-sxm4": "a800-80gb",
    "a800-sxm4-80gb": "a800-80gb", "a800_80gb": "a800-80gb", "a800-40g": "a800-40gb",
    "a800-pcie": "a800-40gb", "a800-pcie-40gb": "a800-40gb", "a800_40gb": "a800-40gb",
    "l20-48gb": "l20", "l40s-48gb": "l40s",
    "rtx-4090": "rtx4090", "4090": "rtx4090", "rtx-4090-24gb": "rtx4090",
    "4090d": "rtx4090d", "4090-d": "rtx4090d", "rtx-4090d": "rtx4090d", "rtx-4090-d": "rtx4090d",
    "rtx4090-d": "rtx4090d",
    "rtxa6000": "a6000", "rtx-a6000": "a6000", "a6000-48gb": "a6000",
    "a10-24gb": "a10",
    "v100": "v100-16gb", "v100-sxm2": "v100-16gb", "v100-16g": "v100-16gb", "v100-sxm2-16gb": "v100-16gb",
    "v100-32g": "v100-32gb", "v100-sxm2-32gb": "v100-32gb",
    "none": "cpu", "host": "cpu",
}

# One-way GPU-to-GPU bandwidth inside a node, GB/s: half the datasheet's bidirectional NVLink figure on SXM parts
# (NVLink 4: H100/H200/H20 900 -> 450; H800 400 -> 200; NVLink 3: A100 600 -> 300, A800 400 -> 200; NVLink 2: V100
# 300 -> 150), else the PCIe slot (Gen4 x16: 32, Gen5 x16: 64). What ZeRO-3's and FSDP's gathers are timed with.
INTERCONNECT_GB_S: dict[str, float] = {
    "h100": 450, "h200": 450, "h20": 450, "h800": 200, "a100-80gb": 300, "a100-40gb": 300, "a800-80gb": 200,
    "a800-40gb": 32, "v100-16gb": 150, "v100-32gb": 150, "h100-pcie": 64,
    "a10": 32, "a10g": 32, "a6000": 32, "l20": 32, "l4": 32, "l40s": 32, "rtx4090": 32, "rtx4090d": 32,
}
INTERCONNECT_SOURCE = ("NVIDIA datasheets (NVLink bidirectional GB/s, halved) and PCI-SIG (PCIe 4.0 / 5.0 x16: 32 / "
                       "64 GB/s each way)")


def interconnect_gb_s(accel: Accelerator) -> float | None:
    """One-way GPU-to-GPU bandwidth inside a node; None for the CPU."""
    return INTERCONNECT_GB_S.get(accel.name)


_VENDOR = re.compile(r"^(?:nvidia|geforce|tesla)-?")


class UnknownAccelerator(ValueError):
    """A spec names an accelerator this catalogue does not know."""

    def __init__(self, name: str):
        known = sorted(ACCELERATORS)
        close = _suggestion(name, ACCELERATORS.values(), ALIASES)
        hint = f" Did you mean {close!r}?" if close else ""
        super().__init__(f"unknown accelerator {name!r}.{hint} Known: {', '.join(known)}.")
        self.name = name
        self.known = known
        self.suggestion = close


def _normalise(name: str) -> str:
    key = re.sub(r"[\s_]+", "-", name.strip().lower())
    while (m := _VENDOR.match(key)) and m.end() < len(key):
        key = key[m.end():]
    return key


def get_accelerator(name: str) -> Accelerator:
    """The catalogue entry for ``name`` (case-insensitive, aliases allowed); UnknownAccelerator otherwise."""
    key = _normalise(name)
    key = ALIASES.get(key, key)
    try:
        return ACCELERATORS[key]
    except KeyError:
        raise UnknownAccelerator(name) from None


# A typed name split into model number, memory and form factor: "NVIDIA A100-SXM4-80GB" -> ("a100", 80, "sxm").
# The model is up to two letters, the digits and one trailing letter ("h100", "l40s", "4090d", "a10g"); "rtx"
# is dropped so "rtx4090" and "4090" are one model. Memory-type words (hbm3, gddr6x) carry no identity.
_MODEL = re.compile(r"(?:rtx-?)?(?P<model>[a-z]{0,2}\d{1,4}(?:[a-z](?![a-z]))?)")
_REST = re.compile(r"-|(?P<form>sxm\d?|pcie|pci-e|nvl)|(?P<mem>\d{1,3})-?(?:gb|gib|g)?(?![a-z\d])|hbm\d?e?|gddr\d+x?")


def _signature(name: str) -> tuple[str, int | None, str | None] | None:
    key = _normalise(name)
    key = re.sub(r"^([a-z]{1,2})-(\d)", r"\1\2", key)  # "a-100", "rtx-4090"
    m = _MODEL.match(key)
    if not m:
        return None
    model, mem, form, pos = m["model"], None, None, m.end()
    while pos < len(key):
        part = _REST.match(key, pos)
        if not part or part.end() == pos:
            return None
        if part["form"]:
            form = "sxm" if part["form"].startswith("sxm") else part["form"].replace("-", "")
        if part["mem"]:
            mem = int(part["mem"])
        pos = part.end()
    return model, mem, form


def _suggestion(name: str, cards, aliases: dict[str, str]) -> str | None:
    """The one card ``name`` is a spelling of, or None. Never a different card: the model number (letters,
    digits and suffix letter) must be equal, so h20 is never h200, a800 never a100, 4090d never 4090. A memory
    size or form factor the name gives must be the card's. What it leaves out is read as the catalogue's own
    convention and nothing else: no memory size means the card the bare model name is an alias of ("a100" ->
    a100-80gb, "v100" -> v100-16gb), no form factor means SXM (or a card sold in one form), as "h100" does. So
    a100-80 -> a100-80gb, but a100-pcie, h100-nvl or v100-pcie get no suggestion, and nothing else is guessed.
    Names without a model number (cpu) fall back to difflib among themselves."""
    by_name = {c.name: c for c in cards}
    sig = _signature(name)
    if sig is None or not any(ch.isdigit() for ch in sig[0]):
        plain = [n for n in by_name if not any(ch.isdigit() for ch in n)]
        plain += [a for a, target in aliases.items() if target in plain]
        close = difflib.get_close_matches(_normalise(name), plain, n=1, cutoff=0.8)  # "tpu" and "gpu" are not "cpu"
        return aliases.get(close[0], close[0]) if close else None
    model, mem, form = sig
    if mem is None:
        default = by_name.get(aliases.get(model, model))
        same = [default] if default is not None and default.model == model else []
    else:
        same = [c for c in by_name.values() if c.model == model and c.memory_gb == mem]
    fits = [c for c in same if c.form in (None, form or "sxm")]
    return fits[0].name if len(fits) == 1 else None
