"""Fault scenarios of a real apply: damaged checkpoints, weights and reports, kills and signals, a lock held
by a live trainer, edited saved plans. Each ends in the uninterrupted run's exact result or a clear refusal.

One small project is trained once (module fixture); each scenario damages a copy of its finished folder
and applies again, so most scenarios retrain at most one epoch.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")

from support import ROOT  # noqa: E402
from support.apply import apply, make_project, run_dirs  # noqa: E402

from ftspec.runfolder import contract  # noqa: E402
from ftspec.runfolder.checkpoints import complete_checkpoints  # noqa: E402
from ftspec.runfolder.locks import TrainerLock, trainer_alive  # noqa: E402


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    spec = make_project(tmp_path_factory.mktemp("faults") / "proj", n=32, epochs=2)
    proc = apply(spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dirs(spec)
    assert len(complete_checkpoints(run_dir)) == 2
    return spec, run_dir


def copy_of(reference, dest: Path) -> tuple[Path, Path]:
    spec, _ = reference
    shutil.copytree(spec.parent, dest)
    (run_dir,) = run_dirs(dest / spec.name)
    return dest / spec.name, run_dir


def unfinish(run_dir: Path) -> None:
    """What a run killed before its end leaves: no report, no training result, no final weights."""
    for name in ("report.json", "train_result.json"):
        (run_dir / name).unlink()
    shutil.rmtree(run_dir / "adapter")


def adapter_bytes(run_dir: Path) -> bytes:
    return (run_dir / "adapter" / "adapter_model.safetensors").read_bytes()


def flip(path: Path, n: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    for i in range(start, min(start + n, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, other bytes


@pytest.mark.parametrize("damage", ["flip-weights", "empty-state"])
def test_damaged_newest_checkpoint_falls_back_to_the_older_one(reference, tmp_path, damage):
    spec, run_dir = copy_of(reference, tmp_path / "p")
    unfinish(run_dir)
    older, newest = complete_checkpoints(run_dir)
    if damage == "flip-weights":
        flip(newest / "adapter_model.safetensors")
    elif damage == "empty-optimizer":
        (newest / "optimizer.pt").write_bytes(b"")
    else:
        (newest / "trainer_state.json").write_text("{}")
    proc = apply(spec)
    assert proc.returncode == 0, proc.stderr
    assert f"checkpoint {newest.name} is damaged" in proc.stderr
    assert f"resuming {run_dir} from {older.name}" in proc.stderr
    assert (run_dir / "checkpoints" / f"corrupt-{newest.name}").is_dir()
    assert adapter_bytes(run_dir) == adapter_bytes(reference[1])
    assert "Traceback" not in proc.stderr


def test_damaged_final_weights_are_trained_again(reference, tmp_path):
    spec, run_dir = copy_of(reference, tmp_path / "p")
    (run_dir / "report.json").unlink()
    weights = run_dir / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    proc = apply(spec)
    assert proc.returncode == 0, proc.stderr
    assert "the final weights cannot be trusted" in proc.stderr and "resuming" in proc.stderr
    assert adapter_bytes(run_dir) == adapter_bytes(reference[1])


def test_same_size_corruption_of_finished_weights_is_not_trusted(reference, tmp_path):
    spec, run_dir = copy_of(reference, tmp_path / "p")
    flip(run_dir / "adapter" / "adapter_model.safetensors")
    proc = apply(spec)
    assert proc.returncode == 0, proc.stderr
    assert "do not match report.json" in proc.stderr and "cannot be trusted" in proc.stderr
    assert adapter_bytes(run_dir) == adapter_bytes(reference[1])


def test_truncated_report_is_evaluated_again_without_training(reference, tmp_path):
    spec, run_dir = copy_of(reference, tmp_path / "p")
    report = run_dir / "report.json"
    report.write_text(report.read_text()[:200])
    proc = apply(spec)
    assert proc.returncode == 0, proc.stderr
    assert "report.json is unreadable" in proc.stderr and "re-evaluating the finished weights" in proc.stderr
    assert "resuming" not in proc.stderr
    a = json.loads((reference[1] / "report.json").read_text())
    b = json.loads(report.read_text())
    assert b["eval"]["finetuned"] == a["eval"]["finetuned"]  # report.json format 2: metric name -> rate
    assert apply(spec).stderr.count("nothing to do") == 1


def test_fixing_the_evaluation_re_evaluates_the_same_weights(reference, tmp_path):
    spec, run_dir = copy_of(reference, tmp_path / "p")
    trained = (run_dir / "train_result.json").read_bytes()
    spec.write_text(spec.read_text().replace("max_new_tokens: 8", "max_new_tokens: 4"))
    proc = apply(spec)
    assert proc.returncode == 0, proc.stderr
    assert run_dirs(spec) == [run_dir]  # the same run: evaluation settings are not training inputs
    assert "re-evaluating the finished weights" in proc.stderr and "resuming" not in proc.stderr
    assert (run_dir / "train_result.json").read_bytes() == trained
    assert json.loads((run_dir / "report.json").read_text())["eval_settings_sha256"] != json.loads(
        (reference[1] / "report.json").read_text())["eval_settings_sha256"]


def test_export_of_a_run_without_weights_is_a_clear_error(reference, tmp_path):
    _, run_dir = copy_of(reference, tmp_path / "p")
    shutil.rmtree(run_dir / "adapter")
    proc = subprocess.run([sys.executable, "-m", "ftspec.cli", "export", str(run_dir)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode != 0 and "no adapter/ or model/ folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_apply_waits_for_a_trainer_left_behind_then_refuses_if_it_lives_on(reference, tmp_path):
    spec, run_dir = copy_of(reference, tmp_path / "p")
    unfinish(run_dir)
    with TrainerLock(run_dir):
        proc = apply(spec, env={"FTSPEC_TRAINER_EXIT_WAIT": "1"})
    assert "left by an apply that is gone: waiting up to 1 s for it to exit" in proc.stderr
    assert proc.returncode == 1 and "a trainer of this run is working on" in proc.stderr and "(waited 1 s)" in proc.stderr
    assert not (run_dir / "train_result.json").exists()


def test_apply_started_at_once_after_a_kill_waits_for_the_dying_trainer_and_resumes(reference, tmp_path):
    """What a Slurm requeue does: the new apply starts while the old trainer still holds its lock."""
    spec, run_dir = copy_of(reference, tmp_path / "p")
    unfinish(run_dir)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from ftspec.runfolder.locks import TrainerLock; "
                               "lock = TrainerLock(Path(sys.argv[1])).__enter__(); print('held', flush=True); "
                               "time.sleep(3)", str(run_dir)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout.readline().strip() == "held"
    proc = apply(spec)
    holder.wait()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "waiting up to 60 s for it to exit" in proc.stderr and "the earlier trainer has exited" in proc.stderr
    assert json.loads((run_dir / "report.json").read_text())["actual"]["optimizer_steps"] > 0


def test_edited_saved_plan_is_refused(reference, tmp_path):
    spec, _ = copy_of(reference, tmp_path / "p")
    saved = tmp_path / "plan.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "ftspec.cli", "plan", spec.name, "-o", str(saved)], cwd=spec.parent,
                   check=True, capture_output=True, env=env)
    doc = json.loads(saved.read_text())
    assert Path(doc["spec_file"]).is_absolute()  # resolved: applies from any folder
    # From another folder, the unchanged saved plan finds its finished run.
    other = subprocess.run([sys.executable, "-m", "ftspec.cli", "apply", str(saved)], cwd=tmp_path,
                           capture_output=True, text=True, env=env)
    assert other.returncode == 0 and "nothing to do" in other.stderr, other.stderr
    doc["job"]["trainer_args"]["learning_rate"] = 0.5
    saved.write_text(json.dumps(doc))
    proc = apply(saved)
    assert proc.returncode == 1 and "edited after `ftspec plan -o`" in proc.stderr


def test_a_json_spec_is_applied_as_a_spec(reference, tmp_path):
    from ftspec.spec.load import load_spec

    spec, _ = copy_of(reference, tmp_path / "p")
    as_json = spec.with_suffix(".json")
    as_json.write_text(json.dumps(load_spec(spec).raw))
    proc = apply(as_json)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr, proc.stderr


def _start_apply(spec: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ftspec.cli", "apply", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            start_new_session=True)


def _wait_for_first_checkpoint(proc: subprocess.Popen, spec: Path) -> Path:
    deadline = time.time() + 300
    while time.time() < deadline:
        dirs = run_dirs(spec)
        if dirs and list((dirs[0] / "checkpoints").glob("checkpoint-*/" + contract.MANIFEST)):
            return dirs[0]
        assert proc.poll() is None, "apply finished before it could be stopped"
        time.sleep(0.1)
    pytest.fail("no checkpoint within 300 s")


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c", "sigkill-apply-only"])
def test_stopping_apply_stops_its_trainer_and_resumes_to_the_same_result(reference, tmp_path, how):
    spec = make_project(tmp_path / "p", n=32, epochs=2)
    proc = _start_apply(spec)
    run_dir = _wait_for_first_checkpoint(proc, spec)
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the foreground group, not the trainer's
    else:
        proc.kill()  # apply alone: its trainer must not outlive it
    _, err = proc.communicate(timeout=120)
    if how == "sigkill-apply-only":
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, err
        assert "interrupted" in err and "rerun `ftspec apply` to resume" in err
        assert "Traceback" not in err and "CalledProcessError" not in err
    deadline = time.time() + 60
    while trainer_alive(run_dir) and time.time() < deadline:  # the trainer dies with its parent
        time.sleep(0.2)
    assert trainer_alive(run_dir) is None
    if how != "sigterm":
        return  # the resume after it is the same code path as after SIGTERM; CI time is spent once
    again = apply(spec)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr
    assert adapter_bytes(run_dir) == adapter_bytes(reference[1])


def test_leftover_temp_files_are_removed_and_modes_follow_the_umask(tmp_path):
    from ftspec.core.atomic import clean_temp_files, write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    (tmp_path / "data").mkdir()
    (tmp_path / ".plan.json.tmp-abc123_x").write_text("half")
    (tmp_path / "data" / ".train.jsonl.tmp-zz9").write_text("half")
    (tmp_path / ".keep").write_text("mine")
    assert clean_temp_files(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [".keep", "a.json"]


def _loaded_plan(spec: Path):
    from ftspec.spec.load import load_spec
    from ftspec.plan.compile import build_plan

    loaded = load_spec(spec)
    return loaded, build_plan(loaded)


def _disk_full_on(monkeypatch, predicate) -> None:
    import errno

    from ftspec.core import atomic

    real = atomic.write_bytes_atomic

    def write(path, data):
        if predicate(Path(path)):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(atomic, "write_bytes_atomic", write)  # write_text_atomic writes through it


def test_full_disk_during_evaluation_is_one_line_and_the_next_apply_finishes(reference, tmp_path, monkeypatch):
    from ftspec.runs.apply import apply_plan
    from ftspec.runs.errors import ApplyError

    spec, run_dir = copy_of(reference, tmp_path / "p")
    (run_dir / "report.json").unlink()  # as if the disk filled up after training, before the report
    loaded, plan = _loaded_plan(spec)
    with monkeypatch.context() as m:
        _disk_full_on(m, lambda p: p.parent.name == "eval")
        with pytest.raises(ApplyError) as err:
            apply_plan(loaded, plan, echo=lambda line: None)
    assert "the disk is full" in err.value.message and "rerun `ftspec apply`" in err.value.message
    assert not (run_dir / "report.json").exists()
    proc = apply(spec)
    assert proc.returncode == 0 and "re-evaluating the finished weights" in proc.stderr, proc.stderr


def test_full_disk_while_writing_inputs_is_one_line(tmp_path, monkeypatch):
    from ftspec.runs.apply import apply_plan
    from ftspec.runs.errors import ApplyError

    spec = make_project(tmp_path / "p", n=32, epochs=2)
    loaded, plan = _loaded_plan(spec)
    _disk_full_on(monkeypatch, lambda p: p.name == "train.jsonl")
    with pytest.raises(ApplyError) as err:
        apply_plan(loaded, plan, echo=lambda line: None)
    assert "the disk is full" in err.value.message
    (run_dir,) = run_dirs(spec)
    assert not (run_dir / "data" / "train.jsonl").exists() and not list(run_dir.rglob(".*.tmp-*"))


def test_output_dir_that_is_not_a_folder_is_a_located_error(tmp_path):
    spec = make_project(tmp_path / "p", extra="output: {dir: /dev/null}\n")
    proc = apply(spec)
    assert proc.returncode == 1 and "output.dir: /dev/null is not a folder" in proc.stderr
    assert "ftspec.yaml:" in proc.stderr and "Traceback" not in proc.stderr


def test_a_trainer_crash_is_one_line_with_the_traceback_in_a_file(tmp_path, capfd):
    from ftspec.runs.errors import ApplyError
    from ftspec.runs.inputs import write_inputs
    from ftspec.runs.training import run_training

    spec = make_project(tmp_path / "p", n=32, epochs=1)
    loaded, plan = _loaded_plan(spec)
    run_dir = tmp_path / "run"
    bound = write_inputs(loaded, plan, run_dir)
    stored = json.loads((run_dir / "plan.json").read_text())
    (tmp_path / "empty-model").mkdir()
    stored["job"]["model"]["base"] = str(tmp_path / "empty-model")  # no config.json: from_pretrained raises
    (run_dir / "plan.json").write_text(json.dumps(stored))
    with pytest.raises(ApplyError) as err:
        run_training(bound, run_dir, resume=False)
    assert err.value.message.startswith("training failed: ") and "rerun `ftspec apply`" in err.value.message
    err_text = capfd.readouterr().err
    assert "Traceback" not in err_text and "CalledProcessError" not in err_text
    assert "Traceback" in (run_dir / "train_traceback.txt").read_text()
