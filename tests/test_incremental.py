"""Versions and checkpoints judged by the task, through the real CLI on ``builtin:tiny-chat`` (which learns the
quickstart's format): V1 is applied with ``eval.select_by``; V2 names it with ``model.base: run:<name>`` and trains
on incrementally. Checks the parent link in the fingerprint, run id and report, the parent's scores beside V2's, the
selected checkpoint (the maximum of the per-checkpoint curve, installed as adapter/), idempotence, and every bad
reference as a located error with nothing trained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import run_cli
from support.project import write_project

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (QUICKSTART / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def _spec(name: str, base: str, train: str, **over) -> dict:
    spec = {
        "version": 1, "name": name, "model": {"base": base},
        "adapter": {"type": "lora", "rank": 4, "alpha": 2, "dropout": 0.0},
        "data": {"train": train, "format": "messages", "validation": 0.1, "max_length": 256},
        "training": {"epochs": 3, "batch_size": 8, "learning_rate": 5e-3, "lr_scheduler": "constant_with_warmup",
                     "seed": 7},
        "eval": {"holdout": "holdout.jsonl", "metrics": ["format_alignment", "exact_match"], "max_new_tokens": 16,
                 "select_by": "format_alignment"},
        "compute": {"accelerator": "cpu", "cpu_threads": 1},
        "lint": {"profile": "peft", "disable": ["FT101", "FT102", "FT105", "FT106", "FT202", "FT404"]},
    }
    for key, value in over.items():
        section, field = key.split("__")
        spec[section] = {**spec[section], field: value}
    return spec


LEARNING_RATES = [1e-3, 2e-3, 5e-3]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The guide's loop: V1 as a 3-member learning-rate sweep (64 rows), applied twice (the second trains nothing),
    compared; then V2 on the best member with 64 new rows."""
    folder = tmp_path_factory.mktemp("versions")
    train, holdout = _rows("train"), [r for r in _rows("holdout") if r["scenario"] in ("trained", "untrained")]
    files = {"v1.jsonl": train[:64], "v2.jsonl": train[64:128], "holdout.jsonl": holdout[::8]}
    # exact_match peaks before the last epoch on this data: the selection then swaps a checkpoint into adapter/.
    v1_spec = _spec("bot", "builtin:tiny-chat", "v1.jsonl", eval__select_by="exact_match")
    v1_spec["sweep"] = {"parameters": {"training.learning_rate": LEARNING_RATES}}
    v1 = write_project(folder, v1_spec, files, spec_name="v1.yaml")
    done = run_cli("apply", v1)
    assert done.returncode == 0, done.stderr[-3000:]
    again = run_cli("apply", v1)
    compared = run_cli("compare", v1, "--format", "json", "--html", folder / "compare.html")
    assert compared.returncode == 0, compared.stderr
    comparison = json.loads(compared.stdout)
    best = next(e for e in comparison["runs"] if e["run_id"] == comparison["best"]["run_id"])
    v1_dir = Path(best["path"])
    v2 = write_project(folder, _spec("bot-v2", str(v1_dir.resolve().relative_to(folder.resolve())), "v2.jsonl"),
                       spec_name="v2.yaml")
    done2 = run_cli("apply", v2)
    assert done2.returncode == 0, done2.stderr[-3000:]
    v2_dir = next((folder / "runs" / "bot-v2").iterdir())
    return {"folder": folder, "v1": v1, "v2": v2, "v1_dir": v1_dir, "v2_dir": v2_dir, "again": again,
            "comparison": comparison, "v2_out": done2.stdout + done2.stderr,
            "r1": json.loads((v1_dir / "report.json").read_text()), "r2": json.loads((v2_dir / "report.json").read_text())}


