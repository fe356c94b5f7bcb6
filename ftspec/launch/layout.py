"""Launch layout: how many processes on which machines, in what precision and with which distribution.

``resolve_layout`` turns ``spec.compute`` (plus the adapter type and precision) into a concrete
:class:`Layout`, or a :class:`LayoutError` located at the spec field to fix. The launch backends (``local``,
``slurm``, ``skypilot``) write a layout out as the files that start it.

No torch or accelerate here: ``ftspec plan`` must start cold in under two seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ftspec.launch.accelerators import UnknownAccelerator, get_accelerator


class LayoutError(ValueError):
    """The compute section asks for a layout that cannot run; ``field`` is the spec path to fix."""

    def __init__(self, message: str, field: tuple[str, ...]):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{'.'.join(self.field)}: {self.message}"


class Layout(BaseModel):
    """The plan's ``layout`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accelerator: str  # "cpu" or a catalogue name
    nodes: int
    gpus_per_node: int  # 0 on cpu
    processes_per_node: int
    num_processes: int  # world size: nodes * processes_per_node
    distributed: str  # none | ddp | fsdp | zero2 | zero3
    mixed_precision: str  # accelerate's value: no | bf16 | fp16
    main_process_ip: str | None  # None: filled in by the scheduler (see MAIN_IP_PLACEHOLDER)
    main_process_port: int
    backend: str  # gloo on cpu, nccl on gpus

    @property
    def on_cpu(self) -> bool:
        return self.accelerator == "cpu"

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def resolve_layout(spec) -> Layout:
    """The concrete layout ``spec`` asks for; LayoutError (located by field) when it cannot run."""
    compute = spec.compute
    try:
        accel = get_accelerator(compute.accelerator)
    except UnknownAccelerator as exc:
        raise LayoutError(str(exc), ("compute", "accelerator")) from None
    on_cpu = accel.name == "cpu"

    # On CPU gpus_per_node means nothing (it defaults to 1 in the spec) and is not checked.
    gpus = 0 if on_cpu else compute.gpus_per_node
    per_node = compute.processes_per_node or (1 if on_cpu else gpus)
    if not on_cpu and per_node > gpus:
        raise LayoutError(f"more processes than GPUs: {per_node} processes per node on {gpus} GPU(s) per node; "
                          "each process drives one GPU", ("compute", "processes_per_node"))
    world = compute.nodes * per_node

    distributed = compute.distributed
    if distributed == "auto":
        distributed = "ddp" if world > 1 else "none"
    if distributed == "none" and world > 1:
        raise LayoutError(f"distributed 'none' runs one process, but the layout has {world} "
                          f"({compute.nodes} node(s) x {per_node}); use ddp, fsdp, zero2 or zero3",
                          ("compute", "distributed"))
    if on_cpu and distributed not in ("none", "ddp"):
        raise LayoutError(f"{distributed} needs GPUs; on cpu only 'none' or 'ddp' (gloo) can run",
                          ("compute", "distributed"))

    if spec.adapter.type == "qlora":
        if not accel.supports_4bit:
            raise LayoutError(f"qlora loads the base model in 4-bit with bitsandbytes, which needs a CUDA GPU; "
                              f"{accel.name} has no 4-bit kernels: use lora, or a GPU accelerator",
                              ("adapter", "type"))
        if distributed == "zero3":
            raise LayoutError("ZeRO-3 cannot shard 4-bit bitsandbytes weights (qlora); use zero2, fsdp or ddp",
                              ("compute", "distributed"))

    mixed_precision = _mixed_precision(spec.training.precision, accel)
    _check_kernels(spec.training, accel, mixed_precision)
    return Layout(
        accelerator=accel.name, nodes=compute.nodes, gpus_per_node=gpus, processes_per_node=per_node,
        num_processes=world, distributed=distributed,
        mixed_precision=mixed_precision, main_process_ip=compute.main_process_ip,
        main_process_port=compute.main_process_port, backend="gloo" if on_cpu else "nccl",
    )


# Kernels that exist only as CUDA code (training.loss_kernel / attention / optimizer values).
CUDA_ONLY_KERNELS = ("liger", "flash_attention_2", "adamw_8bit", "paged_adamw_8bit")


def _check_kernels(training, accel, mixed_precision: str) -> None:
    """The hardware a chosen kernel needs (lint's FT017 checks the packages and the method)."""
    for field in ("loss_kernel", "attention", "optimizer"):
        value = getattr(training, field)
        if value in CUDA_ONLY_KERNELS and accel.name == "cpu":
            raise LayoutError(f"{field} {value} runs CUDA kernels only; compute.accelerator is cpu",
                              ("training", field))
    if training.attention == "flash_attention_2":
        if not accel.supports_bf16:  # FlashAttention-2 needs Ampere or newer, the first cards with bf16
            raise LayoutError(f"flash_attention_2 needs an Ampere or newer GPU; {accel.name} is older: use sdpa",
                              ("training", "attention"))
        if mixed_precision == "no":
            raise LayoutError("flash_attention_2 computes in bf16 or fp16 only; training.precision is fp32: use bf16, "
                              "or attention sdpa", ("training", "attention"))


def _mixed_precision(precision: str, accel) -> str:
    on_cpu = accel.name == "cpu"
    if precision == "fp32" or (precision == "auto" and on_cpu):
        return "no"
    if precision == "auto":
        return "bf16" if accel.supports_bf16 else "fp16"
    if precision == "fp16" and on_cpu:
        raise LayoutError("fp16 mixed precision needs a GPU (its loss scaler is CUDA-only); use bf16 or fp32 on cpu",
                          ("training", "precision"))
    if precision == "bf16" and not accel.supports_bf16:
        raise LayoutError(f"{accel.name} does not support bf16; use fp16 or fp32", ("training", "precision"))
    return precision
