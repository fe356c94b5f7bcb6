"""Sweeps: a spec's ``sweep:`` (and ``--set KEY=V1,V2``) expands into members, one run each. Expansion one at a time
and as a grid, identical members merged; every bad sweep or --set is a located error (or a usage error naming --set)
and nothing is planned; `plan` shows each member and totals that are the members' sums, and refuses the whole sweep
when one member cannot run; `apply` trains members one after another on builtin:tiny (a failed member does not stop
the rest; a second apply trains nothing) and `--on slurm` submits the unfinished ones as one job array on a real
one-host Slurm (skipped where tests/test_slurm.py skips)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import ROOT, run_cli
from support.project import write_project

SPEC = """version: 1
name: sw
adapter: {type: lora, rank: 4, alpha: 2}
data: {train: train.jsonl, max_length: 64}
training: {epochs: 1, batch_size: 4, learning_rate: 1.0e-3}
eval: {holdout: hold.jsonl, metrics: [exact_match], max_new_tokens: 4, baseline: false, every_checkpoint: false}
compute: {accelerator: cpu, cpu_threads: 1}
lint: {disable: [FT101, FT102, FT105, FT202, FT203, FT401, FT403, FT404]}
"""


def rows(n: int, offset: int = 0) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"say K{i}"}, {"role": "assistant", "content": f"K{i}"}]}
            for i in range(offset, offset + n)]


def project(folder, sweep: str = "") -> "os.PathLike":
    return write_project(folder, SPEC + sweep, {"train.jsonl": rows(8), "hold.jsonl": rows(2, 100)})


def at(spec, needle: str, *, in_sweep: bool = True) -> str:
    """``spec.yaml:LINE:COL`` of ``needle`` in the spec file, looked for in its sweep: section unless not ``in_sweep``."""
    text = spec.read_text()
    pos = text.index(needle, max(text.find("\nsweep:"), 0) if in_sweep else 0)
    line = text.count("\n", 0, pos) + 1
    return f"{spec.name}:{line}:{pos - text.rfind(chr(10), 0, pos)}"


def members_of(spec, sets=()):
    from ftspec.spec.load import load_spec
    from ftspec.spec.sweep import sweep_members, with_sets

    return sweep_members(with_sets(load_spec(spec), sets))


# --- expansion ---------------------------------------------------------------------------------------------------

def test_one_at_a_time_varies_each_key_alone_and_merges_identical_members(tmp_path):
    spec = project(tmp_path, """sweep:
  parameters:
    training.learning_rate: [1.0e-3, 2.0e-3, 0.001]
    training.epochs: [1, 2]
""")
    members = members_of(spec)
    # lr 1e-3 is the spec's own setting (still a member); 0.001 and epochs 1 resolve to that same spec: merged.
    assert [m.values for m in members] == [{"training.learning_rate": 0.001}, {"training.learning_rate": 0.002},
                                           {"training.epochs": 2}]
    assert [(m.index, m.of) for m in members] == [(0, 3), (1, 3), (2, 3)] and len({m.id for m in members}) == 1
    second, third = members[1].loaded, members[2].loaded
    assert second.spec.sweep is None and "sweep" not in second.raw
    assert second.spec.training.learning_rate == 0.002 and second.spec.training.epochs == 1
    assert third.spec.training.epochs == 2 and third.spec.training.learning_rate == 0.001
    # The swept key is located at its value inside sweep:, every other key where the user wrote it.
    assert str(second.locate("training", "learning_rate")) == str(spec) + at(spec, "2.0e-3")[len(spec.name):]
    assert str(third.locate("training", "epochs")) == str(spec) + at(spec, "2]")[len(spec.name):]
    assert str(second.locate("data", "max_length")) == str(spec) + at(spec, "64", in_sweep=False)[len(spec.name):]


def test_grid_is_the_cartesian_product(tmp_path):
    spec = project(tmp_path, """sweep:
  mode: grid
  parameters:
    training.learning_rate: [1.0e-3, 2.0e-3]
    adapter.rank: [4, 8, 4]
""")
    members = members_of(spec)
    assert [m.values for m in members] == [
        {"training.learning_rate": 0.001, "adapter.rank": 4}, {"training.learning_rate": 0.001, "adapter.rank": 8},
        {"training.learning_rate": 0.002, "adapter.rank": 4}, {"training.learning_rate": 0.002, "adapter.rank": 8}]
    assert [(m.loaded.spec.training.learning_rate, m.loaded.spec.adapter.rank) for m in members] == \
        [(0.001, 4), (0.001, 8), (0.002, 4), (0.002, 8)]
    # The sweep id is of the spec and the sweep: another value is another sweep.
    other = project(tmp_path / "other", """sweep:
  mode: grid
  parameters:
    training.learning_rate: [1.0e-3, 3.0e-3]
    adapter.rank: [4, 8, 4]
