"""Launch layouts: every layout renders files that accelerate, bash and YAML accept, and bad layouts are
refused at the spec field to fix. The accelerate checks go through accelerate's own config class and
argument parser, so a key accelerate does not know fails here rather than on a rented cluster."""

from __future__ import annotations

import os
from pathlib import Path
import shlex
import stat
import subprocess
import sys

import pytest
import yaml

from ftspec.launch.files import render_launch
from ftspec.launch.layout import LayoutError, resolve_layout
from ftspec.launch.local import MAIN_IP_PLACEHOLDER
from support.project import spec_model


def make_spec(compute=None, **sections):
    return spec_model(compute=compute or {}, **sections)


H100x8 = {"accelerator": "h100", "gpus_per_node": 8}

# name: (compute section, distributed, world size, nodes, accelerate distributed_type)
LAYOUTS = {
    "cpu": ({}, "none", 1, 1, "NO"),
    "cpu-ddp": ({"processes_per_node": 2}, "ddp", 2, 1, "MULTI_GPU"),
    "gpu-1": ({"accelerator": "l4"}, "none", 1, 1, "NO"),
    "ddp-8": (H100x8, "ddp", 8, 1, "MULTI_GPU"),
    "fsdp": ({**H100x8, "distributed": "fsdp"}, "fsdp", 8, 1, "FSDP"),
    "zero2": ({**H100x8, "distributed": "zero2"}, "zero2", 8, 1, "DEEPSPEED"),
    "zero3": ({**H100x8, "distributed": "zero3"}, "zero3", 8, 1, "DEEPSPEED"),
    "ddp-2node": ({**H100x8, "nodes": 2, "main_process_ip": "10.0.0.1"}, "ddp", 16, 2, "MULTI_GPU"),
    "zero3-2node": ({**H100x8, "nodes": 2, "distributed": "zero3"}, "zero3", 16, 2, "DEEPSPEED"),
}


@pytest.fixture(params=sorted(LAYOUTS))
def rendered(request, tmp_path):
    compute, distributed, world, nodes, dtype = LAYOUTS[request.param]
    layout = resolve_layout(make_spec(compute))
    run_dir = str(tmp_path / "runs" / "demo" / "r1")
    files = render_launch(layout, run_dir=run_dir, job_name="demo-r1", workdir=str(tmp_path))
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "accelerate_config.yaml"), "w") as f:
        f.write(files.accelerate_config)
    return layout, files, run_dir, (distributed, world, nodes, dtype)


def test_layout_resolves(rendered):
    layout, _, _, (distributed, world, nodes, _) = rendered
    assert (layout.distributed, layout.num_processes, layout.nodes) == (distributed, world, nodes)
    assert layout.num_processes == layout.nodes * layout.processes_per_node
    assert layout.backend == ("gloo" if layout.accelerator == "cpu" else "nccl")
    assert layout.to_dict()["num_processes"] == world


def test_accelerate_config_loads(rendered):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file

    layout, _, run_dir, (_, world, nodes, dtype) = rendered
    config = load_config_from_file(os.path.join(run_dir, "accelerate_config.yaml"))
    assert isinstance(config, ClusterConfig)  # unknown top-level keys would have raised
    assert config.distributed_type.value == dtype
    assert (config.num_processes, config.num_machines, config.machine_rank) == (world, nodes, 0)
    assert config.use_cpu == (layout.accelerator == "cpu")
    assert config.mixed_precision == layout.mixed_precision
    assert config.main_process_port == layout.main_process_port


def _parse(argv):
    from accelerate.commands.launch import launch_command_parser

    assert argv[:2] == ["accelerate", "launch"]
    return launch_command_parser().parse_args(argv[2:])


