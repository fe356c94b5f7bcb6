"""`ftspec plan` through the real console entry point: JSON keys, located errors, saved plans."""

from __future__ import annotations

import json
import shutil

import pytest

from support import ROOT, run_cli
from support.project import chat_rows, write_project

QUICKSTART = ROOT / "examples" / "quickstart"
KEYS = ("optimizer_steps", "train_tokens", "flops", "peak_memory_gib_per_device", "wall_time_hours", "cost_usd", "fits")


@pytest.fixture
def quickstart(tmp_path):
    dest = tmp_path / "qs"
    shutil.copytree(QUICKSTART, dest, ignore=shutil.ignore_patterns("runs"))
    return dest


def _spec(tmp_path, extra: str, *, n: int = 40) -> str:
    return str(write_project(tmp_path, "version: 1\nname: t\ndata: {train: train.jsonl, validation: 0.2}\n"
                             "lint: {disable: [FT101, FT102, FT105, FT403]}\n" + extra, {"train.jsonl": chat_rows(n)}))


def test_json_has_the_documented_keys(quickstart):
    proc = run_cli("plan", "--format", "json", quickstart / "ftspec.yaml")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    for key in KEYS:
        assert key in plan
    assert plan["optimizer_steps_exact"] is True
    # 360 records - 36 validation + 81 mixed in (20 % of the total) = 405 rows; ceil(405 / 4) x 5 epochs.
    assert plan["data"]["rows"] == 405 and plan["optimizer_steps"] == 102 * 5
    assert plan["train_tokens"]["per_epoch"] > plan["train_tokens"]["loss_bearing_per_epoch"] > 0
    assert plan["train_tokens"]["total"] == plan["train_tokens"]["per_epoch"] * 5
    assert plan["flops"] > 0 and plan["fits"] is None  # CPU: host RAM, no fit check
    assert "accelerate launch" in plan["launch"]["launch_line"]
    assert set(plan["fingerprint"]["data"]) == {"train.jsonl", "general.jsonl", "holdout.jsonl"}