""")
    assert members_of(other)[0].id != members[0].id


def test_sweep_module_loads_no_torch():
    code = "import sys, ftspec.spec.sweep; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0


# --- bad sweeps: located errors, exit 1, nothing planned ------------------------------------------------------------

BAD = [
    ("training.learning_rat: [1.0e-4]", "training.learning_rat", "not a spec key (did you mean 'training.learning_rate'?)"),
    ("learning_rate: [1.0e-4]", "learning_rate:", "did you mean 'training.learning_rate'?"),
    ("training: [1]", "training:", "training is a whole section"),
    ("compute.slurm: [null]", "compute.slurm", "compute.slurm is a whole section"),
    ("name: [a, b]", "name:", "name cannot vary"),
    ("extends: [a.yaml]", "extends:", "extends cannot vary"),
    ("sweep.mode: [grid]", "sweep.mode", "sweep.mode cannot vary"),
    ("data.mix.0.ratio: [0.2]", "data.mix.0", "cannot reach into a list (sweep the whole list data.mix instead)"),
    ("training.learning_rate.x: [1]", "training.learning_rate.x", "training.learning_rate is a value, not a section"),
    ("training.learning_rate: [1.0e-4, 2]", "2]", "training.learning_rate: Input should be less than 1, got 2"),
    ("training.batch_size: [4, '8']", "'8'", "training.batch_size: Input should be a valid integer, got '8'"),
    ("training.lr_scheduler: [cosine, cosin]", "cosin]", "expected 'cosine', 'linear'"),
    ("data.train: [\"a\\0b\"]", "\"a", "a path cannot contain a NUL character"),
]


@pytest.mark.parametrize("entry, needle, says", BAD, ids=[b[0].split(":")[0] + "-" + str(i) for i, b in enumerate(BAD)])
def test_a_bad_sweep_is_a_located_error(tmp_path, entry, needle, says):
    from ftspec.spec.load import SpecErrors

    spec = project(tmp_path, f"sweep:\n  parameters:\n    {entry}\n")
    with pytest.raises(SpecErrors) as caught:
        members_of(spec)
    (error,) = caught.value.errors
    assert str(error).startswith(f"{spec.parent}/{at(spec, needle)}: sweep: ") and says in str(error), str(error)


def test_the_cli_refuses_a_bad_sweep_with_its_location(tmp_path):
    spec = project(tmp_path, "sweep:\n  parameters:\n    training.learning_rat: [1.0e-4]\n")
    for verb in ("plan", "apply"):
        done = run_cli(verb, spec)
        assert done.returncode == 1 and f"{at(spec, 'training.learning_rat')}: error FT000 sweep: training." \
            "learning_rat: not a spec key (did you mean 'training.learning_rate'?)" in done.stdout, done.stdout
        assert "Traceback" not in done.stderr and "Sweep" not in done.stdout and not (tmp_path / "runs").exists()


def test_values_refused_together_and_too_many_members_are_located(tmp_path):
    spec = project(tmp_path, """sweep:
  mode: grid
  parameters:
    method: [sft, cpt]
    data.format: [auto, messages]
