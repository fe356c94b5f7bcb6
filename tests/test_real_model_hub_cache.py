"""Hub ids resolve through a local Hugging Face cache laid out as huggingface_hub lays it out
(HF_HOME/hub/models--org--name/{refs/main, snapshots/<commit>/}), offline, with exact counts from the cached
tokenizer; and the sample specs in specs/ lint and plan with the Qwen2.5 fixture standing in for their model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from support import ROOT, SHARED_DATA
from ftspec.models.fixtures.build import install_in_hf_cache
from support.real_models import write_spec


def cli(*args, hf_home):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-m", "ftspec.cli", *map(str, args)], capture_output=True, text=True,
                          env=env)


def test_hub_id_plans_exactly_from_the_cache(tmp_path, qwen25_dir):
    hf_home = tmp_path / "hf"
    snapshot = install_in_hf_cache(qwen25_dir, hf_home, "Qwen/Qwen2.5-0.5B-Instruct")
    assert snapshot == hf_home / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / ("0" * 40)
    (tmp_path / "local").mkdir()
    local = write_spec(tmp_path / "local", qwen25_dir, "chat")
    (tmp_path / "hub").mkdir()
    write_spec(tmp_path / "hub", "Qwen/Qwen2.5-0.5B-Instruct", "chat")
    by_id = cli("plan", tmp_path / "hub" / "spec.yaml", "--format", "json", hf_home=hf_home)
    assert by_id.returncode == 0, by_id.stderr
    by_path = cli("plan", local.path, "--format", "json", hf_home=hf_home)
    a, b = json.loads(by_id.stdout), json.loads(by_path.stdout)
    assert a["tokens_estimated"] is False and a["optimizer_steps_exact"] is True
    assert (a["optimizer_steps"], a["train_tokens"], a["data"]) == (b["optimizer_steps"], b["train_tokens"], b["data"])
    assert a["job"]["model"]["base"] == "Qwen/Qwen2.5-0.5B-Instruct"  # the trainer resolves the same snapshot
    # Without the cache the same spec still plans, but says its counts are estimates.
    bare = cli("plan", tmp_path / "hub" / "spec.yaml", "--format", "json", hf_home=tmp_path / "empty")
    assert bare.returncode == 0 and json.loads(bare.stdout)["tokens_estimated"] is True


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the sample specs train on ../shared/data, absent here")
def test_sample_specs_lint_and_plan_with_the_fixture_standing_in(tmp_path, qwen25_dir):
    hf_home = tmp_path / "hf"
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    for path in specs:
        model = yaml.safe_load(path.read_text())["model"]
        if not model["base"].startswith("builtin:"):
            install_in_hf_cache(qwen25_dir, hf_home, model["base"], model.get("revision") or "0" * 40)
    lint = cli("lint", "--format", "json", *specs, hf_home=hf_home)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert not [f for f in json.loads(lint.stdout) if f["severity"] == "error"]
    for path in specs:
        proc = cli("plan", path, "--format", "json", hf_home=hf_home)
        assert proc.returncode == 0, f"{path.name}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
        plan = json.loads(proc.stdout)
        assert plan["tokens_estimated"] is False and plan["optimizer_steps_exact"] is True, path.name
        assert plan["data"]["rows"] > 0
