"""Engines' own validators, run in a process of their own (DeepSpeed initialises a process group):

    python -m support.engines deepspeed CONFIG.yaml WORLD MICRO_BATCH ACCUMULATION PRECISION
    python -m support.engines fsdp CONFIG.yaml

Each reads the accelerate config ftspec rendered exactly as ``accelerate launch`` does (``_validate_launch_command``,
then the launcher's environment), builds accelerate's own plugin from that environment, and, for DeepSpeed, fills
the "auto" values as transformers' Trainer does and parses the result with DeepSpeed's ``DeepSpeedConfig`` (pydantic
models that refuse unknown ZeRO keys and check train_batch_size = micro-batch x accumulation x world). Prints JSON."""

from __future__ import annotations

import json
import sys


def _launch_args(config_file: str):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", config_file, "-m", "ftspec.train", "RUN_DIR"])
    args, defaults, mp_from_config = _validate_launch_command(args)
    return args, defaults, mp_from_config


def deepspeed(config_file: str, world: int, micro: int, accumulation: int, precision: str) -> dict:
    import os
    import tempfile

    from accelerate.utils import DeepSpeedPlugin, patch_environment
    from accelerate.utils.launch import prepare_deepspeed_cmd_env
    from transformers import TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    args, defaults, mp_from_config = _launch_args(config_file)
    assert args.use_deepspeed, "not a DeepSpeed config"
    # As accelerate's launch_command does before it starts DeepSpeed's launcher.
    fields = list(defaults.deepspeed_config.keys()) if defaults else []
    args.deepspeed_fields_from_accelerate_config = ",".join(fields + (["mixed_precision"] if mp_from_config else []))
    # accelerate refuses a one-node launch whose port something on this machine already listens on (another test's
    # two-process run on the default 29500): the port is the cluster's business, not what is validated here.
    from support import free_port

    if getattr(args, "num_machines", 1) in (None, 1):
        args.main_process_port = free_port()
    _, env = prepare_deepspeed_cmd_env(args)
    with patch_environment(**{k: v for k, v in env.items() if k not in os.environ or k.startswith("ACCELERATE")}):
        plugin = DeepSpeedPlugin()
    plugin.set_mixed_precision(precision)  # what Accelerator() does with the launch's mixed precision
    real = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=micro,
                             gradient_accumulation_steps=accumulation, use_cpu=True, report_to=[])

    class Args:  # the trainer's arguments as they are on the cluster: its world size and precision
        world_size = world
        bf16 = precision == "bf16"
        fp16 = precision == "fp16"

        def __getattr__(self, name):
            return getattr(real, name)

    hf = HfTrainerDeepSpeedConfig(plugin.deepspeed_config)
    hf.trainer_config_process(Args())
    hf.trainer_config_finalize(Args(), None, 100)
    import deepspeed.comm as dist
    from deepspeed.runtime.config import DeepSpeedConfig

    if not dist.is_initialized():
        with patch_environment(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", WORLD_SIZE="1",
                               LOCAL_RANK="0"):
            dist.init_distributed(dist_backend="gloo", auto_mpi_discovery=False, verbose=False)

    class DataParallel:  # the cluster's data-parallel size, for DeepSpeed's batch check
        def get_data_parallel_world_size(self):
            return world

    parsed = DeepSpeedConfig(hf.config, mpu=DataParallel())
    return {"config": hf.config, "train_batch_size": parsed.train_batch_size,
            "zero_stage": parsed.zero_optimization_stage, "bf16": bool(parsed.bfloat16_config.enabled)}


def fsdp(config_file: str) -> dict:
    from accelerate.utils import FullyShardedDataParallelPlugin, patch_environment
    from accelerate.utils.launch import prepare_multi_gpu_env

    args, _, _ = _launch_args(config_file)
    assert args.use_fsdp, "not an FSDP config"
    env = prepare_multi_gpu_env(args)
    with patch_environment(**{k: v for k, v in env.items() if k.startswith(("FSDP", "ACCELERATE"))}):
        plugin = FullyShardedDataParallelPlugin()
    return {"fsdp_version": plugin.fsdp_version, "auto_wrap_policy": getattr(plugin.auto_wrap_policy, "__name__", None),
            "state_dict_type": str(plugin.state_dict_type), "reshard_after_forward": plugin.reshard_after_forward,
            "cpu_ram_efficient_loading": plugin.cpu_ram_efficient_loading}


if __name__ == "__main__":
    kind, config_file, *rest = sys.argv[1:]
    out = deepspeed(config_file, *map(int, rest[:3]), rest[3]) if kind == "deepspeed" else fsdp(config_file)
    print("ENGINE-JSON " + json.dumps(out))