""")
    done = run_cli("plan", spec)
    assert done.returncode == 1 and f"{at(spec, 'messages]')}: error FT000 sweep member method=cpt, " \
        "data.format=messages: method 'cpt' trains on plain text" in done.stdout, done.stdout
    big = project(tmp_path / "big", "sweep:\n  mode: grid\n  parameters:\n    training.seed: [1, 2, 3, 4, 5, 6, 7, 8, 9]"
                  "\n    adapter.rank: [1, 2, 3, 4, 5, 6, 7, 8]\n")
    done = run_cli("plan", big)
    assert done.returncode == 1 and f"{at(big, 'parameters')}: error FT000 sweep: 72 members (grid), more than 64" \
        in done.stdout, done.stdout


def test_members_that_train_the_same_weights_are_refused(tmp_path):
    spec = project(tmp_path, "sweep:\n  parameters:\n    eval.max_new_tokens: [4, 8]\n")
    done = run_cli("plan", spec)
    assert done.returncode == 1 and f"{at(spec, 'eval.max_new_tokens')}: error FT000 sweep members 0, 1 " \
        "(eval.max_new_tokens=4 / eval.max_new_tokens=8) train the same weights" in done.stdout, done.stdout


# --- --set ----------------------------------------------------------------------------------------------------------

def plan_json(*args):
    done = run_cli("plan", *args, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_set_overrides_one_value_and_sweeps_several(tmp_path):
    spec = project(tmp_path, "sweep:\n  parameters:\n    training.epochs: [1, 2]\n")
    # One value: the spec itself changes (a key the sweep varied is pinned; no sweep left: a plain plan).
    plain = plan_json(spec, "--set", "training.epochs=2", "--set", "adapter.rank=8")
    assert "sweep" not in plain and plain["spec"]["training"]["epochs"] == 2 and plain["spec"]["adapter"]["rank"] == 8
    # Several: a sweep parameter, added to the spec's sweep; the values are YAML scalars.
    doc = plan_json(spec, "--set", "training.learning_rate=1e-3,3e-3", "--set", "adapter.rank=8")
    assert doc["sweep"]["parameters"] == {"training.epochs": [1, 2], "training.learning_rate": [0.001, 0.003]}
    assert [m["sweep"]["values"] for m in doc["members"]] == [
        {"training.epochs": 1}, {"training.epochs": 2}, {"training.learning_rate": 0.003}]
    assert all(m["spec"]["adapter"]["rank"] == 8 for m in doc["members"])
    # Replacing the spec's own values for a key, and a grid.
    grid = plan_json(spec, "--set", "training.epochs=1,3", "--set", "adapter.target_modules=[q_proj],all-linear",
                     "--set", "sweep.mode=grid")
    assert grid["sweep"]["mode"] == "grid" and len(grid["members"]) == 4
    assert {(m["spec"]["training"]["epochs"], str(m["spec"]["adapter"]["target_modules"])) for m in grid["members"]} \
        == {(1, "['q_proj']"), (1, "all-linear"), (3, "['q_proj']"), (3, "all-linear")}


@pytest.mark.parametrize("given, says", [
    ("training.learning_rate", "expected KEY=VALUE or KEY=V1,V2,..."),
    ("training.learning_rat=1e-4", "training.learning_rat: not a spec key (did you mean 'training.learning_rate'?)"),
    ("training.learning_rate=1e-4,abc", "training.learning_rate=abc: Input should be a valid number, got 'abc'"),
    ("training.learning_rate=2", "training.learning_rate=2: Input should be less than 1, got 2"),
    ("training=1,2", "training is a whole section"),
    ("name=a,b", "name cannot vary"),
    ("adapter.rank=[1", "the values are not YAML"),
    ("sweep.mode=grid", "--set sweep.mode needs sweep parameters"),
    ("training.epochs=1,2 sweep.mode=grids", "sweep.mode: expected 'one_at_a_time' or 'grid', got 'grids'"),
])
def test_a_bad_set_says_what_was_expected(tmp_path, given, says):
    from ftspec.spec.sweep import SetError

    with pytest.raises(SetError) as caught:
        members_of(project(tmp_path), given.split(" "))
    assert says in str(caught.value)


def test_a_bad_set_is_a_usage_error_naming_it(tmp_path):
    spec = project(tmp_path)
    for verb in ("plan", "apply"):
        done = run_cli(verb, spec, "--set", "training.learning_rate=1e-4,abc")
        assert done.returncode == 2 and "Invalid value for '--set': training.learning_rate=abc: Input should be a " \
            "valid number, got 'abc'" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()


def test_one_plan_options_refuse_a_sweep_plainly(tmp_path):
    spec = project(tmp_path)
    for args in (["-o", tmp_path / "p.json"], ["--emit", tmp_path / "emitted"]):
        done = run_cli("plan", spec, "--set", "training.epochs=1,2", *args)
        assert done.returncode == 2 and "a sweep has one per member" in done.stderr, done.stderr
    done = run_cli("plan", spec, "--set", "training.epochs=2", "-o", tmp_path / "p.json")
    assert done.returncode == 2 and "write the --set values into the spec" in done.stderr
    assert not (tmp_path / "p.json").exists() and not (tmp_path / "emitted").exists()


# --- plan -----------------------------------------------------------------------------------------------------------

def test_plan_totals_are_the_members_sums(tmp_path):
    spec = project(tmp_path, "sweep:\n  parameters:\n    training.epochs: [1, 2, 3]\n    training.batch_size: [2]\n")
    doc = plan_json(spec)
    members, total = doc["members"], doc["total"]
    assert total["members"] == len(members) == 4 and doc["sweep"]["mode"] == "one_at_a_time"
    assert [m["optimizer_steps"] for m in members] == [2, 4, 6, 4]
    assert total["optimizer_steps"] == 16 == sum(m["optimizer_steps"] for m in members)
    assert total["train_tokens"] == sum(m["train_tokens"]["total"] for m in members)
    assert total["wall_time_hours"] == pytest.approx(sum(m["wall_time_hours"] for m in members))
    assert total["fits"] is None  # the CPU: no fit check
    assert [m["sweep"]["index"] for m in members] == [0, 1, 2, 3] and {m["sweep"]["of"] for m in members} == {4}
    text = run_cli("plan", spec)
    assert text.returncode == 0 and "4 members, one at a time over training.epochs, training.batch_size" in text.stdout
    total_line = [line for line in text.stdout.splitlines() if line.strip().startswith("total")][0]
    assert "16" in total_line.split()


def test_a_member_with_a_lint_error_refuses_the_whole_sweep(tmp_path):
    spec = project(tmp_path, "sweep:\n  parameters:\n    data.max_length: [64, 4096]\n")
    done = run_cli("plan", spec)
    assert done.returncode == 1 and "Sweep" not in done.stdout
    # FT005 (max_length over builtin:tiny's 2048 positions), at the value in sweep: that caused it.
    assert f"{at(spec, '4096')}: error FT005 sweep member 1 (data.max_length=4096): max_length 4096" in done.stdout
    assert "no plan for the sweep" in done.stderr and "member(s) 1 of 2" in done.stderr
    doc = run_cli("plan", spec, "--format", "json")
    assert doc.returncode == 1 and json.loads(doc.stdout)["plan"] is None
    assert run_cli("apply", spec).returncode == 1 and not (tmp_path / "runs").exists()


# --- apply ----------------------------------------------------------------------------------------------------------

def summary(done) -> list[str]:
    """The apply's summary lines (stdout also holds what libraries print there)."""
    return [line for line in done.stdout.splitlines() if line.startswith(("member ", "sweep "))]


