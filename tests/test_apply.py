"""`ftspec apply` end to end through the real console entry point, on the built-in tiny model (CPU).

Each apply launches the plan's own `accelerate launch` line, trains for real, evaluates base vs fine-tuned
on the holdout and writes the run folder. Datasets are small so each run takes seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from support import ROOT, free_port, run_cli
from support.apply import apply, make_project, run_dirs

pytest.importorskip("trl")

REPORT_KEYS = {"plan", "actual", "loss", "eval", "overfitting", "best_checkpoint", "fingerprint", "versions", "seed",
               "hardware", "lint", "checkpoints", "final_weights"}


SECRETS = {"HF_TOKEN": "hf_SECRET_TOKEN_VALUE_123", "WANDB_API_KEY": "wandb_SECRET_456"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    spec = make_project(tmp_path_factory.mktemp("apply") / "proj")
    proc = apply(spec, env=SECRETS)  # secrets in the environment must not reach the run folder
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dirs(spec)
    return spec, run_dir, proc


def test_run_folder_holds_everything(finished):
    spec, run_dir, _ = finished
    for name in ("spec.yaml", "plan.json", "accelerate_config.yaml", "report.json", "report.html",
                 "train_result.json", "data/train.jsonl", "data/validation.jsonl", "data/holdout.jsonl",
                 "adapter/adapter_config.json", "adapter/README.md", "eval/base.jsonl", "eval/finetuned.jsonl"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "checkpoints").glob("checkpoint-*"))
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))
    assert (run_dir / "spec.yaml").read_text() == spec.read_text()


def test_report_has_fixed_keys_and_steps_match_the_plan(finished):
    _, run_dir, _ = finished
    report = json.loads((run_dir / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    plan = json.loads((run_dir / "plan.json").read_text())
    assert report["plan"]["optimizer_steps"] == plan["optimizer_steps"] == report["actual"]["optimizer_steps"]
    assert report["loss"]["train"] and all(len(p) == 2 for p in report["loss"]["train"])
    assert report["checkpoints"] and all(len(h) == 64 for c in report["checkpoints"] for h in c["weights"].values())
    assert report["actual"]["peak_memory_gib"]["host_rss"] > 0 and report["actual"]["tokens_per_second"] > 0
    assert report["final_weights"]["sha256"]
    assert len(report["loss"]["validation"]) == 3  # one per epoch
    assert report["format"] == 2
    for side in ("base", "finetuned"):
        metrics = report["eval"][side]
        assert set(metrics) == {"exact_match", "format_alignment"}
        assert all(isinstance(v, float) and 0 <= v <= 1 for v in metrics.values())
        assert report["eval"]["details"][side]["n"] == 8
    outputs = [json.loads(line) for line in (run_dir / "eval" / "finetuned.jsonl").read_text().splitlines()]
    assert len(outputs) == 8 and all("output" in o and "scores" in o for o in outputs)


def test_report_has_no_secrets(finished):
    _, run_dir, _ = finished
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".yaml", ".html", ".md", ".txt"):
            text = path.read_text(errors="ignore")
            assert "SECRET" not in text, path


def test_second_apply_has_nothing_to_do(finished):
    spec, run_dir, _ = finished
    before = (run_dir / "report.json").stat().st_mtime_ns
    proc = apply(spec)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do" in proc.stderr
    assert (run_dir / "report.json").stat().st_mtime_ns == before
    assert len(run_dirs(spec)) == 1


def test_report_command(finished):
    _, run_dir, _ = finished
    proc = run_cli("report", run_dir)
    assert proc.returncode == 0, proc.stderr
    headline = next(iter(json.loads((run_dir / "report.json").read_text())["eval"]["finetuned"]))
    assert "optimizer steps" in proc.stdout and headline in proc.stdout  # the story leads with the first metric


def test_same_spec_same_result(finished, tmp_path):
    """Determinism on CPU: a second project with the same spec and data gives the same losses and outputs."""
    spec, run_dir, _ = finished
    other = make_project(tmp_path / "again")
    proc = apply(other)
    assert proc.returncode == 0, proc.stderr
    (other_dir,) = run_dirs(other)
    assert other_dir.name == run_dir.name  # the run id is a digest of the inputs
    a, b = (json.loads((d / "report.json").read_text()) for d in (run_dir, other_dir))
    assert a["loss"] == b["loss"]
    assert [s["output"] for s in a["eval"]["details"]["finetuned"]["samples"]] == \
        [s["output"] for s in b["eval"]["details"]["finetuned"]["samples"]]


def test_export_merge(finished):
    _, run_dir, _ = finished
    proc = run_cli("export", run_dir, "--merge")
    assert proc.returncode == 0, proc.stderr
    merged = run_dir / "merged"
    assert (merged / "config.json").is_file() and list(merged.glob("*.safetensors"))
    # The merged model answers exactly as base + adapter did.
    from ftspec.evaluate.generate import generate_outputs

    report = json.loads((run_dir / "report.json").read_text())
    samples = report["eval"]["details"]["finetuned"]["samples"][:4]
    outputs = generate_outputs(str(merged), [s["prompt"] for s in samples], max_new_tokens=8)
    assert outputs == [s["output"] for s in samples]


def test_concurrent_apply_is_refused(tmp_path):
    from ftspec.spec.load import load_spec
    from ftspec.plan.compile import build_plan
    from ftspec.plan.identity import run_id, run_root
    from ftspec.runfolder.locks import RunLock

    spec = make_project(tmp_path / "p")
    plan = build_plan(load_spec(spec))
    with RunLock(run_root(plan) / run_id(plan)):
        proc = apply(spec)
    assert proc.returncode == 1
    assert "another `ftspec apply` is working" in proc.stderr


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    """A learning rate no spec allows (1e30) makes the loss NaN for real; apply stops and says so."""
    from ftspec.runfolder.contract import EXIT_NAN
    from ftspec.runs.errors import ApplyError
    from ftspec.runs.inputs import write_inputs
    from ftspec.runs.training import run_training
    from ftspec.spec.load import load_spec
    from ftspec.plan.compile import build_plan

    spec = make_project(tmp_path / "p", epochs=1)
    loaded = load_spec(spec)
    plan = build_plan(loaded)
    run_dir = tmp_path / "run"
    bound = write_inputs(loaded, plan, run_dir)
    stored = json.loads((run_dir / "plan.json").read_text())
    stored["job"]["trainer_args"].update(learning_rate=1e30, max_grad_norm=0.0)
    (run_dir / "plan.json").write_text(json.dumps(stored))
    with pytest.raises(ApplyError) as err:
        run_training(bound, run_dir, resume=False)
    assert err.value.code == EXIT_NAN and "NaN" in err.value.message
    assert json.loads((run_dir / "train_result.json").read_text())["stopped"] == "nan_loss"


def test_resume_after_sigkill_gives_the_same_result(finished, tmp_path):
    """Kill the whole apply (launcher and trainer) for real after the first checkpoint, apply again;
    the result equals the uninterrupted run of the same spec (the module fixture)."""
    _, ref_dir, _ = finished
    spec = make_project(tmp_path / "killed")
    child = subprocess.Popen([sys.executable, "-m", "ftspec.cli", "apply", str(spec)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        dirs = run_dirs(spec)
        if dirs and any((p / "ftspec-manifest.json").is_file() for p in (dirs[0] / "checkpoints").glob("checkpoint-*")):
            break
        if child.poll() is not None:
            pytest.fail("apply finished before it could be killed")
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    (run_dir,) = run_dirs(spec)
    assert not (run_dir / "report.json").exists()

    proc = apply(spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming" in proc.stderr
    a = json.loads((ref_dir / "report.json").read_text())
    b = json.loads((run_dir / "report.json").read_text())
    assert b["actual"]["resumed_from"]
    assert b["actual"]["optimizer_steps"] == a["actual"]["optimizer_steps"]
    assert b["loss"]["validation"] == a["loss"]["validation"]
    assert b["eval"]["finetuned"] == a["eval"]["finetuned"]


def test_two_process_cpu_ddp(tmp_path):
    # A free port: the default 29500 may be another test's two-process run at the same moment.
    spec = make_project(tmp_path / "ddp", extra="compute: {accelerator: cpu, processes_per_node: 2, distributed: ddp, "
                        f"main_process_port: {free_port()}}}\n", epochs=1)
    proc = apply(spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dirs(spec)
    report = json.loads((run_dir / "report.json").read_text())
    plan = json.loads((run_dir / "plan.json").read_text())
    assert report["actual"]["world_size"] == 2
    assert report["actual"]["optimizer_steps"] == plan["optimizer_steps"]
    assert "MULTI_CPU" in (run_dir / "accelerate_config.yaml").read_text()


def test_real_report_html_renders_in_chromium(finished, tmp_path):
    """The report.html an actual apply wrote is self-contained and renders in headless Chromium."""
    from support import chromium as find_chromium

    _, run_dir, _ = finished
    html = (run_dir / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    chromium = find_chromium()
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
                           "--dump-dom", (run_dir / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'id="metrics"' in proc.stdout and "<polyline" in proc.stdout and "format_alignment" in proc.stdout


def test_out_of_memory_is_one_clear_line_with_the_plans_estimate(tmp_path, monkeypatch):
    """A real OOM needs a GPU; here the trainer's OOM path is forced (sitecustomize raises torch's OOM error
    in the training subprocess), and everything from there on is the real launch, files and message."""
    from ftspec.runfolder.contract import EXIT_OOM
    from ftspec.runs.errors import ApplyError
    from ftspec.runs.inputs import write_inputs
    from ftspec.runs.training import run_training
    from ftspec.spec.load import load_spec
    from ftspec.plan.compile import build_plan

    spec = make_project(tmp_path / "p", epochs=1)
    loaded = load_spec(spec)
    plan = build_plan(loaded)
    run_dir = tmp_path / "run"
    bound = write_inputs(loaded, plan, run_dir)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('FTSPEC_TEST_OOM'):\n"
        "    import transformers\n"
        "    def boom(self, *a, **k):\n"
        "        import torch\n"
        "        raise torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')\n"
        "    transformers.Trainer.train = boom\n")
    monkeypatch.setenv("PYTHONPATH", f"{hook}{os.pathsep}{ROOT}")
    monkeypatch.setenv("FTSPEC_TEST_OOM", "1")
    with pytest.raises(ApplyError) as err:
        run_training(bound, run_dir, resume=False)
    assert err.value.code == EXIT_OOM
    assert "out of memory" in err.value.message and "the plan estimated" in err.value.message


def test_saved_plan_applies_to_the_same_run(finished, tmp_path):
    """`plan -o` then `apply plan.json` is the same job: it finds the finished run (same inputs, same id)."""
    spec, run_dir, _ = finished
    plan_file = tmp_path / "plan.json"
    proc = run_cli("plan", spec, "-o", plan_file)
    assert proc.returncode == 0, proc.stderr
    proc = apply(plan_file)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do" in proc.stderr and str(run_dir) in proc.stderr