def test_launch_argv_through_accelerate(rendered):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    layout, files, run_dir, (distributed, world, nodes, _) = rendered
    assert shlex.split(files.launch_line) == files.launch_argv
    args, defaults, _ = _validate_launch_command(_parse(files.launch_argv))
    assert (args.num_processes, args.num_machines, args.machine_rank) == (world, nodes, 0)
    assert args.module and args.training_script == "ftspec.train" and args.training_script_args == [run_dir]
    assert args.use_deepspeed == distributed.startswith("zero")
    assert args.use_fsdp == (distributed == "fsdp")
    assert args.multi_gpu == (distributed == "ddp")
    if nodes > 1:
        assert args.main_process_ip == (layout.main_process_ip or MAIN_IP_PLACEHOLDER)
    # accelerate copies the nested sections onto its arguments without checking the names: check them here.
    known = vars(launch_command_parser().parse_args(["x.py"]))
    for key in [*defaults.deepspeed_config, *defaults.fsdp_config]:
        assert key in known, f"accelerate launch has no --{key}"
    if distributed.startswith("zero"):
        assert args.zero_stage == int(distributed[-1])
        assert args.offload_optimizer_device == args.offload_param_device == "none"
        assert args.zero3_init_flag == (distributed == "zero3")
        assert args.deepspeed_multinode_launcher == ("standard" if nodes > 1 else None)
    if distributed == "fsdp":
        assert args.fsdp_version == 2 and args.fsdp_auto_wrap_policy == "TRANSFORMER_BASED_WRAP"
        assert args.fsdp_state_dict_type == "SHARDED_STATE_DICT"


def test_launchers_take_the_layout(rendered, monkeypatch):
    """What accelerate hands to torchrun and to the plugins the trainer builds, on the head node."""
    import accelerate.utils.launch as accel_launch
    from accelerate.commands.launch import _validate_launch_command
    from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin

    layout, files, _, (distributed, *_) = rendered
    if distributed == "none":
        return  # accelerate runs the module directly: nothing to hand over
    monkeypatch.setattr(accel_launch, "is_port_in_use", lambda port: False)
    args, defaults, _ = _validate_launch_command(_parse(files.launch_argv))
    if distributed.startswith("zero"):
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)  # as launch_command does
        _, env = accel_launch.prepare_deepspeed_cmd_env(args)
    else:
        env = accel_launch.prepare_multi_gpu_env(args)
    assert int(args.nproc_per_node) == layout.processes_per_node
    if layout.nodes > 1:
        assert (int(args.nnodes), args.node_rank) == (layout.nodes, 0)
    assert env["ACCELERATE_MIXED_PRECISION"] == layout.mixed_precision
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if distributed == "fsdp":
        plugin = FullyShardedDataParallelPlugin()
        assert (plugin.fsdp_version, plugin.reshard_after_forward, plugin.cpu_ram_efficient_loading) == (2, True, True)
        assert plugin.state_dict_type.name == "SHARDED_STATE_DICT" and not plugin.activation_checkpointing
    if distributed.startswith("zero"):
        zero = DeepSpeedPlugin().deepspeed_config["zero_optimization"]
        assert zero["stage"] == int(distributed[-1])
        assert zero.get("stage3_gather_16bit_weights_on_model_save", False) == (distributed == "zero3")


