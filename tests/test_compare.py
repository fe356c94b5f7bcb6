"""`ftspec runs` and `ftspec compare` on real run folders: three finished builtin:tiny runs that differ only in
training.learning_rate (applied once for the module, concurrently), beside an interrupted and a failed folder."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import ROOT, chromium as find_chromium, run_cli
from support.apply import NAME, code_rows, run_dirs
from support.project import write_jsonl, write_project

pytest.importorskip("trl")

RATES = (1.0e-4, 1.0e-3, 1.0e-2)  # two decades: the plot's x axis goes log
METRICS = ["exact_match", "format_alignment"]


def spec_text(rate: float, extra: str = "") -> str:
    return f"""version: 1
name: {NAME}
adapter: {{type: lora, rank: 4, alpha: 2}}
data: {{train: train.jsonl, validation: 0.25, max_length: 64}}
training: {{epochs: 1, batch_size: 4, learning_rate: {rate!r}, logging_steps: 1}}
eval: {{holdout: holdout.jsonl, metrics: {json.dumps(METRICS)}, max_new_tokens: 8}}
lint: {{disable: [FT101, FT102, FT105, FT202, FT203]}}
{extra}"""


def holdout_rows() -> list[dict]:
    return [dict(row, scenario="trained" if i % 2 else "untrained") for i, row in enumerate(code_rows(8, 1000))]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare") / "proj"
    specs = [write_project(folder, spec_text(rate), {"train.jsonl": code_rows(16), "holdout.jsonl": holdout_rows()},
                           spec_name=f"lr{i}.yaml") for i, rate in enumerate(RATES)]
    with ThreadPoolExecutor(len(specs)) as pool:
        for proc in pool.map(lambda s: run_cli("apply", s, timeout=600), specs):
            assert proc.returncode == 0, proc.stdout + proc.stderr
    finished = {}
    for run_dir in run_dirs(specs[0]):
        plan = json.loads((run_dir / "plan.json").read_text())
        finished[plan["spec"]["training"]["learning_rate"]] = run_dir
    assert sorted(finished) == list(RATES)
    first = finished[RATES[0]]
    # An interrupted run (inputs written, no training result) and a failed one (train_error.json).
    root = first.parent
    for name in ("interrupted0", "failed000000"):
        (root / name).mkdir()
        for file in ("spec.yaml", "plan.json"):
            shutil.copy(first / file, root / name / file)
    (root / "failed000000" / "train_error.json").write_text(
        json.dumps({"error": "out_of_memory", "message": "out of device memory at step 2"}))
    return {"spec": specs[0], "root": root, "runs": [finished[r] for r in RATES],
            "interrupted": root / "interrupted0", "failed": root / "failed000000"}


def report_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def listed(*args) -> dict[str, dict]:
    proc = run_cli("runs", *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)  # newest first
    return {r["run_id"]: r for r in rows}


def test_runs_lists_every_status(project):
    rows = listed(project["spec"])
    assert {k: r["status"] for k, r in rows.items()} == {
        **{d.name: "finished" for d in project["runs"]}, "interrupted0": "interrupted", "failed000000": "failed"}
    for run_dir in project["runs"]:
        report = report_of(run_dir)
        # No eval.select_by: the final weights, judged by the first metric.
        assert (report["selected"] or {"by": "final"})["by"] == "final"
        name, value = next(iter(report["eval"]["finetuned"].items()))
        assert rows[run_dir.name]["metric"] == f"{name}={value:.4g}"
        assert rows[run_dir.name]["date"] == report["created"] and rows[run_dir.name]["parent"] is None
    assert rows["interrupted0"]["metric"] is None and rows["interrupted0"]["name"] == NAME
    # The same runs from the folder of runs and from the output folder above it.
    assert listed(project["root"]).keys() == listed(project["root"].parent).keys() == rows.keys()
    text = run_cli("runs", project["spec"])
    assert text.returncode == 0 and text.stdout.splitlines()[0].split() == \
        ["NAME", "RUN", "PARENT", "STATUS", "METRIC", "DATE"]
    assert all(d.name in text.stdout for d in project["runs"]) and "failed" in text.stdout


def test_a_live_lock_reads_as_running(project):
    from ftspec.runfolder.locks import TrainerLock

    with TrainerLock(project["interrupted"]):
        assert listed(project["spec"])["interrupted0"]["status"] == "running"
    assert listed(project["spec"])["interrupted0"]["status"] == "interrupted"


def test_runs_is_torch_free(project):
    code = ("import sys\nsys.argv = ['ftspec', 'runs', sys.argv[1]]\nfrom ftspec.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "bad = [m for m in ('torch', 'transformers', 'trl') if m in sys.modules]\nassert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code, str(project["spec"])], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def compare(tmp_path, *targets, fmt="json"):
    page = tmp_path / "compare.html"
    proc = run_cli("compare", *targets, "--format", fmt, "--html", page)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {page}" in proc.stderr and page.is_file()
    return proc, page


def test_compare_json_holds_the_differing_key_and_each_runs_metrics(project, tmp_path):
    proc, _ = compare(tmp_path, *project["runs"], project["failed"])
    data = json.loads(proc.stdout)
    assert data["differs"] == {"training.learning_rate": [*RATES, RATES[0]]}
    assert data["swept"] == "training.learning_rate" and data["reference"] == project["runs"][0].name
    entries = data["runs"]
    assert [e["status"] for e in entries] == ["finished"] * 3 + ["failed"]
    assert entries[3]["error"] == "out of device memory at step 2" and entries[3]["finetuned"] is None
    for entry, run_dir in zip(entries, project["runs"]):
        report = report_of(run_dir)
        assert entry["run_id"] == run_dir.name
        assert entry["finetuned"] == report["eval"]["finetuned"] and entry["base"] == report["eval"]["base"]
        assert entry["finetuned_by_scenario"] == report["eval"]["details"]["finetuned"]["by_scenario"]
        assert set(entry["finetuned_by_scenario"]) == {"trained", "untrained"}
        assert entry["optimizer_steps"]["actual"] == report["actual"]["optimizer_steps"] == 3
        assert entry["train_tokens"]["actual"] == report["actual"]["train_tokens_seen"]
        assert entry["wall_time_hours"]["actual"] == pytest.approx(report["actual"]["train_runtime_s"] / 3600)
    assert entries[1]["diff"] == ["~ training.learning_rate: 0.0001 → 0.001"]
    best = data["best"]
    assert best["metric"] == METRICS[0]
    values = {e["run_id"]: e["finetuned"][METRICS[0]] for e in entries[:3]}
    assert best["value"] == max(values.values())
    assert best["tied"] == [k for k, v in values.items() if v == best["value"]]


def test_compare_text(project, tmp_path):
    proc, _ = compare(tmp_path, *project["runs"], project["interrupted"], fmt="text")
    out = proc.stdout
    for later, rate in zip(project["runs"][1:], ("0.001", "0.01")):
        assert re.search(rf"{later.name}:\n    ~ training\.learning_rate: 0\.0001 → {rate}\n", out)
    assert "interrupted0  apply-test  interrupted" in out
    report = report_of(project["runs"][2])
    row = next(line for line in out.splitlines() if line.split()[:2] == ["untrained", METRICS[0]])
    base = report["eval"]["details"]["base"]["by_scenario"]["untrained"][METRICS[0]]
    tuned = report["eval"]["details"]["finetuned"]["by_scenario"]["untrained"][METRICS[0]]
    assert row.split()[2] == f"{base:.4g}" and row.split()[5] == f"{tuned:.4g}"
    assert re.search(r"^best: ", out, re.M)


def test_compare_html_renders_in_chromium(project, tmp_path):
    chromium = find_chromium()
    _, page = compare(tmp_path, *project["runs"], project["failed"])
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert not re.search(r"\b(src|href)\s*=", html)
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    out = dom.stdout
    # The sweep plot: one point per finished run for each metric, the rates as x ticks on a log axis, the base dashed.
    for i, metric in enumerate(METRICS):
        assert len(re.findall(rf'<circle class="point c{i}" data-metric="{metric}"', out)) == 3
        assert len(re.findall(rf'<line class="base c{i}" data-metric="{metric}"', out)) == 1
    assert re.findall(r'<text class="tick xtick"[^>]*>([^<]+)</text>', out) == ["0.0001", "0.001", "0.01"]
    assert "training.learning_rate (log scale)" in out
    # Loss curves: a train line per run (the failed run has none) and its validation points, dashed.
    loss = section(out, "loss")
    assert len(re.findall(r'<polyline class="c\d" points="[\d., ]+">', loss)) == 3
    assert len(re.findall(r'<circle class="c\d dash"', loss)) == 3  # one validation loss each (one epoch)
    assert re.search(r'<table id="inputs-table">.*training\.learning_rate.*</table>', section(out, "inputs"), re.S)
    # eval.every_checkpoint (on by default): each metric at each checkpoint, a curve per finished run.
    checkpoints = section(out, "checkpoints")
    for metric in METRICS:
        assert f'aria-label="{metric} at each checkpoint"' in checkpoints
    runs_with_curves = [d for d in project["runs"] if report_of(d)["checkpoint_eval"]]
    assert len(re.findall(r'<circle class="c\d"', checkpoints)) == len(METRICS) * len(runs_with_curves)
    shot = tmp_path / "compare.png"
    subprocess.run([*common, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=60)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1280, 1600)
    assert len(data) > 30_000  # a blank page compresses to a few KB


def section(dom: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', dom, re.S)
    assert match, key
    return match.group(1)


def test_the_new_report_keys(project, tmp_path):
    """parent, selected and checkpoint_eval, as an incremental run with eval.every_checkpoint writes them."""
    child = tmp_path / "runs" / NAME / "child0000000"
    shutil.copytree(project["runs"][1], child, ignore=shutil.ignore_patterns("adapter", "checkpoints", "tensorboard"))
    report = report_of(child)
    report.update(parent={"run_id": project["runs"][0].name, "folder": str(project["runs"][0]), "eval": {}},
                  selected={"by": "validation_loss", "checkpoint": "checkpoints/checkpoint-2", "step": 2,
                            "metric": METRICS[1], "value": 0.5, "disagreement": None},
                  checkpoint_eval=[{"step": s, "path": f"checkpoints/checkpoint-{s}",
                                    "metrics": {METRICS[0]: s / 4, METRICS[1]: 1 - s / 4}} for s in (1, 2, 3)])
    (child / "report.json").write_text(json.dumps(report))
    row = listed(child.parent)["child0000000"]
    tuned = report["eval"]["finetuned"][METRICS[1]]
    assert row["parent"] == project["runs"][0].name
    assert row["metric"] == f"{METRICS[1]}={tuned:.4g} (checkpoint by validation_loss)"
    proc, page = compare(tmp_path, project["runs"][0], child)
    assert json.loads(proc.stdout)["runs"][1]["parent"] == project["runs"][0].name
    checkpoints = section(page.read_text(), "checkpoints")
    assert checkpoints.count("<h3>") == 2
    # The child's three checkpoints draw a line (in its column's colour, c1); the other run's single one a dot.
    assert re.search(r'<polyline class="c1" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+"/>', checkpoints)
    # Both runs selected differently (final vs validation_loss): the best is by the first metric.
    assert json.loads(proc.stdout)["best"]["metric"] == METRICS[0]


def test_compare_a_sweep_spec(project, tmp_path):
    """A spec with a sweep over the same rates: its members are the runs already applied (sweep is not a training
    input, so the run ids are the same)."""
    pytest.importorskip("ftspec.runs.sweep")
    folder = project["spec"].parent
    sweep = folder / "sweep.yaml"
    sweep.write_text(spec_text(RATES[0], f"sweep: {{parameters: {{training.learning_rate: {list(RATES)}}}}}\n"))
    proc, _ = compare(tmp_path, sweep)
    data = json.loads(proc.stdout)
    assert sorted(e["run_id"] for e in data["runs"]) == sorted(d.name for d in project["runs"])
    assert data["swept"] == "training.learning_rate"


@pytest.mark.parametrize("verb", ["runs", "compare"])
def test_bad_inputs_are_one_line_and_exit_1(verb, tmp_path):
    not_a_run = tmp_path / "notes"
    not_a_run.mkdir()
    (not_a_run / "todo.txt").write_text("nothing here\n")
    lonely = write_project(tmp_path / "fresh", spec_text(1e-3),
                           {"train.jsonl": code_rows(4), "holdout.jsonl": code_rows(2)})
    cases = {"missing": (tmp_path / "nowhere", "no such file or folder"),
             "not a run": (not_a_run, "no run folders here" if verb == "runs" else "not a run folder"),
             "no runs": (lonely, "no runs yet" if verb == "runs" else "has no sweep: section")}
    for what, (target, message) in cases.items():
        proc = run_cli(verb, target, "--html", tmp_path / "c.html") if verb == "compare" else run_cli(verb, target)
        assert proc.returncode == 1, (what, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, (what, proc.stderr)
        assert proc.stdout == ""
    assert not (tmp_path / "c.html").exists()


def test_a_holdout_file_alone_is_no_project(tmp_path):
    write_jsonl(tmp_path / "rows.jsonl", code_rows(2))
    proc = run_cli("runs", tmp_path / "rows.jsonl")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
