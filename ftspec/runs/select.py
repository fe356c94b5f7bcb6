"""Checkpoints judged by the task: the holdout scored at every saved checkpoint, and the one ``eval.select_by`` picks
installed as the run's weights folder (adapter/ or model/); then the evaluation of base, parent and the selected
weights the report shows.

The trainer's final weights stay recoverable: they are the checkpoint of the last step (or, when the last step was not
checkpointed, a copy in checkpoints/checkpoint-final made before anything replaces them), and train_result.json
records which checkpoint the weights folder holds, with its new hashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ftspec.core.atomic import replace_dir, write_text_atomic
from ftspec.evaluate.holdout import evaluate_holdout, open_holdout, trained_weights, weights_dir
from ftspec.plan.model import Plan
from ftspec.runfolder import contract
from ftspec.runfolder.checkpoints import complete_checkpoints, weights_hashes

VALIDATION_LOSS = "validation_loss"
FINAL = "checkpoint-final"  # the trainer's final weights when its last step has no checkpoint
# What a checkpoint holds beyond the weights: the trainer's state, never copied into the weights folder.
TRAINER_STATE = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin", "rng_state",
                 contract.MANIFEST, "scaler.pt")


def _candidates(run_dir: Path, result: dict) -> list[tuple[int, Path | None]]:
    """(step, folder) of every checkpoint, oldest first, and the final step's: None for the final weights when they
    are still the weights folder itself and were never checkpointed."""
    found = [(int(c.name.rsplit("-", 1)[-1]), c) for c in complete_checkpoints(run_dir)]
    final_step = int(result["global_step"])
    if not any(step == final_step for step, _ in found):
        kept = run_dir / contract.CHECKPOINTS / FINAL
        found.append((final_step, kept if kept.is_dir() else None))
    return found


def loadable(folder: Path, peft: bool) -> bool:
    """Whether ``folder`` holds weights from_pretrained can load: a sharded FSDP or ZeRO-3 checkpoint does not."""
    if peft:
        return (folder / "adapter_config.json").is_file() and any(folder.glob("adapter_model.*"))
    return (folder / "config.json").is_file() and any([*folder.glob("model*.safetensors"),
                                                       *folder.glob("pytorch_model*.bin")])


def _primary_metric(plan: Plan) -> str | None:
    from ftspec.scoring.metrics import metric_name

    by = plan.spec.eval.select_by
    if by and by != VALIDATION_LOSS:
        return by
    return metric_name(plan.spec.eval.metrics[0]) if plan.spec.eval.metrics else None


def _best(points: list[tuple[int, float]], lowest: bool) -> int | None:
    """The step of the best value; ties go to the later step (more training for the same score)."""
    points = [(s, v) for s, v in points if v is not None]
    if not points:
        return None
    pick = min if lowest else max
    best = pick(v for _, v in points)
    return max(s for s, v in points if v == best)


def _disagreement(validation: list, curve: list[dict], metric: str | None, steps: set[int]) -> str | None:
    val_best = _best([(s, v) for s, v in validation if s in steps], lowest=True)
    metric_best = _best([(c["step"], c["metrics"].get(metric)) for c in curve], lowest=False) if metric else None
    at = {c["step"]: c["metrics"].get(metric) for c in curve}
    if val_best is None or metric_best is None or at.get(val_best) == at[metric_best]:
        return None  # the lowest validation loss is (one of) the best by the metric too
    return (f"validation loss is lowest at step {val_best} but {metric} is highest at step {metric_best} "
            f"({at.get(val_best, float('nan')):.3f} vs {at[metric_best]:.3f} on the holdout)")


def _copy_final_aside(run_dir: Path, plan: Plan) -> Path:
    """checkpoints/checkpoint-final: the trainer's final weights, before the weights folder holds another step."""
    dest = run_dir / contract.CHECKPOINTS / FINAL
    staged = dest.with_name(f".{FINAL}.partial")
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(weights_dir(plan, run_dir), staged)
    staged.rename(dest)
    return dest


def _install(run_dir: Path, plan: Plan, source: Path) -> None:
    """The weights folder gets ``source``'s weight files (its tokenizer files and model card stay), swapped in whole."""
    target = weights_dir(plan, run_dir)
    staged = target.with_name(f".{target.name}.selecting")
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(target, staged)
    for path in source.iterdir():
        if path.is_file() and not path.name.startswith(TRAINER_STATE):
            shutil.copy2(path, staged / path.name)
    replace_dir(staged, target)


