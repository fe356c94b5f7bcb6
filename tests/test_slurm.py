"""A real one-host Slurm (Debian's slurm-wlm 22.05 and munge, started in a temp folder): `ftspec apply --on slurm`
submits the whole apply as one job, which trains, evaluates and writes the report, leaving the finished run folder a
local apply then finds; a job requeued mid-training (`scontrol requeue`) resumes from its newest complete checkpoint
to the same weights as an uninterrupted run; a job the cluster would refuse or kill is a located plan error.
Without root or without the packages the tests skip and say why (`.ci/run`, as root, installs them)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from support import run_cli
from support.project import write_project
from support.slurm import Cluster, why_not

# `.ci/run` (root) installs Slurm and sets FTSPEC_REQUIRE_SLURM=1: there a missing Slurm fails instead of skipping.
REQUIRED = os.environ.get("FTSPEC_REQUIRE_SLURM") == "1"
pytestmark = pytest.mark.skipif(why_not() is not None and not REQUIRED, reason=why_not() or "")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("slurm")).start()
    yield c
    c.stop()


def project(folder: Path, *, epochs: int = 2, batch: int = 4, slurm: dict | None = None, nodes: int = 1,
            n: int = 24) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"say K{i}"}, {"role": "assistant", "content": f"K{i}"}]}
            for i in range(n)]
    holdout = [{"messages": [{"role": "user", "content": f"say K{i}"}, {"role": "assistant", "content": f"K{i}"}]}
               for i in range(n + 100, n + 104)]
    return write_project(folder, {
        "version": 1, "name": "sl", "adapter": {"type": "lora", "rank": 4, "alpha": 2},
        "data": {"train": "train.jsonl", "max_length": 64},
        "training": {"epochs": epochs, "batch_size": batch, "learning_rate": 1e-3},
        "eval": {"holdout": "hold.jsonl", "metrics": ["exact_match"], "max_new_tokens": 4},
        "compute": {"accelerator": "cpu", "cpu_threads": 1, "nodes": nodes,
                    "slurm": slurm if slurm is not None else {"partition": "debug"}},
        "lint": {"disable": ["FT101", "FT102", "FT105", "FT401", "FT404", "FT202"]}},
        {"train.jsonl": rows, "hold.jsonl": holdout})


def the_run(folder: Path) -> Path:
    (run_dir,) = [p for p in (folder / "runs" / "sl").iterdir() if p.is_dir()]
    return run_dir


def test_a_slurm_job_is_a_whole_apply(cluster, tmp_path):
    spec = project(tmp_path)
    done = run_cli("apply", spec, "--on", "slurm", "--wait", env=cluster.env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + cluster.log_tail()
    assert "submitted Slurm job" in done.stderr and "COMPLETED" in done.stderr
    run_dir = the_run(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["actual"]["optimizer_steps"] == report["plan"]["optimizer_steps"] == 12
    assert report["eval"]["finetuned"] is not None and (run_dir / "report.html").is_file()
    script = (run_dir / "job.sbatch").read_text()
    # The plan's estimate, its upper band doubled, plus 15 minutes; the partition; requeue-safe; this Python.
    assert "#SBATCH --time=00:15:00" in script and "#SBATCH --partition=debug" in script
    assert "#SBATCH --requeue" in script and f"-m ftspec.cli apply {run_dir}" in script
    # A later local apply and report find the finished run folder the cluster left.
    again = run_cli("apply", spec, env=cluster.env, timeout=600)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert run_cli("report", run_dir).returncode == 0


def test_a_requeued_job_resumes_to_the_uninterrupted_result(cluster, tmp_path):
    spec = project(tmp_path / "cluster", epochs=6, batch=1)  # 144 steps, a checkpoint every 24
    reference = project(tmp_path / "local", epochs=6, batch=1)
    done = run_cli("apply", spec, "--on", "slurm", env=cluster.env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = the_run(tmp_path / "cluster")
    job = (run_dir / "slurm_job_id").read_text().strip()
    deadline = time.monotonic() + 300
    while not list((run_dir / "checkpoints").glob("checkpoint-*/ftspec-manifest.json")):
        assert time.monotonic() < deadline, cluster.log_tail()
        time.sleep(0.1)
    assert cluster.run("scontrol", "requeue", job).returncode == 0
    # Slurm holds a requeued job until its BeginTime (about two minutes); an operator may release it at once.
    while "JobState=PENDING" not in cluster.run("scontrol", "show", "job", job, "-o").stdout:
        time.sleep(0.2)
    deadline = time.monotonic() + 600  # the whole apply again, on a machine other test files keep busy
    while True:
        state = cluster.run("scontrol", "show", "job", job, "-o").stdout
        if (run_dir / "report.json").is_file() and "JobState=COMPLETED" in state:
            break
        if "JobState=PENDING" in state:  # released again: an update racing the requeue can leave a BeginTime
            cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now")
        assert time.monotonic() < deadline, state + (run_dir / f"slurm-{job}.out").read_text()[-2000:]
        time.sleep(0.5)
    log = (run_dir / f"slurm-{job}.out").read_text()
    assert "interrupted (SIGTERM)" in log and "resuming" in log
    report = json.loads((run_dir / "report.json").read_text())
    assert report["actual"]["resumed_from"] is not None and report["actual"]["optimizer_steps"] == 144
    assert run_cli("apply", reference, timeout=600).returncode == 0
    assert (run_dir / "adapter" / "adapter_model.safetensors").read_bytes() == \
        (the_run(tmp_path / "local") / "adapter" / "adapter_model.safetensors").read_bytes()


@pytest.mark.parametrize("slurm, nodes, says", [
    ({"partition": "debug", "time": 1}, 1, "compute.slurm.time is 1 minutes, under the plan's wall-time estimate"),
    ({"partition": "debug"}, 2, "2 nodes asked, but partition debug has 1 (sinfo)"),
    ({"partition": "debug", "tme": "1:00:00"}, 1, "compute.slurm.tme: unknown key (did you mean 'time'?)"),
    ({"partition": "debug", "time": "an hour"}, 1, "compute.slurm.time: expected a Slurm time limit"),
])
def test_a_job_the_cluster_would_refuse_or_kill_is_a_located_error(cluster, tmp_path, slurm, nodes, says):
    spec = project(tmp_path, epochs=100, batch=1, slurm=slurm, nodes=nodes, n=3000)  # minutes of CPU training
    done = run_cli("plan", spec, env=cluster.env)
    assert done.returncode == 1 and says in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "spec.yaml:" in done.stdout + done.stderr


def test_without_sbatch_the_submission_is_one_line(tmp_path):
    spec = project(tmp_path)
    python_dir = str(Path(shutil.which("python3") or "/usr/bin/python3").parent)
    done = run_cli("apply", spec, "--on", "slurm", env={"PATH": python_dir if shutil.which("sbatch") is None else
                                                      "/nonexistent"}, timeout=600)
    assert done.returncode == 1 and "sbatch is not on the PATH" in done.stderr and "Traceback" not in done.stderr