def _stub(folder, name, body):
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def stub_path(tmp_path):
    """A PATH where accelerate records its argv (one NUL-separated line per call) and srun runs its
    command once per node with SLURM_NODEID set, as Slurm would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    _stub(bin_dir, "accelerate", f'printf "%s\\0" accelerate "$@" >> {shlex.quote(str(log))}; echo >> {log}\n')
    _stub(bin_dir, "scontrol", 'test "$1 $2" = "show hostnames" && printf "gpu-001\\ngpu-002\\n"\n')
    _stub(bin_dir, "srun", 'nodes=1; while [ "$1" != bash ]; do case "$1" in --nodes=*) nodes=${1#--nodes=};; esac;'
                           ' shift; done\nfor ((i=0; i<nodes; i++)); do SLURM_NODEID=$i "$@" || exit 1; done\n')

    def calls():
        lines = log.read_text().splitlines() if log.exists() else []
        return [line.rstrip("\0").split("\0") for line in lines if line]

    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return env, calls


def test_sbatch_is_a_whole_apply_that_runs_one_launcher_per_node(rendered, stub_path):
    """The job script is `ftspec apply RUN_DIR` with this Python; inside the job, apply starts training with one srun
    task per node, each accelerate launcher with its node's machine rank, the allocation's first host as the head."""
    import sys

    from ftspec.launch import slurm

    layout, files, run_dir, (_, world, nodes, _) = rendered
    script = files.sbatch
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert f"#SBATCH --nodes={nodes}" in script and "#SBATCH --requeue" in script
    assert ("#SBATCH --gpus-per-node=8" in script) == (layout.gpus_per_node == 8)
    assert script.rstrip().endswith(f"exec {shlex.join([sys.executable, '-m', 'ftspec.cli', 'apply', run_dir])}")
    env, calls = stub_path
    argv = slurm.training_argv(layout, run_dir)
    assert argv[:5] == ["srun", f"--nodes={layout.nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "bash"]
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    argv[-1] = argv[-1].replace(shlex.quote(accelerate), "accelerate")  # the stub on PATH records the call
    subprocess.run(argv, text=True, check=True, env={**env, "SLURM_JOB_NODELIST": "gpu-[001-002]"})
    launched = calls()
    assert len(launched) == nodes
    for rank, argv in enumerate(launched):
        args = _parse(argv)
        assert args.config_file == os.path.join(run_dir, "accelerate_config.yaml")
        assert (args.machine_rank, args.main_process_ip) == (rank, "gpu-001")


def test_skypilot_task(rendered, stub_path):
    layout, files, run_dir, (_, world, nodes, _) = rendered
    task = yaml.safe_load(files.skypilot)
    assert task["num_nodes"] == nodes and task["name"] == "demo-r1"
    if layout.accelerator == "cpu":
        assert "resources" not in task and task["envs"] == {"ACCELERATE_USE_CPU": "true"}
    else:
        assert task["resources"]["accelerators"] == f"{'L4' if layout.accelerator == 'l4' else 'H100'}:" \
                                                     f"{layout.gpus_per_node}"
    assert ("deepspeed" in task["setup"]) == layout.distributed.startswith("zero")
    env, calls = stub_path
    sky = {"SKYPILOT_NODE_RANK": "1", "SKYPILOT_NODE_IPS": "10.1.2.3\n10.1.2.4", "SKYPILOT_NUM_NODES": str(nodes)}
    subprocess.run(["bash", "-c", task["run"]], check=True, env={**env, **sky})
    (argv,) = calls()
    args = _parse(argv)
    if nodes > 1:
        assert (args.machine_rank, args.main_process_ip) == (1, "10.1.2.3")
        wrong = subprocess.run(["bash", "-c", task["run"]], env={**env, **sky, "SKYPILOT_NUM_NODES": "1"})
        assert wrong.returncode != 0


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_apply_runs_the_plans_own_launch(name, tmp_path):
    """The run folder's launch (what apply runs, and what its plan.json holds) is the plan's, its RUN_DIR filled in."""
    from ftspec.launch.files import LaunchFiles

    layout = resolve_layout(make_spec(LAYOUTS[name][0]))
    planned = render_launch(layout, run_dir="RUN_DIR", job_name="demo")
    run_dir = str(tmp_path / "runs" / "demo" / "0123456789ab")
    bound = render_launch(layout, run_dir=run_dir, job_name="demo")
    filled = LaunchFiles.model_validate_json(planned.model_dump_json().replace("RUN_DIR", run_dir))
    assert bound == filled


def test_multi_node_without_ip_uses_placeholder():
    files = render_launch(resolve_layout(make_spec({**H100x8, "nodes": 2})), run_dir="runs/x", job_name="x")
    assert files.launch_line.endswith(f'--main_process_ip "{MAIN_IP_PLACEHOLDER}" -m ftspec.train runs/x')
    assert "main_process_ip" not in yaml.safe_load(files.accelerate_config)


@pytest.mark.parametrize("precision, accelerator, expected", [
    ("auto", "cpu", "no"), ("auto", "h100", "bf16"), ("fp32", "h100", "no"), ("fp16", "a10g", "fp16"),
    ("bf16", "cpu", "bf16"),
])
def test_mixed_precision(precision, accelerator, expected):
    spec = make_spec({"accelerator": accelerator}, training={"precision": precision})
    assert resolve_layout(spec).mixed_precision == expected


def test_defaults_ignore_gpus_per_node_on_cpu():
    layout = resolve_layout(make_spec({"gpus_per_node": 4}))
    assert (layout.gpus_per_node, layout.processes_per_node, layout.distributed) == (0, 1, "none")


def test_explicit_sharding_on_one_process_is_allowed():
    assert resolve_layout(make_spec({"accelerator": "l4", "distributed": "fsdp"})).num_processes == 1


@pytest.mark.parametrize("sections, field, words", [
    ({"compute": {"accelerator": "H100 SXM5 80GB"}}, ("compute", "accelerator"), "Did you mean 'h100'"),
    ({"compute": {"accelerator": "tpu-v5"}}, ("compute", "accelerator"), "Known: "),
    ({"compute": {**H100x8, "processes_per_node": 9}}, ("compute", "processes_per_node"), "more processes than GPUs"),
    ({"compute": {"processes_per_node": 2, "distributed": "none"}}, ("compute", "distributed"), "one process"),
    ({"compute": {**H100x8, "nodes": 2, "distributed": "none"}}, ("compute", "distributed"), "one process"),
    ({"compute": {"distributed": "fsdp"}}, ("compute", "distributed"), "needs GPUs"),
    ({"compute": {"processes_per_node": 2, "distributed": "zero3"}}, ("compute", "distributed"), "needs GPUs"),
    ({"adapter": {"type": "qlora"}}, ("adapter", "type"), "CUDA GPU"),
    ({"adapter": {"type": "qlora"}, "compute": {**H100x8, "distributed": "zero3"}}, ("compute", "distributed"),
     "ZeRO-3"),
    ({"training": {"precision": "fp16"}}, ("training", "precision"), "fp16"),
])
def test_layout_errors(sections, field, words):
    compute = sections.pop("compute", {})
    with pytest.raises(LayoutError) as err:
        resolve_layout(make_spec(compute, **sections))
    assert err.value.field == field
    assert words in err.value.message
    assert str(err.value).startswith(".".join(field) + ": ")


def test_qlora_on_gpu_with_zero2_is_fine():
    layout = resolve_layout(make_spec({**H100x8, "distributed": "zero2"}, adapter={"type": "qlora"}))
    assert layout.distributed == "zero2"


def test_job_name_is_checked():
    with pytest.raises(ValueError, match="job name"):
        render_launch(resolve_layout(make_spec()), run_dir="r", job_name="a b; rm -rf /")


def test_import_is_light():
    code = ("import sys, ftspec.launch.layout; "
            "print(sorted(m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_cpu_ddp_really_starts_two_gloo_workers(tmp_path):
    """The CPU ddp config, launched for real: two workers, gloo, world size 2 (a stub in place of ftspec.train)."""
    layout = resolve_layout(make_spec({"processes_per_node": 2, "main_process_port": 29517}))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    files = render_launch(layout, run_dir=str(run_dir), job_name="demo")
    (run_dir / "accelerate_config.yaml").write_text(files.accelerate_config)
    (tmp_path / "stub_train.py").write_text(
        "import sys, pathlib\nfrom accelerate import Accelerator\na = Accelerator()\n"
        "pathlib.Path(sys.argv[1], f'rank{a.process_index}').write_text(f'{a.num_processes} {a.state.backend} {a.device.type}')\n")
    argv = [sys.executable, "-m", "accelerate.commands.launch",
            *[("stub_train" if a == "ftspec.train" else a) for a in files.launch_argv[2:]]]
    env = {**os.environ, **files.env, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    subprocess.run(argv, check=True, env=env, cwd=tmp_path, capture_output=True, timeout=120)
    assert sorted(p.read_text() for p in run_dir.glob("rank*")) == ["2 gloo cpu", "2 gloo cpu"]