def test_sweep_members_are_runs_and_a_second_apply_trains_nothing(project):
    runs = [p for p in (project["folder"] / "runs" / "bot").iterdir() if (p / "report.json").is_file()]
    assert len(runs) == 3
    rates = sorted(json.loads((p / "plan.json").read_text())["job"]["trainer_args"]["learning_rate"] for p in runs)
    assert rates == LEARNING_RATES
    again = project["again"]
    assert again.returncode == 0 and again.stderr.count("nothing to do") == 3, again.stderr[-2000:]
    assert "ftspec.train" not in again.stderr  # no trainer started


def test_compare_picks_the_best_member_by_the_selection_metric(project):
    comparison = project["comparison"]
    assert comparison["swept"] == "training.learning_rate"
    assert sorted(comparison["differs"]["training.learning_rate"]) == LEARNING_RATES
    best = comparison["best"]
    assert best["metric"] == "exact_match"
    scores = [e["finetuned"]["exact_match"] for e in comparison["runs"]]
    assert best["value"] == max(scores) and project["r1"]["eval"]["finetuned"]["exact_match"] == max(scores)
    html = (project["folder"] / "compare.html").read_text(encoding="utf-8")
    assert "training.learning_rate" in html and "<script" not in html


def test_selected_checkpoint_is_the_best_of_the_curve(project):
    report, run_dir = project["r1"], project["v1_dir"]
    curve = report["checkpoint_eval"]
    assert [c["step"] for c in curve] == [8, 16, 24]  # one checkpoint per epoch: 58 rows / 8, three epochs
    values = [c["metrics"]["exact_match"] for c in curve]
    selected = report["selected"]
    assert selected["by"] == "exact_match" and selected["value"] == max(values)
    best_step = max(c["step"] for c in curve if c["metrics"]["exact_match"] == max(values))
    assert selected["step"] == best_step
    # The fine-tuned score the report shows is the selected checkpoint's, and adapter/ holds its weights.
    assert report["eval"]["finetuned"] == next(c["metrics"] for c in curve if c["step"] == best_step)
    from ftspec.core.hashing import sha256_file

    held = sha256_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert held == sha256_file(run_dir / "checkpoints" / f"checkpoint-{best_step}" / "adapter_model.safetensors")
    result = json.loads((run_dir / "train_result.json").read_text())
    assert result["global_step"] == 24
    assert (result.get("selected") or {"step": 24})["step"] == best_step
    # It learns: the base writes spaces around "-" and "/", the selected checkpoint mostly does not.
    assert report["eval"]["base"]["exact_match"] < 0.2 < selected["value"]


def test_validation_loss_and_task_metric_disagreement_is_reported(project):
    report = project["r1"]
    validation = {s: v for s, v in report["loss"]["validation"]}
    curve = {c["step"]: c["metrics"]["exact_match"] for c in report["checkpoint_eval"]}
    lowest = min(validation.values())
    val_best = max(s for s, v in validation.items() if v == lowest)
    metric_best = max(s for s, v in curve.items() if v == max(curve.values()))
    note = report["selected"]["disagreement"]
    if curve[val_best] == curve[metric_best]:
        assert note is None
    else:
        assert f"step {val_best}" in note and f"step {metric_best}" in note


def test_v2_names_its_parent_and_shows_its_scores(project):
    r1, r2 = project["r1"], project["r2"]
    parent = r2["parent"]
    assert parent["run_id"] == r1["run_id"] and Path(parent["folder"]) == project["v1_dir"].resolve()
    assert parent["own_holdout_eval"] == r1["eval"]["finetuned"]
    # V1 scored again by V2's evaluation on the same holdout: the same greedy outputs, the same scores.
    assert parent["eval"] == r1["eval"]["finetuned"]
    plan = json.loads((project["v2_dir"] / "plan.json").read_text())
    assert plan["fingerprint"]["model"]["parent"]["run_id"] == r1["run_id"]
    assert plan["job"]["model"]["continue_adapter"] == str(project["v1_dir"].resolve() / "adapter")
    assert plan["job"]["model"]["pretrained"] == {"base": "builtin:tiny-chat", "revision": None}
    # The baseline is still the pretrained model.
    assert r2["eval"]["base"] == r1["eval"]["base"]


