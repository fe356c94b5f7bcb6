"""What a finished training leaves: loss curves, the best checkpoint, the overfitting verdict, the final weights
(staged, then renamed into place), train_error.json when it failed, and the peak memory."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from ftspec.core.atomic import replace_dir, write_text_atomic
from ftspec.runfolder import contract


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def loss_curves(log_history: list[dict]) -> tuple[list[list], list[list]]:
    train = [[e["step"], _finite(e["loss"])] for e in log_history if "loss" in e and "step" in e]
    validation = [[e["step"], _finite(e["eval_loss"])] for e in log_history if "eval_loss" in e and "step" in e]
    return train, validation


def reward_curves(log_history: list[dict]) -> dict | None:
    """GRPO's logged rewards as curves: the mean reward, each reward function's mean and the mean completion length
    (``[step, value]``); None for a trainer that logs no reward."""
    logged = [e for e in log_history if "reward" in e and "step" in e]
    if not logged:
        return None
    names = sorted({k[len("rewards/"):-len("/mean")] for e in logged for k in e
                    if k.startswith("rewards/") and k.endswith("/mean")})
    return {"reward": [[e["step"], _finite(e["reward"])] for e in logged],
            "by_reward": {n: [[e["step"], _finite(e[f"rewards/{n}/mean"])] for e in logged if f"rewards/{n}/mean" in e]
                          for n in names},
            "completion_length": [[e["step"], _finite(e["completions/mean_length"])] for e in logged
                                  if "completions/mean_length" in e]}


def best_checkpoint(run_dir: Path, validation: list[list]) -> str | None:
    """checkpoints/checkpoint-N of the lowest validation loss among the checkpoints still on disk."""
    kept = [(loss, step) for step, loss in validation if loss is not None
            and (run_dir / contract.CHECKPOINTS / f"checkpoint-{step}" / "trainer_state.json").is_file()]
    return f"{contract.CHECKPOINTS}/checkpoint-{min(kept)[1]}" if kept else None


def overfitting(train: list[list], validation: list[list]) -> bool:
    """The validation loss rose over the last evaluation interval while the mean train loss fell."""
    val = [(s, v) for s, v in validation if v is not None]
    if len(val) < 2:
        return False
    (s0, v0), (s1, v1) = val[-2], val[-1]
    start = val[-3][0] if len(val) >= 3 else 0
    before = [v for s, v in train if v is not None and start < s <= s0]
    last = [v for s, v in train if v is not None and s0 < s <= s1]
    if not before or not last:
        return False
    return v1 > v0 and sum(last) / len(last) < sum(before) / len(before)


def save_final_weights(trainer, run_dir: Path) -> str:
    """adapter/ (PEFT) or model/ (full), with the tokenizer: staged in a hidden folder, then renamed."""
    from peft import PeftModel

    name = contract.weights_folder(isinstance(trainer.model, PeftModel))
    dest = run_dir / name
    partial = run_dir / f".{name}.partial"
    if trainer.is_world_process_zero():
        shutil.rmtree(partial, ignore_errors=True)
    trainer.save_model(str(partial))  # every process: FSDP/ZeRO gather the weights collectively
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        replace_dir(partial, dest)
    return name


def write_error(run_dir: Path, error: str, message: str) -> None:
    """RUN_DIR/train_error.json: why a run failed, for a launcher that only sees accelerate's exit code 1."""
    try:
        write_text_atomic(run_dir / contract.TRAIN_ERROR, json.dumps({"error": error, "message": message}, indent=2) + "\n")
    except OSError:
        pass


def peak_memory_gib() -> dict:
    """This process's peak: CUDA's allocator high-water mark on a GPU, resident set size on the CPU."""
    import resource

    import torch

    out = {"host_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)}
    if torch.cuda.is_available():
        out["device_allocated"] = round(torch.cuda.max_memory_allocated() / 1024**3, 3)
        out["device_reserved"] = round(torch.cuda.max_memory_reserved() / 1024**3, 3)
    return out