SWEEP = ("--set", "training.learning_rate=1e-3,2e-3")


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """A two-member sweep applied three times: member 0's run folder locked by another apply (it fails, member 1
    still trains), then again (member 0 trains, member 1 has nothing to do), then again (nothing to do at all)."""
    from ftspec.runfolder.locks import RunLock
    from ftspec.runs.sweep import member_run_dirs
    from ftspec.spec.load import load_spec
    from ftspec.spec.sweep import with_sets

    # The same model cache as the CLI's (the autouse fixture is per test; this one is per module).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTSPEC_HOME", str(tmp_path_factory.getbasetemp() / "ftspec-home"))
        spec = project(tmp_path_factory.mktemp("sweep") / "proj")
        folders = member_run_dirs(with_sets(load_spec(spec), [SWEEP[1]]))
        with RunLock(folders[0][1]):
            first = run_cli("apply", spec, *SWEEP, timeout=600)
        first.reports = [(d / "report.json").is_file() for _, d in folders]
        second = run_cli("apply", spec, *SWEEP, timeout=600)
        third = run_cli("apply", spec, *SWEEP, timeout=600)
        yield spec, folders, (first, second, third)


def test_a_failed_member_does_not_stop_the_rest(applied):
    _, folders, (first, _, _) = applied
    assert first.returncode == 1, first.stdout + first.stderr[-3000:]
    lines = summary(first)
    assert lines[0].startswith("member 0  training.learning_rate=0.001  FAILED: another `ftspec apply` is working on")
    assert lines[1] == f"member 1  training.learning_rate=0.002  trained  {folders[1][1]}"
    assert lines[2].endswith(": 1 trained, 1 failed")
    assert first.reports == [False, True]


def test_each_member_is_a_run_folder_whose_report_names_its_sweep(applied):
    spec, folders, (_, second, _) = applied
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert [values for values, _ in folders] == [{"training.learning_rate": 0.001}, {"training.learning_rate": 0.002}]
    assert [d.parent for _, d in folders] == [spec.parent / "runs" / "sw"] * 2
    reports = [json.loads((d / "report.json").read_text()) for _, d in folders]
    assert [r["sweep"]["index"] for r in reports] == [0, 1] and reports[0]["sweep"]["id"] == reports[1]["sweep"]["id"]
    assert [r["sweep"]["values"] for r in reports] == [values for values, _ in folders]
    plans = [json.loads((d / "plan.json").read_text()) for _, d in folders]
    assert [p["spec"]["training"]["learning_rate"] for p in plans] == [0.001, 0.002]
    assert "member 0  training.learning_rate=0.001  trained" in second.stdout
    assert "member 1  training.learning_rate=0.002  nothing to do" in second.stdout


