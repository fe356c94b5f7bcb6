"""GRPO runs for real: resume after SIGKILL ends where an uninterrupted run does, and a reward that fails stops
training with one line naming the reward and the training sample (exit 6), the checkpoints so far kept.

The run folders are written as `ftspec apply` writes them (``write_inputs``) from a spec on builtin:tiny.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from support import run_cli  # noqa: E402
from support.runs import kill_at_first_checkpoint, result  # noqa: E402

from ftspec.plan.compile import build_plan  # noqa: E402
from ftspec.runs.inputs import write_inputs  # noqa: E402
from ftspec.spec.load import load_spec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORDS = "alpha beta gamma delta epsilon zeta eta theta".split()

REWARD_PY = '''
def score(prompts, completions, answer, trainer_state, **kwargs):
    if trainer_state.epoch >= 1 and any(a == "boom" for a in answer):  # from the second epoch on
        raise ValueError("cannot score " + repr(answer))
    return [float(len(c[0]["content"]) < 6) for c in completions]
'''


def write_spec(folder: Path, *, n: int = 16, epochs: int = 3, rewards: list | None = None, boom_at: int | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"prompt": [{"role": "user", "content": f"{WORDS[i % 8]} {WORDS[(3 * i) % 8]}"}],
             "answer": "boom" if i == boom_at else WORDS[i % 8]} for i in range(n)]
    (folder / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "rw.py").write_text(REWARD_PY)
    spec = {"version": 1, "name": "g", "method": "grpo", "adapter": {"type": "lora", "rank": 2, "alpha": 2},
            "data": {"train": "p.jsonl", "max_length": 64},
            "rewards": rewards or [{"metric": "contains", "reference": "answer"}, {"length_penalty": 3}],
            "grpo": {"num_generations": 2, "max_completion_length": 6},
            "training": {"epochs": epochs, "batch_size": 4, "learning_rate": 1e-3, "seed": 7},
            "compute": {"accelerator": "cpu", "cpu_threads": 1},
            "lint": {"disable": ["FT120", "FT105", "FT403"]}}
    (folder / "spec.yaml").write_text(json.dumps(spec))
    return folder / "spec.yaml"


def run_folder(spec_path: Path, run_dir: Path) -> Path:
    loaded = load_spec(spec_path)
    write_inputs(loaded, build_plan(loaded), run_dir)
    return run_dir


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_grpo_resume_after_sigkill_matches_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    spec = write_spec(tmp_path / "project")
    reference = run_folder(spec, tmp_path / "reference")
    killed = run_folder(spec, tmp_path / "killed")

    kill_at_first_checkpoint([sys.executable, "-m", "ftspec.train", str(killed)], killed, env())

    from ftspec.train.__main__ import main

    assert main([str(killed), "--resume"]) == 0
    assert main([str(reference)]) == 0
    a, b = result(reference), result(killed)
    assert b["resumed_from"] and 0 < int(b["resumed_from"].rsplit("-", 1)[1]) < a["global_step"]
    assert b["global_step"] == a["global_step"] == a["expected_optimizer_steps"] == 24
    # The same completions sampled and rewarded after the resume, so the same rewards, losses and final weights.
    assert b["rewards"] == a["rewards"] and b["loss"]["train"] == a["loss"]["train"]
    assert b["train_tokens_seen"] == a["train_tokens_seen"] > 0  # GRPOTrainer's own count, kept across the resume
    assert (killed / "adapter" / "adapter_model.safetensors").read_bytes() == \
        (reference / "adapter" / "adapter_model.safetensors").read_bytes()


def test_a_failing_reward_stops_training_with_one_line_and_keeps_the_checkpoints(tmp_path):
    # The user's reward raises on sample 11 (of 16) from the second epoch on: epoch 1 trains and is checkpointed.
    spec = write_spec(tmp_path, epochs=2, boom_at=10, rewards=[{"python": "rw:score"}])
    done = run_cli("apply", spec, timeout=600)
    assert done.returncode == 6, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("ftspec: ")]
    assert line.startswith("ftspec: training stopped: reward 'score' failed on training sample 11: ValueError: "
                           "cannot score ['boom'"), line
    (run_dir,) = (tmp_path / "runs" / "g").iterdir()
    error = json.loads((run_dir / "train_error.json").read_text())
    assert error["error"] == "reward_failed" and "training sample 11" in error["message"]
    assert not (run_dir / "adapter").exists() and not (run_dir / "report.json").exists()
    from ftspec.runfolder.checkpoints import newest_complete_checkpoint

    assert newest_complete_checkpoint(run_dir).name == "checkpoint-8"  # the end of epoch 1, kept


@pytest.mark.parametrize("returns, says", [
    ("[1.0]", "returned 1 values for 2 completions"),
    ("[1.0, 'high']", "returned 'high' for completion 2 of the batch"),
    ("[1.0, float('nan')]", "returned nan for completion 2"),
    ("1.0", "returned a float, not a list of 2 numbers"),
])
def test_a_reward_returning_the_wrong_thing_names_the_reward_and_sample(tmp_path, returns, says):
    from ftspec.scoring.rewards import RewardError, build_rewards, checked

    module = f"bad_{abs(hash(returns))}"  # one module per case: an imported module stays in sys.modules
    (tmp_path / f"{module}.py").write_text(f"def f(prompts, completions, **kwargs):\n    return {returns}\n")
    (fn,) = build_rewards([{"python": f"{module}:f", "name": "f"}], tmp_path)
    with pytest.raises(RewardError) as err:
        checked(fn, "row")(prompts=["p", "p"], completions=["a", "b"], row=[4, 5], answer=["x", "y"])
    assert str(err.value).startswith("reward 'f' failed on training sample") and says in str(err.value)


def test_checked_rewards_pass_numbers_and_none_and_hide_the_row_column(tmp_path):
    from ftspec.scoring.rewards import build_rewards, checked

    (tmp_path / "ok.py").write_text("def f(prompts, completions, answer):\n    return [1, None]\n")
    (fn,) = build_rewards([{"python": "ok:f", "name": "f"}], tmp_path)
    assert checked(fn, "row")(prompts=["p", "p"], completions=["a", "b"], row=[0, 1], answer=["x", "y"]) == [1.0, None]