def test_text_view(quickstart):
    proc = run_cli("plan", quickstart / "ftspec.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "510 optimizer steps (exact" in proc.stdout and "accelerate launch" in proc.stdout


def test_plan_is_deterministic(quickstart):
    a = json.loads(run_cli("plan", "--format", "json", quickstart / "ftspec.yaml").stdout)
    b = json.loads(run_cli("plan", "--format", "json", quickstart / "ftspec.yaml").stdout)
    assert a == b


def test_lint_errors_give_no_plan(tmp_path):
    spec = _spec(tmp_path, "", n=5)
    spec_text = open(spec).read().replace("FT101, ", "")
    open(spec, "w").write(spec_text)
    proc = run_cli("plan", spec, "-o", tmp_path / "plan.json")
    assert proc.returncode == 1
    assert "FT101" in proc.stdout and "no plan" in proc.stderr
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("extra, line, needle", [
    ("compute: {accelerator: h1000}\n", 5, "unknown accelerator 'h1000'"),
    ("compute: {accelerator: h100, gpus_per_node: 2, processes_per_node: 4}\n", 5, "more processes than GPUs"),
    ("adapter: {type: qlora}\n", 5, "CUDA"),
    ("adapter: {type: qlora}\ncompute: {accelerator: h100, gpus_per_node: 8, distributed: zero3}\n", 6, "ZeRO-3"),
])
def test_impossible_layouts_are_located_errors(tmp_path, extra, line, needle):
    spec = _spec(tmp_path, extra)
    proc = run_cli("plan", spec)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"spec.yaml:{line}:" in proc.stdout and needle in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_broken_record_is_located_in_the_dataset(tmp_path):
    spec = _spec(tmp_path, "lint: {disable: [FT101, FT102, FT105, FT403, FT301]}\n")
    text = (tmp_path / "train.jsonl").read_text().splitlines()
    text[6] = json.dumps({"messages": [{"role": "user", "content": "q"}]})
    (tmp_path / "train.jsonl").write_text("\n".join(text) + "\n")
    spec_text = open(spec).read().replace("lint: {disable: [FT101, FT102, FT105, FT403]}\n", "")
    open(spec, "w").write(spec_text)
    proc = run_cli("plan", spec)
    assert proc.returncode == 1
    assert "train.jsonl:7" in proc.stdout


def test_saved_plan_round_trips_and_goes_stale(quickstart):
    plan_file = quickstart / "plan.json"
    proc = run_cli("plan", quickstart / "ftspec.yaml", "-o", plan_file)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(plan_file.read_text())
    assert saved["optimizer_steps"] == 510
    # Change one data file: apply must refuse and name it, before doing anything.
    with open(quickstart / "general.jsonl", "a") as fh:
        fh.write(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")
    proc = run_cli("apply", plan_file)
    assert proc.returncode == 1
    assert "stale" in proc.stderr and "general.jsonl changed" in proc.stderr
    assert not (quickstart / "runs").exists()


def test_big_model_plan_reports_fit_and_remedies(tmp_path):
    spec = _spec(tmp_path, "model: {base: Qwen/Qwen2.5-72B-Instruct}\nadapter: {type: full}\n"
                           "compute: {accelerator: a100-40gb}\n")
    proc = run_cli("plan", "--format", "json", spec, "-o", tmp_path / "plan.json")
    assert proc.returncode == 1, proc.stderr  # an error finding, located at compute.accelerator
    assert "FT501" in proc.stderr and "spec.yaml:7:" in proc.stderr and "would fit" in proc.stderr
    assert not (tmp_path / "plan.json").exists()
    plan = json.loads(proc.stdout)
    assert plan["fits"] is False and plan["peak_memory_gib_per_device"] > 40
    assert plan["remedies"] and all("memory_gib" in r and "fits" in r for r in plan["remedies"])
    # Rows are exact even without the tokenizer: no sample can reach max_length.
    assert plan["optimizer_steps_exact"] is True and plan["tokens_estimated"] is True
    assert {m["platform"] for m in plan["managed_costs"]} == {"openai", "bailian"}


def test_emit_writes_a_launchable_run_folder(quickstart, tmp_path):
    """`plan --emit DIR` writes plan.json, data and the launchers for running outside `apply` (no training)."""
    import subprocess

    dest = tmp_path / "emitted"
    proc = run_cli("plan", quickstart / "ftspec.yaml", "--emit", dest)
    assert proc.returncode == 0, proc.stderr
    for name in ("plan.json", "accelerate_config.yaml", "launch.sh", "job.sbatch", "sky.yaml", "data/train.jsonl",
                 "data/validation.jsonl", "data/holdout.jsonl"):
        assert (dest / name).is_file(), name
    plan = json.loads((dest / "plan.json").read_text())
    assert len((dest / "data" / "train.jsonl").read_text().splitlines()) == plan["data"]["rows"] == 405
    launch = (dest / "launch.sh").read_text()
    assert f"--config_file {dest.resolve()}/accelerate_config.yaml" in launch and "-m ftspec.train" in launch
    for script in ("launch.sh", "job.sbatch"):
        assert subprocess.run(["bash", "-n", str(dest / script)]).returncode == 0


def test_saved_plan_whose_spec_broke_or_data_vanished_is_refused_without_a_traceback(quickstart):
    plan_file = quickstart / "plan.json"
    assert run_cli("plan", quickstart / "ftspec.yaml", "-o", plan_file).returncode == 0
    spec = quickstart / "ftspec.yaml"
    good = spec.read_text()
    spec.write_text(good.replace("\ntraining:", "\ntrainig:"))
    proc = run_cli("apply", plan_file)
    assert proc.returncode == 1 and "did you mean 'training'" in proc.stdout and "stale" in proc.stderr
    spec.write_text(good)
    (quickstart / "general.jsonl").unlink()
    proc = run_cli("apply", plan_file)
    assert proc.returncode == 1 and "general.jsonl changed" in proc.stderr and "missing" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_no_training_rows_is_a_located_ft110(tmp_path):
    rows = [json.dumps({"messages": [{"role": "user", "content": f"question {i} " * 20},
                                     {"role": "assistant", "content": f"answer {i} " * 20}]}) for i in range(40)]
    (tmp_path / "train.jsonl").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nname: t\ndata: {train: train.jsonl, validation: 0.2, max_length: 8}\n"
                    "lint: {disable: [FT101, FT102, FT105, FT403]}\n")
    proc = run_cli("plan", spec)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "FT110" in out and "FT000" not in out and f"{spec}:3:" in out, out
