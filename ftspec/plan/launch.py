"""Launch layout: how many processes on which machines, and the files that start them.

``resolve_layout`` turns ``spec.compute`` (plus the adapter type and precision) into a concrete
:class:`Layout`, or a :class:`LayoutError` located at the spec field to fix. ``render_launch`` writes
that layout out as an accelerate config file, the ``accelerate launch`` line, a Slurm sbatch script and
a SkyPilot task. The key names in the accelerate config are those of accelerate 1.x's ``ClusterConfig``
and ``accelerate launch`` (checked against accelerate 1.15 in tests/test_launch.py).

No torch or accelerate here: ``ftspec plan`` must start cold in under two seconds.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from dataclasses import dataclass

from ftspec.plan.hardware import UnknownAccelerator, get_accelerator
from ftspec.core.templating import render

TRAIN_MODULE = "ftspec.train"
CONFIG_FILENAME = "accelerate_config.yaml"
# Stands in for the head node's address in the launch line of a multi-node job whose spec names none;
# the sbatch script and the SkyPilot task fill it in themselves.
MAIN_IP_PLACEHOLDER = "$MAIN_PROCESS_IP"

# SkyPilot's accelerator names for the catalogue's (``sky show-gpus``). The PCIe H100 has no name
# of its own there; "H100" may give either form factor.
SKYPILOT_NAMES = {
    "h100": "H100", "h100-pcie": "H100", "h200": "H200", "a100-80gb": "A100-80GB", "a100-40gb": "A100",
    "l4": "L4", "a10": "A10", "a10g": "A10G", "rtx4090": "RTX4090", "a6000": "RTXA6000",
}


class LayoutError(ValueError):
    """The compute section asks for a layout that cannot run; ``field`` is the spec path to fix."""

    def __init__(self, message: str, field: tuple[str, ...]):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{'.'.join(self.field)}: {self.message}"


@dataclass(frozen=True)
class Layout:
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
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LaunchFiles:
    accelerate_config: str  # YAML, to be written to <run_dir>/accelerate_config.yaml
    launch_argv: list[str]  # machine rank 0
    launch_line: str  # the argv as one shell line
    sbatch: str
    skypilot: str
    # Set for the launcher (and so its workers); the sbatch script and SkyPilot task set them themselves.
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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

    return Layout(
        accelerator=accel.name, nodes=compute.nodes, gpus_per_node=gpus, processes_per_node=per_node,
        num_processes=world, distributed=distributed,
        mixed_precision=_mixed_precision(spec.training.precision, accel), main_process_ip=compute.main_process_ip,
        main_process_port=compute.main_process_port, backend="gloo" if on_cpu else "nccl",
    )


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


def render_launch(layout: Layout, *, run_dir: str, job_name: str, workdir: str = ".") -> LaunchFiles:
    """The accelerate config, launch line, sbatch script and SkyPilot task for ``layout``.

    ``run_dir`` and ``workdir`` are paths as the job will see them (relative to ``workdir``, or absolute).
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", job_name):
        # It goes into #SBATCH and YAML lines unquoted; spec names already match this.
        raise ValueError(f"job name {job_name!r} must be letters, digits, '.', '_' or '-'")
    config_path = posixpath.join(run_dir, CONFIG_FILENAME)
    head = ["accelerate", "launch", "--config_file", config_path]
    tail = ["-m", TRAIN_MODULE, run_dir]
    multi_node = layout.nodes > 1

    argv = list(head)
    if multi_node:
        argv += ["--machine_rank", "0", "--main_process_ip", layout.main_process_ip or MAIN_IP_PLACEHOLDER]
    argv += tail
    # shlex.join, but the placeholder double-quoted so that the shell fills it in.
    launch_line = " ".join(f'"{a}"' if a == MAIN_IP_PLACEHOLDER else shlex.quote(a) for a in argv)

    def per_node(rank_var: str, ip_var: str) -> str:
        # Each node's launcher gets its own rank; the head's address comes from the scheduler.
        return f'{shlex.join(head)} --machine_rank "${rank_var}" --main_process_ip "${ip_var}" {shlex.join(tail)}'

    template = {"none": "none", "ddp": "ddp", "fsdp": "fsdp", "zero2": "deepspeed", "zero3": "deepspeed"}
    config = render(f"launch/accelerate_{template[layout.distributed]}.yaml.j2", layout=layout,
                    zero_stage=3 if layout.distributed == "zero3" else 2)
    # torchrun's workers do not learn from accelerate that they are meant for the CPU (see accelerate_ddp.yaml.j2).
    env = {"ACCELERATE_USE_CPU": "true"} if layout.on_cpu else {}
    ctx = dict(layout=layout, job_name=job_name, run_dir=run_dir, workdir=workdir, multi_node=multi_node,
               q=shlex.quote, launch_line=launch_line, env=env)
    sbatch = render("launch/sbatch.sh.j2", **ctx, srun_command=per_node("SLURM_NODEID", "MAIN_PROCESS_IP"))
    skypilot = render("launch/skypilot.yaml.j2", **ctx,
                      sky_accelerator=None if layout.on_cpu else SKYPILOT_NAMES.get(layout.accelerator,
                                                                                     layout.accelerator.upper()),
                      node_command=per_node("SKYPILOT_NODE_RANK", "SKYPILOT_HEAD_IP"))
    return LaunchFiles(accelerate_config=config, launch_argv=argv, launch_line=launch_line, sbatch=sbatch,
                       skypilot=skypilot, env=env)
