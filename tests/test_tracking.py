"""tracking: [tensorboard, mlflow, wandb], end to end through `ftspec apply` on builtin:tiny (CPU, seconds).

One apply logs to all three; MLflow is read back through its own client and W&B through its offline run file, and
both are compared with report.json. Then: a re-apply logs nothing, a re-evaluation updates the same MLflow run, a
tracker failing after training is one warning, and trackers that could not log are refused before anything trains.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import free_port, run_cli
from support.apply import apply, code_rows
from support.project import write_project

pytest.importorskip("trl")

NAME = "track-test"


def _need(module: str) -> None:
    """Skip without the tracking extra; fail where CI installs it (FTSPEC_REQUIRE_TRACKING=1)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        why = f"{module} is not installed: pip install 'ftspec[tracking]'"
        if os.environ.get("FTSPEC_REQUIRE_TRACKING") == "1":
            pytest.fail(f"FTSPEC_REQUIRE_TRACKING=1 but {why}")
        pytest.skip(why)


def _rows(n: int, offset: int = 0) -> list[dict]:
    return [dict(r, scenario="even" if i % 2 == 0 else "odd") for i, r in enumerate(code_rows(n, offset))]


def make_spec(folder: Path, tracking: str, *, eval_extra: str = "") -> Path:
    return write_project(folder, f"""version: 1
name: {NAME}
adapter: {{type: lora, rank: 4, alpha: 2}}
data: {{train: train.jsonl, validation: 0.25, max_length: 64}}
training: {{epochs: 2, batch_size: 4, learning_rate: 1.0e-3, logging_steps: 1}}
eval: {{holdout: holdout.jsonl, metrics: [exact_match, format_alignment], max_new_tokens: 8{eval_extra}}}
lint: {{disable: [FT101, FT102, FT105, FT202, FT203]}}
tracking:
{tracking}""", {"train.jsonl": _rows(32), "holdout.jsonl": _rows(8, offset=1000)}, spec_name="ftspec.yaml")


ALL_THREE = "  - tensorboard\n  - mlflow\n  - wandb: {mode: offline}\n"


def run_dir_of(spec: Path) -> Path:
    (run_dir,) = [p for p in (spec.parent / "runs" / NAME).iterdir() if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    _need("mlflow")
    _need("wandb")
    spec = make_spec(tmp_path_factory.mktemp("tracking") / "proj", ALL_THREE)
    proc = apply(spec, env={"WANDB_API_KEY": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = run_dir_of(spec)
    return spec, run_dir, json.loads((run_dir / "report.json").read_text()), proc


def client_of(spec: Path):
    from mlflow import MlflowClient

    db = spec.parent / "runs" / "mlruns" / "mlflow.db"
    assert db.is_file()  # the default store: sqlite, beside the runs
    return MlflowClient(f"sqlite:///{db}")


def only_run(client):
    experiment = client.get_experiment_by_name(NAME)  # default experiment: the spec's name
    (run,) = client.search_runs([experiment.experiment_id])
    return run


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, str) else json.dumps(v)
    return out


def history(client, run_id: str, key: str) -> list[list]:
    return sorted([m.step, m.value] for m in client.get_metric_history(run_id, key))


def test_tensorboard_and_the_trackers_are_all_written(tracked):
    spec, run_dir, _, proc = tracked
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))
    assert "logged to mlflow:" in proc.stderr and "logged to wandb:" in proc.stderr
    assert json.loads((run_dir / "plan.json").read_text())["job"]["trainer_args"]["report_to"] == ["tensorboard"]


def test_mlflow_run_holds_the_report(tracked):
    spec, run_dir, report, _ = tracked
    client = client_of(spec)
    run = only_run(client)
    rid = run.info.run_id
    assert run.info.run_name == f"{NAME}/{report['run_id']}" and run.info.status == "FINISHED"
    assert run.data.params == flatten(json.loads((run_dir / "plan.json").read_text())["spec"])
    assert run.data.params["training.learning_rate"] == "0.001"
    assert history(client, rid, "loss/train") == report["loss"]["train"]
    assert history(client, rid, "loss/validation") == report["loss"]["validation"]
    assert len(report["loss"]["validation"]) == 2  # one per epoch
    ev, steps = report["eval"], report["actual"]["optimizer_steps"]
    for side in ("base", "finetuned"):
        for metric, value in ev[side].items():
            assert history(client, rid, f"eval/{side}/{metric}") == [[steps, value]]
        by_scenario = ev["details"][side]["by_scenario"]
        assert set(by_scenario) == {"even", "odd"}
        for scenario, metrics in by_scenario.items():
            for metric, value in metrics.items():
                assert run.data.metrics[f"eval/{side}/scenario/{scenario}/{metric}"] == value
    assert {a.path for a in client.list_artifacts(rid)} == {"report.json", "report.html"}
    local = client.download_artifacts(rid, "report.json", str(spec.parent / "download"))
    assert json.loads(Path(local).read_text()) == report
    tags = run.data.tags
    assert tags["ftspec.run_id"] == report["run_id"] and tags["ftspec.run_dir"] == str(run_dir.resolve())
    assert tags["ftspec.weights"] == str(run_dir.resolve() / report["final_weights"]["path"])
    assert "ftspec.parent_run_id" not in tags and "ftspec.sweep_id" not in tags  # neither a child nor a sweep