def evaluate_and_select(plan: Plan, run_dir: Path, result: dict, parent=None,
                        echo=print) -> tuple[dict | None, dict]:
    """(the evaluation for the report, train_result.json as it now is). Scores every checkpoint when the spec asks,
    installs the selected one, then evaluates base, parent and the selected weights."""
    ev = plan.spec.eval
    holdout = open_holdout(plan, run_dir)
    by = ev.select_by
    scoring = holdout is not None and (ev.every_checkpoint or (by is not None and by != VALIDATION_LOSS))
    final_step = int(result["global_step"])
    peft = plan.job.peft is not None
    candidates = []
    for step, folder in _candidates(run_dir, result):
        if folder is None or loadable(folder, peft):
            candidates.append((step, folder))
        elif step == final_step:  # the final weights are also in the weights folder (or set aside before a swap)
            kept = run_dir / contract.CHECKPOINTS / FINAL
            candidates.append((step, kept if kept.is_dir() else None))
        else:
            echo(f"{folder.name} holds weights only its trainer can load (sharded): not scored or selected")
    curve, scored = [], {}
    if scoring:
        for step, folder in candidates:
            where = trained_weights(plan, folder or weights_dir(plan, run_dir))
            scored[step] = holdout.score(where)
            curve.append({"step": step, "path": f"{contract.CHECKPOINTS}/{folder.name if folder else FINAL}",
                          "metrics": dict(scored[step]["metrics"])})
    validation = (result.get("loss") or {}).get("validation") or []
    steps = {s for s, _ in candidates}
    if by == VALIDATION_LOSS:
        chosen = _best([(s, v) for s, v in validation if s in steps], lowest=True)
    elif by is not None:
        chosen = _best([(c["step"], c["metrics"].get(by)) for c in curve], lowest=False)
    else:
        chosen = final_step
    chosen = final_step if chosen is None else chosen
    result = _hold(plan, run_dir, result, dict(candidates), chosen, by)
    evaluation = evaluate_holdout(plan, run_dir, holdout, finetuned=scored.get(chosen), parent=parent)
    if evaluation is not None:
        evaluation["checkpoints"] = curve or None
        metric = by if by not in (None, VALIDATION_LOSS) else _primary_metric(plan)
        value = next((c["metrics"].get(metric) for c in curve if c["step"] == chosen), None) if curve else None
        held = dict(candidates).get(chosen)
        evaluation["selected"] = {
            "by": by or "final", "step": chosen,
            "checkpoint": f"{contract.CHECKPOINTS}/{held.name}" if held is not None else None,
            "metric": metric, "value": value,
            "disagreement": _disagreement(validation, curve, metric, steps) if curve else None}
        if parent is not None:
            evaluation["parent_run"] = _parent_entry(parent, evaluation.get("parent"))
    return evaluation, result


def _hold(plan: Plan, run_dir: Path, result: dict, folders: dict, chosen: int, by: str | None) -> dict:
    """Make the weights folder hold step ``chosen``; train_result.json records it. Returns the updated result."""
    held = (result.get("selected") or {}).get("step", int(result["global_step"]))
    if held == chosen:
        return result
    final_step = int(result["global_step"])
    if folders.get(final_step) is None:  # the final weights exist only in the weights folder: keep them first
        folders[final_step] = _copy_final_aside(run_dir, plan)
    _install(run_dir, plan, folders[chosen])
    weights = weights_dir(plan, run_dir)
    result = {**result, "weights_sha256": weights_hashes(weights),
              "selected": {"step": chosen, "by": by or "final",
                           "checkpoint": f"{contract.CHECKPOINTS}/{folders[chosen].name}"}}
    write_text_atomic(run_dir / contract.TRAIN_RESULT, json.dumps(result, indent=2) + "\n")
    return result


def _parent_entry(parent, scored: dict | None) -> dict:
    own = (parent.report.get("eval") or {}).get("finetuned")
    return {"run_id": parent.run_id, "name": parent.name, "folder": str(parent.folder),
            "eval": dict(scored["metrics"]) if scored else None,
            "by_scenario": scored.get("by_scenario") if scored else None,
            "own_holdout_eval": own, "own_holdout": (parent.report.get("eval") or {}).get("holdout")}
