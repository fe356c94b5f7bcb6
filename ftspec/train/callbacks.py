"""The callbacks ftspec adds to every TRL trainer: the run guard (NaN/inf stop, token count across a resume), the
checkpoint manifest, and one progress line per stretch of steps when there is no progress bar."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

from ftspec.runfolder.checkpoints import write_manifest
from ftspec.train.job import log


class RunGuard(TrainerCallback):
    """Stops on a NaN/inf loss, and keeps TRL's token count across a resume.

    Per optimizer step it reads the loss the Trainer accumulates anyway (one scalar; one scalar all-reduce
    with several processes so that every rank stops on the same step), instead of the Trainer's own
    per-micro-batch NaN filter, which ``trainer_config`` turns off.
    TRL counts non-padding tokens in ``trainer._total_train_tokens`` but restarts it at 0 on resume; the count
    is mirrored into ``state.num_input_tokens_seen`` (saved in every checkpoint's trainer_state.json, unused
    by the Trainer while ``include_num_input_tokens_seen`` is "no") and restored from there.
    """

    def __init__(self, tokens_in_state: bool = False) -> None:
        # GRPOTrainer counts prompt and completion tokens in state.num_input_tokens_seen itself (and keeps it in
        # every checkpoint); its _total_train_tokens stays 0.
        self.tokens_in_state = tokens_in_state
        self.trainer = None
        self.nan_step: int | None = None
        self.tokens_at_start = 0
        self._mirror_tokens = False

    def attach(self, trainer) -> None:
        self.trainer = trainer
        self._mirror_tokens = (not self.tokens_in_state and hasattr(trainer, "_total_train_tokens")
                               and trainer.args.include_num_input_tokens_seen in ("no", False))

    def tokens(self, state) -> int:
        if not self.tokens_in_state and self.trainer is not None and hasattr(self.trainer, "_total_train_tokens"):
            return int(self.trainer._total_train_tokens)
        return int(state.num_input_tokens_seen)

    def on_train_begin(self, args, state, control, **kwargs):
        if self._mirror_tokens:
            self.trainer._total_train_tokens = int(state.num_input_tokens_seen)
        self.tokens_at_start = self.tokens(state)

    def _stop(self, state, control, where: str) -> None:
        if self.nan_step is None:
            self.nan_step = state.global_step
            log(f"the loss is NaN or inf at optimizer step {state.global_step} ({where}): training stopped; "
                "lower the learning rate, set max_grad_norm, or check the data")
        control.should_training_stop = True
        control.should_save = False  # no checkpoint of broken weights
        control.should_evaluate = False

    def on_step_end(self, args, state, control, **kwargs):
        if self._mirror_tokens:
            state.num_input_tokens_seen = int(self.trainer._total_train_tokens)
        loss = getattr(self.trainer, "_tr_loss", None)
        if loss is not None and self.nan_step is None:
            if self.trainer.accelerator.num_processes > 1:
                loss = self.trainer.accelerator.reduce(loss.detach().clone(), reduction="sum")
            if not bool(torch.isfinite(loss)):
                self._stop(state, control, "train loss")
        elif self.nan_step is not None:
            self._stop(state, control, "train loss")

    def on_log(self, args, state, control, logs=None, **kwargs):
        value = (logs or {}).get("loss")
        if value is not None and not math.isfinite(value):
            self._stop(state, control, "logged loss")

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.nan_step is not None:
            self._stop(state, control, "train loss")


class CheckpointManifest(TrainerCallback):
    """Right after the Trainer writes checkpoint-N, record the sha256 of each of its files in the checkpoint's
    ftspec-manifest.json; apply verifies them before resuming, so a damaged checkpoint is never trusted."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_manifest(folder)


class ProgressLine(TrainerCallback):
    """Progress on stderr in place of the Trainer's dict printer when there is no tqdm bar: a line every
    ``max_steps / LINES`` steps (and the first and last), so a log file gets a few dozen lines, not one per
    step. Validation losses are always printed; every logged loss still reaches TensorBoard and the report."""

    LINES = 25

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        every = max(1, -(-state.max_steps // self.LINES))
        if "loss" in logs:
            if state.global_step % every and state.global_step not in (1, state.max_steps):
                return
            parts = [f"step {state.global_step}/{state.max_steps}", f"epoch {state.epoch or 0:.2f}",
                     f"loss {logs['loss']:.4f}"]
            if "learning_rate" in logs:
                parts.append(f"lr {logs['learning_rate']:.3g}")
            if "reward" in logs:  # GRPO: the mean reward of the step's completions
                parts.append(f"reward {logs['reward']:.3f}")
            if "num_tokens" in logs:
                parts.append(f"tokens {int(logs['num_tokens'])}")
        elif "eval_loss" in logs:
            parts = [f"step {state.global_step}/{state.max_steps}", f"validation loss {logs['eval_loss']:.4f}"]
        else:
            return
        print("ftspec.train: " + ", ".join(parts), file=sys.stderr, flush=True)