def wandb_records(path: Path) -> list:
    """W&B's offline .wandb file: LevelDB's log format (32 KiB blocks of crc, length, type, data) of protobuf
    Records, after a 7-byte header. wandb 0.31 ships no reader of its own, so this parses it with its protos."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record()
            record.ParseFromString(buf)
            out.append(record)
            buf = b""
    return out


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def test_wandb_offline_run_holds_the_report(tracked):
    spec, run_dir, report, _ = tracked
    (offline,) = (spec.parent / "runs" / "wandb").glob("offline-run-*")
    (file,) = offline.glob("run-*.wandb")
    records = wandb_records(file)
    (run,) = [r.run for r in records if r.HasField("run")]
    assert run.project == NAME and run.display_name == f"{NAME}/{report['run_id']}"
    config = {u.key: json.loads(u.value_json) for u in run.config.update}
    config.update({u.key: json.loads(u.value_json) for r in records if r.HasField("config") for u in r.config.update})
    resolved = json.loads((run_dir / "plan.json").read_text())["spec"]
    assert {k: config[k] for k in resolved} == resolved
    assert config["ftspec"]["ftspec.run_id"] == report["run_id"]
    rows = {}
    for r in records:
        if r.HasField("history"):
            rows[r.history.step.num] = {_key(i): json.loads(i.value_json) for i in r.history.item}
    for curve in ("train", "validation"):
        assert [[s, row[f"loss/{curve}"]] for s, row in sorted(rows.items()) if f"loss/{curve}" in row] == \
            report["loss"][curve]
    summary = {_key(u): json.loads(u.value_json) for r in records if r.HasField("summary") for u in r.summary.update}
    for side in ("base", "finetuned"):
        assert all(summary[f"eval/{side}/{m}"] == v for m, v in report["eval"][side].items())
    assert json.loads((offline / "files" / "report.json").read_text()) == report


def test_refused_before_training_when_the_mlflow_server_cannot_be_reached(tmp_path):
    _need("mlflow")
    port = free_port()  # nothing listens there
    spec = make_spec(tmp_path, f"  - mlflow:\n      tracking_uri: http://127.0.0.1:{port}\n")
    line, column = position(spec, "http://")
    proc = apply(spec)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert f"{spec}:{line}:{column}: error FT010" in out and "cannot be reached" in out
    assert not (tmp_path / "runs").exists()  # nothing trained, no run folder
    lint = run_cli("lint", spec)  # lint stays offline: the server is the plan's business
    assert "FT010" not in lint.stdout + lint.stderr


class _HealthyThenBroken(BaseHTTPRequestHandler):
    """An MLflow server that answers the plan's probe, then fails every API call (as if it died during training)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/health" else 500)
        self.end_headers()
        self.wfile.write(b"OK")

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_tracker_failing_after_training_is_a_warning_and_tensorboard_can_be_left_out(tmp_path):
    _need("mlflow")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthyThenBroken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = make_spec(tmp_path, f"  - mlflow: {{tracking_uri: 'http://127.0.0.1:{server.server_port}'}}\n")
        proc = apply(spec, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: mlflow logging failed")]
    assert len(warnings) == 1 and "is finished and kept" in warnings[0]
    from ftspec.runs.apply import read_bound_plan
    from ftspec.runs.trust import report_problem

    run_dir = run_dir_of(spec)
    assert json.loads((run_dir / "report.json").read_text())["status"] == "completed"
    assert report_problem(read_bound_plan(run_dir), run_dir) is None  # finished: a re-apply has nothing to do
    assert not (run_dir / "tensorboard").exists()  # not in tracking: the trainer writes none
    assert json.loads((run_dir / "plan.json").read_text())["job"]["trainer_args"]["report_to"] == "none"


def position(spec: Path, text: str) -> tuple[int, int]:
    """(line, column) where ``text`` first stands in the spec, both from 1."""
    for n, line in enumerate(spec.read_text().splitlines(), 1):
        if text in line:
            return n, line.index(text) + 1
    raise AssertionError(text)


def _refusal(spec: Path):
    from ftspec.plan.planning import NoPlan, plan_spec

    with pytest.raises(NoPlan) as caught:
        plan_spec(str(spec))
    (finding,) = caught.value.findings
    return finding


def test_refused_local_store_wandb_key_and_missing_library(tmp_path, monkeypatch):
    import ftspec.plan.trackers as trackers

    (tmp_path / "afile").write_text("")
    spec = make_spec(tmp_path / "a", f"  - mlflow: {{tracking_uri: 'sqlite:///{tmp_path}/afile/sub/mlflow.db'}}\n")
    found = _refusal(spec)
    assert (found.code, found.line, found.column) == ("FT010", *position(spec, "'sqlite:"))
    assert "is a file, not a folder" in found.message
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from a `wandb login`
    spec = make_spec(tmp_path / "b", "  - wandb:\n      mode: online\n")
    found = _refusal(spec)
    assert (found.code, found.line, found.column) == ("FT010", *position(spec, "online"))
    assert "WANDB_API_KEY" in found.message
    monkeypatch.setattr(trackers, "_installed", lambda module: module != "wandb")
    spec = make_spec(tmp_path / "c", "  - wandb\n")
    found = _refusal(spec)
    assert (found.code, found.line, found.column) == ("FT010", *position(spec, "wandb"))
    assert found.hint == "pip install 'ftspec[tracking]'"


def test_parent_sweep_checkpoint_scores_and_long_params(tracked, tmp_path):
    """What the tiny run does not have (a parent, a sweep, checkpoint scores, a spec value over MLflow's limit),
    logged from its report with those added, to a store of its own."""
    from ftspec.report.tracking import log_to_trackers
    from ftspec.runs.apply import read_bound_plan
    from ftspec.spec.schema import Spec

    spec, run_dir, report, _ = tracked
    plan = read_bound_plan(run_dir)
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    resolved = {**plan.spec.model_dump(mode="json"), "description": "x" * 7000,
                "tracking": [{"mlflow": {"tracking_uri": uri, "experiment": "other"}}]}
    plan = plan.model_copy(update={"spec": Spec.model_validate(resolved)})
    report = {**report, "run_id": "abc-2", "parent": {"run_id": "p1", "folder": "x"},
              "sweep": {"id": "s1", "index": 1, "of": 3, "values": {"training.learning_rate": 0.001}},
              "checkpoint_eval": [{"step": 8, "path": "checkpoints/checkpoint-8", "metrics": {"exact_match": 0.25}},
                                  {"step": 16, "path": "checkpoints/checkpoint-16", "metrics": {"exact_match": 0.5}}]}
    said = []
    log_to_trackers(plan, run_dir, report, echo=said.append)
    assert said and said[0].startswith("logged to mlflow:")
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("other").experiment_id])
    assert run.data.tags["ftspec.parent_run_id"] == "p1" and run.data.tags["ftspec.sweep_id"] == "s1"
    assert json.loads(run.data.tags["ftspec.sweep_values"]) == {"training.learning_rate": 0.001}
    assert history(client, run.info.run_id, "checkpoint/exact_match") == [[8, 0.25], [16, 0.5]]
    assert len(run.data.params["description"]) == 6000  # cut to MLflow's limit; report.json has it whole
    assert (tmp_path / "store" / "artifacts").is_dir()  # artifacts beside the database, not in the cwd