def test_v2_continues_the_parents_adapter(project):
    from safetensors.torch import load_file

    v1 = load_file(project["v1_dir"] / "adapter" / "adapter_model.safetensors")
    first = load_file(project["v2_dir"] / "checkpoints" / "checkpoint-8" / "adapter_model.safetensors")
    assert v1.keys() == first.keys()
    # After one epoch on new data V2's adapter is V1's moved a little, not a fresh one (LoRA's B starts at 0).
    for key in (k for k in v1 if "lora_B" in k):
        assert float(v1[key].abs().sum()) > 0
        drift = float((first[key] - v1[key]).norm() / v1[key].norm())
        assert drift < 1.0, (key, drift)


def test_reapply_is_idempotent_and_the_console_shows_the_parent(project):
    again = run_cli("apply", project["v2"])
    assert again.returncode == 0 and "nothing to do" in again.stderr
    plan = run_cli("plan", project["v2"], "--format", "json")
    assert json.loads(plan.stdout)["fingerprint"]["model"]["parent"]["run_id"] == project["r1"]["run_id"]
    assert f"vs parent bot/{project['r1']['run_id']} on this holdout" in project["v2_out"]


def test_run_reference_finds_the_newest_finished_run(project):
    from ftspec.models.resolve import resolve_spec_model
    from ftspec.spec.load import load_spec

    folder = project["folder"]
    spec = write_project(folder, _spec("w0", "run:bot", "v2.jsonl"), spec_name="w0.yaml")
    parent = resolve_spec_model(load_spec(spec).spec, folder, spec).parent
    newest = max((json.loads((p / "report.json").read_text())["created"], p.name)
                 for p in (folder / "runs" / "bot").iterdir() if (p / "report.json").is_file())
    assert parent.run_id == newest[1]
    # A spec never trains on its own runs: v1.yaml naming run:bot finds none of its members.
    own = load_spec(project["v1"]).spec.model_copy(update={"model": load_spec(spec).spec.model})
    with pytest.raises(ValueError, match="no finished run of 'bot'"):
        resolve_spec_model(own, folder, project["v1"])


def _located(done, spec: Path, code: str) -> str:
    assert done.returncode == 1, done.stderr
    out = done.stdout + done.stderr
    assert code in out and f"{spec.name}:" in out
    return out


def test_bad_references_are_located_errors(project):
    folder = project["folder"]
    nothing = write_project(folder, _spec("w1", "run:nobody", "v2.jsonl"), spec_name="w1.yaml")
    out = _located(run_cli("apply", nothing), nothing, "FT015")
    assert "no runs of 'nobody'" in out and not (folder / "runs" / "w1").exists()

    unfinished = folder / "runs" / "half" / "abc123"
    shutil.copytree(project["v1_dir"], unfinished, ignore=shutil.ignore_patterns("report.json", "checkpoints"))
    plan = json.loads((unfinished / "plan.json").read_text())
    (unfinished / "plan.json").write_text(json.dumps({**plan, "name": "half"}))
    half = write_project(folder, _spec("w2", "run:half", "v2.jsonl"), spec_name="w2.yaml")
    out = _located(run_cli("lint", half), half, "FT015")
    assert "no finished run of 'half'" in out
    by_folder = write_project(folder, _spec("w3", str(unfinished), "v2.jsonl"), spec_name="w3.yaml")
    assert "not finished" in _located(run_cli("plan", by_folder), by_folder, "FT015")

    # The new holdout holds rows V1 trained on.
    leaky = write_project(folder, {**_spec("w4", "run:bot", "v2.jsonl"), "eval": {"holdout": "v1.jsonl"}},
                          spec_name="w4.yaml")
    assert "trained on by" in _located(run_cli("lint", leaky), leaky, "FT407")

    qlora = write_project(folder, _spec("w5", "run:bot", "v2.jsonl", adapter__type="qlora",
                                        model__parent_adapter="merge"), spec_name="w5.yaml")
    assert "4-bit" in _located(run_cli("lint", qlora), qlora, "FT015")


