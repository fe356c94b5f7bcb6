"""The launch configurations ftspec renders, parsed by each engine's own validator (no GPU here, so none of these
layouts can run; what is checked is what each library would accept at launch):

- DeepSpeed ZeRO-2/3 (one and two nodes): accelerate's launch turns the config into its environment, accelerate's
  DeepSpeedPlugin builds the DeepSpeed config from it, transformers fills its "auto" values from the plan's trainer
  arguments, and DeepSpeed's ``DeepSpeedConfig`` parses it (unknown ZeRO keys and a wrong train_batch_size refused);
- FSDP2: accelerate's own FullyShardedDataParallelPlugin from the launch environment;
- SkyPilot: ``sky.Task.from_yaml`` of the task, in the SkyPilot environment `.ci/run` builds (.venv-sky; SkyPilot
  pins an older click than ftspec's, so it lives apart).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import ROOT
from ftspec.launch.files import render_launch
from ftspec.launch.layout import LayoutError, resolve_layout
from ftspec.spec.schema import Spec

H100x8 = {"accelerator": "h100", "gpus_per_node": 8}
LAYOUTS = {
    "zero2": {**H100x8, "distributed": "zero2"},
    "zero3": {**H100x8, "distributed": "zero3"},
    "zero3-2node": {**H100x8, "distributed": "zero3", "nodes": 2},
    "fsdp": {**H100x8, "distributed": "fsdp"},
    "ddp-2node": {**H100x8, "nodes": 2},
}


def layout_of(compute: dict):
    spec = Spec.model_validate({"name": "e", "data": {"train": "x.jsonl"}, "training": {"precision": "bf16"},
                                "compute": compute})
    return resolve_layout(spec)


def validated(kind: str, config: Path, *args) -> dict:
    done = subprocess.run([sys.executable, "-m", "support.engines", kind, str(config), *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"})
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("ENGINE-JSON ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("ENGINE-JSON "):])


@pytest.mark.parametrize("name", ["zero2", "zero3", "zero3-2node"])
def test_deepspeed_parses_the_rendered_zero_config(name, tmp_path):
    if os.environ.get("FTSPEC_REQUIRE_DEEPSPEED") != "1":
        pytest.importorskip("deepspeed", reason="DeepSpeed is the optional extra ftspec[deepspeed]; .ci/run installs it")
    layout = layout_of(LAYOUTS[name])
    (tmp_path / "accelerate_config.yaml").write_text(render_launch(layout, run_dir=str(tmp_path),
                                                                   job_name="e").accelerate_config)
    out = validated("deepspeed", tmp_path / "accelerate_config.yaml", layout.num_processes, 4, 2, "bf16")
    assert out["zero_stage"] == (3 if "zero3" in name else 2)
    assert out["train_batch_size"] == 4 * 2 * layout.num_processes and out["bf16"]
    if name != "zero2":
        return
    # The same parser refuses what ftspec must never render: an unknown ZeRO key, a batch that does not add up.
    for broken in ({**out["config"], "zero_optimization": {**out["config"]["zero_optimization"], "stagee": 2}},
                   {**out["config"], "train_batch_size": 3}):
        done = subprocess.run([sys.executable, "-c", "import json, sys; from deepspeed.runtime.config import "
                               "DeepSpeedConfig; DeepSpeedConfig(json.loads(sys.argv[1]))", json.dumps(broken)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode != 0 and ("stagee" in done.stderr or "train_batch_size" in done.stderr)


def test_accelerate_s_fsdp_plugin_takes_the_rendered_fsdp2_config(tmp_path):
    layout = layout_of(LAYOUTS["fsdp"])
    (tmp_path / "accelerate_config.yaml").write_text(render_launch(layout, run_dir=str(tmp_path),
                                                                   job_name="e").accelerate_config)
    out = validated("fsdp", tmp_path / "accelerate_config.yaml")
    assert out == {"fsdp_version": 2, "auto_wrap_policy": "transformer_auto_wrap_policy",
                   "state_dict_type": "StateDictType.SHARDED_STATE_DICT", "reshard_after_forward": True,
                   "cpu_ram_efficient_loading": True}


@pytest.mark.parametrize("distributed", ["fsdp", "zero2", "zero3"])
def test_fsdp_or_zero_on_the_cpu_is_a_located_error_that_says_why(distributed, tmp_path):
    from support import run_cli

    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                               {"role": "assistant", "content": "a"}]}) + "\n" for i in range(20)))
    (tmp_path / "s.yaml").write_text(f"name: e\ndata:\n  train: t.jsonl\ncompute:\n  accelerator: cpu\n"
                                     f"  processes_per_node: 2\n  distributed: {distributed}\nlint: {{disable: [FT102]}}\n")
    done = run_cli("plan", tmp_path / "s.yaml")
    assert done.returncode == 1 and f"{distributed} needs GPUs" in done.stdout + done.stderr
    assert "s.yaml:7:16" in done.stdout + done.stderr and "Traceback" not in done.stderr
    with pytest.raises(LayoutError):
        layout_of({"accelerator": "cpu", "processes_per_node": 2, "distributed": distributed})


def _sky_python() -> str | None:
    chosen = os.environ.get("FTSPEC_SKYPILOT_PYTHON") or str(ROOT / ".venv-sky" / "bin" / "python")
    return chosen if Path(chosen).exists() else None


@pytest.mark.parametrize("name", ["zero2", "fsdp", "ddp-2node", "zero3-2node"])
def test_skypilot_parses_the_rendered_task(name, tmp_path):
    python = _sky_python()
    if python is None:
        if os.environ.get("FTSPEC_REQUIRE_SKYPILOT") == "1":
            pytest.fail("FTSPEC_REQUIRE_SKYPILOT=1 but no SkyPilot environment (.venv-sky or FTSPEC_SKYPILOT_PYTHON)")
        pytest.skip("SkyPilot is the optional extra ftspec[skypilot]; .ci/run installs it into .venv-sky")
    layout = layout_of(LAYOUTS[name])
    task = render_launch(layout, run_dir="runs/e/0123456789ab", job_name="e").skypilot
    (tmp_path / "sky.yaml").write_text(task)
    done = subprocess.run([python, "-c", "import json, sys, sky; t = sky.Task.from_yaml(sys.argv[1]); "
                           "(r,) = t.resources; print(json.dumps({'nodes': t.num_nodes, 'accelerators': "
                           "r.accelerators, 'envs': t.envs, 'run': t.run}))", str(tmp_path / "sky.yaml")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["nodes"] == layout.nodes and parsed["accelerators"] == {"H100": 8}
    if layout.nodes > 1:  # SkyPilot's own variables give each node its rank and the head's address
        assert all(v in parsed["run"] for v in ("SKYPILOT_NODE_RANK", "SKYPILOT_NODE_IPS", "SKYPILOT_NUM_NODES"))
    assert yaml.safe_load(task)["num_nodes"] == layout.nodes


@pytest.mark.parametrize("card, sky_name", [("v100-16gb", "V100"), ("v100-32gb", "V100-32GB"), ("l40s", "L40S")])
def test_skypilot_knows_the_catalogues_card_names(card, sky_name, tmp_path):
    python = _sky_python()
    if python is None:
        if os.environ.get("FTSPEC_REQUIRE_SKYPILOT") == "1":
            pytest.fail("FTSPEC_REQUIRE_SKYPILOT=1 but no SkyPilot environment (.venv-sky or FTSPEC_SKYPILOT_PYTHON)")
        pytest.skip("SkyPilot is the optional extra ftspec[skypilot]; .ci/run installs it into .venv-sky")
    spec = Spec.model_validate({"name": "e", "data": {"train": "x.jsonl"}, "compute": {"accelerator": card}})
    (tmp_path / "sky.yaml").write_text(render_launch(resolve_layout(spec), run_dir="r", job_name="e").skypilot)
    done = subprocess.run([python, "-c", "import json, sys, sky; (r,) = sky.Task.from_yaml(sys.argv[1]).resources; "
                           "print(json.dumps(r.accelerators))", str(tmp_path / "sky.yaml")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {sky_name: 1}
