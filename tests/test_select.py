"""Checkpoint selection's rules, on run folders laid out by hand (the end-to-end selection is in test_incremental):
which checkpoints are candidates, which can be loaded, ties, and when validation loss and the metric disagree."""

from __future__ import annotations

import json

from ftspec.runfolder.contract import MANIFEST
from ftspec.runs import select


def _checkpoint(run_dir, step: int, files=("adapter_config.json", "adapter_model.safetensors")):
    folder = run_dir / "checkpoints" / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    (folder / MANIFEST).write_text(json.dumps({"sha256": {}}))
    for name in files:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return folder


def test_candidates_are_the_checkpoints_and_the_final_weights(tmp_path):
    four, eight = _checkpoint(tmp_path, 4), _checkpoint(tmp_path, 8)
    (tmp_path / "checkpoints" / "checkpoint-9").mkdir()  # cut short by a kill: no trainer_state.json
    assert select._candidates(tmp_path, {"global_step": 8}) == [(4, four), (8, eight)]
    # The last step was not checkpointed: the final weights are the weights folder (None) until set aside.
    assert select._candidates(tmp_path, {"global_step": 10}) == [(4, four), (8, eight), (10, None)]
    kept = tmp_path / "checkpoints" / select.FINAL
    kept.mkdir()
    assert select._candidates(tmp_path, {"global_step": 10})[-1] == (10, kept)


def test_sharded_checkpoints_cannot_be_scored(tmp_path):
    assert select.loadable(_checkpoint(tmp_path, 1), peft=True)
    assert not select.loadable(_checkpoint(tmp_path, 2, files=("pytorch_model_fsdp_0/__0_0.distcp",)), peft=True)
    assert select.loadable(_checkpoint(tmp_path, 3, files=("config.json", "model.safetensors")), peft=False)
    assert not select.loadable(_checkpoint(tmp_path, 4, files=("config.json", "global_step4/zero_pp_rank_0.pt")),
                               peft=False)


def test_ties_go_to_the_later_step_and_missing_scores_are_skipped():
    assert select._best([(4, 0.5), (8, 0.75), (12, 0.75), (16, None)], lowest=False) == 12
    assert select._best([(4, 0.2), (8, 0.1), (12, 0.1)], lowest=True) == 12
    assert select._best([(4, None)], lowest=False) is None


def test_disagreement_only_when_the_lowest_validation_loss_scores_worse():
    curve = [{"step": 4, "metrics": {"m": 0.5}}, {"step": 8, "metrics": {"m": 0.75}}, {"step": 12, "metrics": {"m": 0.75}}]
    note = select._disagreement([[4, 0.1], [8, 0.2], [12, 0.3]], curve, "m", {4, 8, 12})
    assert note == ("validation loss is lowest at step 4 but m is highest at step 12 (0.500 vs 0.750 on the "
                    "holdout)")
    # The lowest validation loss at a step tied for the best metric: no disagreement.
    assert select._disagreement([[4, 0.3], [8, 0.1], [12, 0.2]], curve, "m", {4, 8, 12}) is None