def test_another_chat_template_than_the_parents_is_flagged(project):
    folder = project["folder"]
    (folder / "chatml.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", encoding="utf-8")
    spec = write_project(folder, _spec("w6", "run:bot", "v2.jsonl", data__chat_template="chatml.jinja"),
                         spec_name="w6.yaml")
    done = run_cli("lint", spec, "--format", "json")
    found = [f for f in json.loads(done.stdout) if f["code"] == "FT016"]
    assert found and found[0]["severity"] == "warning" and "chat_template" in found[0]["message"] + "data.chat_template"


def _child(project, name: str, **over) -> tuple[Path, dict, dict]:
    """Apply a one-epoch child of the best V1 member; (run folder, plan.json, report.json)."""
    folder = project["folder"]
    parent = str(project["v1_dir"].resolve().relative_to(folder.resolve()))
    spec = write_project(folder, _spec(name, parent, "v2.jsonl", training__epochs=1, **over), spec_name=f"{name}.yaml")
    done = run_cli("apply", spec)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = next((folder / "runs" / name).iterdir())
    return run_dir, json.loads((run_dir / "plan.json").read_text()), json.loads((run_dir / "report.json").read_text())


def test_merge_the_parents_adapter_and_train_a_new_one_then_export(project):
    from ftspec.evaluate.generate import generate_outputs

    run_dir, plan, report = _child(project, "bot-merge", model__parent_adapter="merge",
                                   adapter__rank=8, adapter__alpha=2)
    v1_adapter = str(project["v1_dir"].resolve() / "adapter")
    assert plan["job"]["model"]["merge_adapters"] == [v1_adapter] and "continue_adapter" not in plan["job"]["model"]
    assert json.loads((run_dir / "adapter" / "adapter_config.json").read_text())["r"] == 8  # a new adapter, as specified
    assert report["parent"]["eval"] == project["r1"]["eval"]["finetuned"]
    # The adapter alone is not usable on the base: a plain export says so; --merge applies V1's, then its own.
    plain = run_cli("export", run_dir)
    assert plain.returncode != 0 and "--merge" in plain.stderr
    assert run_cli("export", run_dir, "--merge").returncode == 0
    samples = report["eval"]["details"]["finetuned"]["samples"]
    outputs = generate_outputs(str(run_dir / "merged"), [s["prompt"] for s in samples], max_new_tokens=16, seed=7)
    assert outputs == [s["output"] for s in samples]


def test_a_full_fine_tune_merges_the_parents_adapter(project):
    run_dir, plan, report = _child(project, "bot-full", adapter__type="full", training__learning_rate=1e-4)
    assert plan["job"]["peft"] is None
    assert plan["job"]["model"]["merge_adapters"] == [str(project["v1_dir"].resolve() / "adapter")]
    assert (run_dir / "model" / "config.json").is_file() and not (run_dir / "adapter").exists()
    assert report["parent"]["run_id"] == project["r1"]["run_id"]
    # One epoch at a small rate on top of V1's merged adapter keeps V1's format: it starts from V1, not the base.
    assert report["eval"]["finetuned"]["format_alignment"] >= project["r1"]["eval"]["finetuned"]["format_alignment"] - 0.2
    assert report["eval"]["finetuned"]["format_alignment"] > report["eval"]["base"]["format_alignment"]


def test_report_html_shows_checkpoints_and_the_parent(project):
    v1 = (project["v1_dir"] / "report.html").read_text(encoding="utf-8")
    assert 'id="checkpoints"' in v1 and "Holdout metrics by checkpoint step" in v1
    if project["r1"]["selected"]["disagreement"]:
        assert "Validation loss and the task metric disagree" in v1
    v2 = (project["v2_dir"] / "report.html").read_text(encoding="utf-8")
    assert 'id="parent-metrics"' in v2 and project["r1"]["run_id"] in v2
