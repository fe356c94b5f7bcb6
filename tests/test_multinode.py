"""The plan's multi-node launch, run for real as two machines on localhost: the run folder `ftspec plan --emit` writes
is copied to a second "machine" (no shared file system), and each machine runs its node's accelerate launcher (the
plan's accelerate config with num_machines 2, its own --machine_rank, gloo on the CPU). Training reaches the plan's
global step count, and only machine rank 0 writes the run folder's results (machine 1 writes its own random-number
state into each checkpoint, which transformers keeps per process for a resume)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, free_port, run_cli
from support.project import write_project

pytest.importorskip("torch")


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_two_machines_train_to_the_planned_step_and_only_rank_0_writes(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"say K{i}"}, {"role": "assistant", "content": f"K{i}"}]}
            for i in range(20)]
    spec = write_project(tmp_path, {
        "version": 1, "name": "mn", "adapter": {"type": "lora", "rank": 4, "alpha": 2},
        "data": {"train": "train.jsonl", "max_length": 64},
        "training": {"epochs": 1, "batch_size": 2, "learning_rate": 1e-3},
        "compute": {"accelerator": "cpu", "cpu_threads": 1, "nodes": 2, "main_process_ip": "127.0.0.1",
                    "main_process_port": free_port()},
        "lint": {"disable": ["FT101", "FT102", "FT105", "FT401", "FT403", "FT202"]}}, {"train.jsonl": rows})
    machines = [tmp_path / "machine-0", tmp_path / "machine-1"]
    done = run_cli("plan", spec, "--emit", machines[0])
    assert done.returncode == 0, done.stderr
    shutil.copytree(machines[0], machines[1])
    inputs = _files(machines[1])
    plan = json.loads((machines[0] / "plan.json").read_text())
    assert plan["layout"]["nodes"] == 2 and plan["layout"]["num_processes"] == 2
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACCELERATE_USE_CPU": "true"}
    procs = [subprocess.Popen([accelerate, "launch", "--quiet", "--num_cpu_threads_per_process", "1",
                               "--config_file", str(m / "accelerate_config.yaml"), "--machine_rank", str(rank),
                               "--main_process_ip", "127.0.0.1", "-m", "ftspec.train", str(m)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank, m in enumerate(machines)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    result = json.loads((machines[0] / "train_result.json").read_text())
    assert result["global_step"] == plan["optimizer_steps"] == 5 and result["world_size"] == 2
    assert (machines[0] / "adapter" / "adapter_model.safetensors").is_file()
    # Machine 1 trained (its process is world rank 1) and wrote only what transformers keeps per process for a
    # resume, its random-number state in each checkpoint: no weights, results or logs.
    assert _files(machines[1]) - inputs == {"checkpoints/checkpoint-5/rng_state_1.pth"}
    assert "rng_state_1.pth" not in _files(machines[0] / "checkpoints")
