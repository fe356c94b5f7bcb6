"""``--resume`` after a real SIGKILL: the resumed run ends exactly where an uninterrupted one does.

The training process is killed with SIGKILL as soon as a complete checkpoint (trainer_state.json) is on
disk, mid-run, possibly while it writes the next checkpoint. ``python -m ftspec.train RUN_DIR --resume``
must pick the newest complete checkpoint and reproduce the uninterrupted run's losses and step count (the
resumed and the reference run go through the same ``main`` in the test process).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from support.runs import kill_at_first_checkpoint, result, tiny_run as make_run  # noqa: E402

from ftspec.runfolder.checkpoints import newest_complete_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def train_cmd(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ftspec.train", str(run_dir), *extra]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_newest_complete_checkpoint_skips_half_written(tmp_path):
    ck = tmp_path / "checkpoints"
    for step, state in ((2, "{}"), (4, "{}"), (6, '{"glo'), (8, None), (10, "{}")):
        (ck / f"checkpoint-{step}").mkdir(parents=True)
        if state is not None:
            (ck / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
        if step != 10:  # 10: killed after the Trainer's save, before ftspec recorded the checkpoint's hashes
            (ck / f"checkpoint-{step}" / "ftspec-manifest.json").write_text('{"sha256": {}}')
    (ck / "checkpoint-x").mkdir()
    assert newest_complete_checkpoint(tmp_path) == ck / "checkpoint-4"
    assert newest_complete_checkpoint(tmp_path / "nothing") is None


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    args = dict(n=24, num_train_epochs=1, save_strategy="steps", save_steps=2)  # 6 steps, a checkpoint every 2
    reference = make_run(tmp_path / "reference", "sft", **args)
    killed = make_run(tmp_path / "killed", "sft", **args)

    kill_at_first_checkpoint(train_cmd(killed), killed, env(), timeout=120)
    assert not (killed / "adapter").exists()

    # The resumed and the uninterrupted run in this process: one interpreter start-up less for CI.
    from ftspec.train.__main__ import main

    assert main([str(killed), "--resume"]) == 0
    assert main([str(reference)]) == 0

    a, b = result(reference), result(killed)
    assert b["resumed_from"] is not None and b["resumed_from"].startswith("checkpoints/checkpoint-")
    resumed_step = int(b["resumed_from"].rsplit("-", 1)[1])
    assert 0 < resumed_step < a["global_step"]
    assert b["global_step"] == a["global_step"] == a["expected_optimizer_steps"] == 6
    # Every loss after the resume point, and the whole list (restored from the checkpoint), bit-identical.
    assert [x for x in b["loss"]["train"] if x[0] > resumed_step] == [x for x in a["loss"]["train"] if x[0] > resumed_step]
    assert b["loss"]["train"] == a["loss"]["train"]
    assert b["train_tokens_seen"] == a["train_tokens_seen"]  # TRL's token count carried over the resume
    assert (killed / "adapter" / "adapter_model.safetensors").read_bytes() == \
        (reference / "adapter" / "adapter_model.safetensors").read_bytes()


def test_resume_without_checkpoint_starts_fresh(tmp_path, monkeypatch):
    from ftspec.train.__main__ import main

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    run = make_run(tmp_path / "run", "sft", n=8, save_strategy="no")
    assert main([str(run), "--resume"]) == 0
    res = result(run)
    assert res["resumed_from"] is None and res["global_step"] == 2
    assert json.loads((run / "plan.json").read_text())["job"]["expected_optimizer_steps"] == 2