def test_reapply_logs_nothing_and_reevaluation_updates_the_same_run(tracked):
    """Last: it re-evaluates the shared run."""
    spec, run_dir, report, _ = tracked
    client = client_of(spec)
    before = only_run(client)
    proc = apply(spec)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr
    assert "logged to" not in proc.stderr
    assert len(client.get_metric_history(before.info.run_id, "loss/train")) == len(report["loss"]["train"])

    make_spec(spec.parent, ALL_THREE, eval_extra=", postprocess: [{regex: '\\s+$'}]")
    proc = apply(spec, env={"WANDB_API_KEY": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "re-evaluating" in proc.stderr and run_dir_of(spec) == run_dir
    new = json.loads((run_dir / "report.json").read_text())
    after = only_run(client)  # still one MLflow run: the same one, updated
    assert after.info.run_id == before.info.run_id
    assert history(client, after.info.run_id, "loss/train") == report["loss"]["train"]  # not logged twice
    for metric, value in new["eval"]["details"]["finetuned"]["metrics_postprocessed"].items():
        assert after.data.metrics[f"eval/finetuned/postprocessed/{metric}"] == value
    local = client.download_artifacts(after.info.run_id, "report.json", str(spec.parent / "download2"))
    assert json.loads(Path(local).read_text()) == new


def test_trackers_do_not_change_the_run_id(tmp_path):
    from ftspec.plan.identity import run_id
    from ftspec.plan.planning import plan_spec

    with_tb = plan_spec(str(make_spec(tmp_path / "a", "  - tensorboard\n"))).plan
    without = plan_spec(str(make_spec(tmp_path / "b", "  - wandb: {mode: offline}\n"))).plan
    assert with_tb.job.trainer_args["report_to"] == ["tensorboard"] and without.job.trainer_args["report_to"] == "none"
    assert run_id(with_tb) == run_id(without)