def test_a_second_apply_trains_nothing(applied):
    _, folders, (_, _, third) = applied
    assert third.returncode == 0 and summary(third)[-1].endswith(": 2 nothing to do"), third.stdout
    assert third.stderr.count("nothing to do:") == 2 and "ftspec.train" not in third.stderr


def test_the_array_script_runs_each_members_apply():
    from ftspec.launch.slurm import SlurmError, array_script

    def script(run_dir: str, time: str, nodes: int = 1) -> str:
        return (f"#!/bin/bash\n# comment\n#SBATCH --job-name=sw\n#SBATCH --nodes={nodes}\n#SBATCH --time={time}\n"
                f"#SBATCH --output={run_dir}/slurm-%j.out\nset -euo pipefail\ncd .\nexport OMP_NUM_THREADS=1\n"
                f"exec /py -m ftspec.cli apply {run_dir}\n")

    text = array_script([script("/r/a", "00:20:00"), script("/r/b b", "1-02:00:00")], ["/r/a", "/r/b b"],
                        job_name="sw", log_dir="/r/sweep-1")
    assert "#SBATCH --array=0-1\n" in text and "#SBATCH --nodes=1\n" in text and "#SBATCH --time=1-02:00:00\n" in text
    assert "#SBATCH --output=/r/sweep-1/slurm-%A_%a.out" in text and "export OMP_NUM_THREADS=1\n" in text
    assert "  0) exec >>/r/a/slurm-\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\".out 2>&1; " \
           "exec /py -m ftspec.cli apply /r/a ;;" in text
    assert "  1) exec >>'/r/b b'/slurm-" in text and text.count("#SBATCH --time=") == 1
    with pytest.raises(SlurmError, match="different resources"):
        array_script([script("/r/a", "00:20:00"), script("/r/b", "00:20:00", nodes=2)], ["/r/a", "/r/b"],
                     job_name="sw", log_dir="/r/s")


def test_a_sweep_on_slurm_is_one_job_array_of_the_unfinished_members(applied, tmp_path_factory):
    from support.slurm import Cluster, why_not

    if why_not() is not None and os.environ.get("FTSPEC_REQUIRE_SLURM") != "1":
        pytest.skip(why_not())
    spec, folders, _ = applied
    cluster = Cluster(tmp_path_factory.mktemp("slurm")).start()
    try:
        done = run_cli("apply", spec, "--on", "slurm", "--wait", "--set", "training.learning_rate=1e-3,2e-3,3e-3,4e-3",
                       env=cluster.env, timeout=600)
    finally:
        cluster.stop()
    assert done.returncode == 0, done.stdout + done.stderr[-3000:] + cluster.log_tail()
    lines = summary(done)
    # Members 0 and 1 finished locally: left out; 2 and 3 are the array's tasks 0 and 1.
    assert lines[0] == f"member 0  training.learning_rate=0.001  nothing to do  {folders[0][1]}"
    assert lines[1] == f"member 1  training.learning_rate=0.002  nothing to do  {folders[1][1]}"
    assert "submitted Slurm job array" in done.stderr and "(2 task(s)" in done.stderr
    job = done.stderr.split("submitted Slurm job array ")[1].split()[0]
    sweep_dirs = list((spec.parent / "runs" / "sw").glob("sweep-*"))
    (script,) = [d / "job.sbatch" for d in sweep_dirs if (d / "job.sbatch").is_file()]
    assert "#SBATCH --array=0-1" in script.read_text()
    for task, (line, lr) in enumerate(zip(lines[2:4], (0.003, 0.004))):
        member = 2 + task
        assert line.startswith(f"member {member}  training.learning_rate={lr}  trained (Slurm job {job}_{task})"), line
        run_dir = line.split()[-1]
        report = json.loads(open(f"{run_dir}/report.json").read())
        assert report["sweep"]["index"] == member and report["sweep"]["values"] == {"training.learning_rate": lr}
        assert os.path.isfile(f"{run_dir}/slurm-{job}_{task}.out") and os.path.isfile(f"{run_dir}/job.sbatch")
    assert lines[4].endswith(": 2 trained, 2 nothing to do")
