"""The training loop every method's entry shares: build the TRL trainer from the job, train (resuming if asked), and
write train_result.json and the final weights. A method's entry (``sft.py``, ``dpo.py``, ``cpt.py``) picks its TRL
classes and, where it needs to, prepares the datasets first."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.plan.model import Job
from ftspec.runfolder import contract
from ftspec.tokenizer.calendar import pin_transformers_calendar
from ftspec.runfolder.checkpoints import newest_complete_checkpoint, weights_hashes
from ftspec.train.callbacks import CheckpointManifest, ProgressLine, RunGuard
from ftspec.train.job import load_data, load_model_and_tokenizer, log, lora_config, trainer_config
from ftspec.train.results import best_checkpoint, loss_curves, reward_curves, overfitting, peak_memory_gib, save_final_weights


def build_and_train(config_cls, trainer_cls, run_dir: Path, job: Job, resume: bool, prepare_datasets=None,
                    trainer_kwargs: dict | None = None, tokens_in_state: bool = False) -> int:
    """The whole entry point for a TRL trainer class: config, model, data, trainer, train, report.
    ``prepare_datasets(train, validation, tokenizer, args)``: the method's own step before the trainer sees them;
    ``trainer_kwargs``: the method's own trainer arguments (GRPO's reward functions); ``tokens_in_state``: the
    trainer counts its tokens in ``state.num_input_tokens_seen`` (RunGuard)."""
    args = trainer_config(config_cls, job, run_dir)
    pin_transformers_calendar(job.render_date)
    model, tokenizer = load_model_and_tokenizer(job, args)
    train, validation = load_data(run_dir, job)
    original = tokenizer.chat_template
    if job.training_chat_template:
        # The trainer tokenizes every row while it is built (and the method's own step before that): with the derived
        # training template then, the original afterwards, so checkpoints and the final weights keep the original.
        tokenizer.chat_template = (run_dir / job.training_chat_template).read_text(encoding="utf-8")
    if job.loss_kernel == "plain":
        trainer_cls = plain_loss_trainer(trainer_cls)
    try:
        if prepare_datasets is not None:
            train, validation = prepare_datasets(train, validation, tokenizer, args)
        trainer = trainer_cls(model=model, args=args, processing_class=tokenizer, train_dataset=train,
                              eval_dataset=validation, peft_config=lora_config(job),
                              callbacks=[RunGuard(tokens_in_state)], **(trainer_kwargs or {}))
    finally:
        tokenizer.chat_template = original
    return train_and_report(trainer, run_dir, job, resume)


def plain_loss_trainer(trainer_cls):
    """``trainer_cls`` with transformers' own loss: the model's forward with the labels, over the full logits upcast to
    fp32 (training.loss_kernel: plain), instead of TRL's fused LM head. The labels are TRL's (prompt, padding and
    weight-0 turns already -100), so the loss is the same mean over the same tokens."""
    from transformers import Trainer

    class PlainLoss(trainer_cls):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return Trainer.compute_loss(self, model, {**inputs, "use_cache": False}, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    PlainLoss.__name__ = PlainLoss.__qualname__ = f"PlainLoss{trainer_cls.__name__}"
    return PlainLoss


def kernels_used(trainer) -> dict:
    """What the trainer really ran with: the attention the model loaded, the loss path, the optimizer."""
    model = trainer.model
    config = getattr(model, "config", None)
    attention = getattr(config, "_attn_implementation", None)
    loss = "plain" if type(trainer).__name__.startswith("PlainLoss") else (
        "liger" if getattr(trainer.args, "use_liger_kernel", False) else "fused")
    return {"attention": attention, "loss": loss, "optimizer": str(getattr(trainer.args.optim, "value",
                                                                          trainer.args.optim))}


def train_and_report(trainer, run_dir: Path, job: Job, resume: bool) -> int:
    """Train (resuming if asked), write train_result.json and the final weights; return the exit code."""
    guard = next((cb for cb in trainer.callback_handler.callbacks if isinstance(cb, RunGuard)), None)
    if guard is None:
        guard = RunGuard()
        trainer.add_callback(guard)
    guard.attach(trainer)
    if not any(isinstance(cb, CheckpointManifest) for cb in trainer.callback_handler.callbacks):
        trainer.add_callback(CheckpointManifest())
    if trainer.args.disable_tqdm:
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(ProgressLine())

    if trainer.is_world_process_zero():
        (run_dir / contract.TRAIN_ERROR).unlink(missing_ok=True)  # from an earlier, failed attempt
    checkpoint = newest_complete_checkpoint(run_dir) if resume else None
    if resume:
        log(f"resuming from {checkpoint.relative_to(run_dir)}" if checkpoint
            else "--resume: no complete checkpoint yet, training from the start")
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    runtime = output.metrics.get("train_runtime", time.perf_counter() - started)

    state = trainer.state
    train, validation = loss_curves(state.log_history)
    stopped = "nan_loss" if guard.nan_step is not None else "completed"
    expected = job.expected_optimizer_steps
    tokens = guard.tokens(state)
    session_tokens = tokens - guard.tokens_at_start
    result = {
        "global_step": int(state.global_step),
        "expected_optimizer_steps": expected,
        "loss": {"train": train, "validation": validation},
        "rewards": reward_curves(state.log_history),
        "best_checkpoint": best_checkpoint(run_dir, validation),
        "overfitting": overfitting(train, validation),
        "train_runtime_s": round(float(runtime), 4),
        "train_tokens_seen": int(tokens),
        "tokens_per_second": round(session_tokens / runtime, 3) if runtime > 0 else None,
        "stopped": stopped,
        "resumed_from": f"{contract.CHECKPOINTS}/{checkpoint.name}" if checkpoint else None,
        "world_size": int(trainer.args.world_size),
        "weights": None,
        "peak_memory_gib": peak_memory_gib(),
        "kernels": kernels_used(trainer),
    }
    if stopped == "completed":
        result["weights"] = save_final_weights(trainer, run_dir)
        if trainer.is_world_process_zero():
            # A later apply trusts the final weights only while they still match these.
            result["weights_sha256"] = weights_hashes(run_dir / result["weights"])
    if trainer.is_world_process_zero():
        write_text_atomic(run_dir / contract.TRAIN_RESULT, json.dumps(result, indent=2) + "\n")
    trainer.accelerator.wait_for_everyone()

    if stopped == "nan_loss":
        return contract.EXIT_NAN
    if expected is not None and state.global_step != expected:
        log(f"the run ended on optimizer step {state.global_step}, but the plan expected {expected} "
            "(expected_optimizer_steps): the plan's step arithmetic and the trainer disagree")
        return contract.EXIT_STEP_MISMATCH
    log(f"done: {state.global_step} optimizer steps, final weights in {run_dir / result['weights']}")
    return contract.EXIT_OK
