"""What the method files share: the job, model and data loading, the run guard, results and final weights.

Everything here runs under ``accelerate launch`` on every process; only the world's process zero writes
``train_result.json`` and the final ``adapter/`` or ``model/`` folder (the Trainer writes checkpoints and
TensorBoard events on process zero itself).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from ftspec.core.atomic import write_text_atomic
from ftspec.train import EXIT_NAN, EXIT_OK, EXIT_STEP_MISMATCH

CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
RESULT_FILE = "train_result.json"
ERROR_FILE = "train_error.json"


class JobError(Exception):
    """RUN_DIR or its plan.json cannot be used; the message says why (exit 2)."""


# --- the job ------------------------------------------------------------------------------------------


def read_job(run_dir: Path) -> dict:
    path = run_dir / "plan.json"
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobError(f"{path}: not found (is {run_dir} a run folder written by `ftspec apply`?)") from None
    except (OSError, ValueError) as exc:
        raise JobError(f"{path}: unreadable ({exc})") from None
    job = plan.get("job") if isinstance(plan, dict) else None
    if not isinstance(job, dict) or job.get("method") not in ("sft", "dpo", "cpt"):
        raise JobError(f"{path}: no job with a method of sft, dpo or cpt")
    return job


def log(message: str) -> None:
    """One line on stderr, from process zero only (every process runs this code)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"ftspec.train: {message}", file=sys.stderr, flush=True)


def trainer_config(config_cls, job: dict, run_dir: Path):
    """``config_cls`` (SFTConfig or DPOConfig) from the plan's trainer_args, with ftspec's own paths."""
    kwargs: dict[str, Any] = dict(job["trainer_args"])
    kwargs["output_dir"] = str(run_dir / CHECKPOINTS)
    # transformers 5 has no logging_dir argument: its TensorBoard callback reads this variable.
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / TENSORBOARD)
    # A bar on a terminal; otherwise one ProgressLine per logging step (see train_and_report).
    kwargs.setdefault("disable_tqdm", not sys.stderr.isatty())
    if kwargs["disable_tqdm"]:  # and no loading bars in a log file either
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    # The Trainer would otherwise hide a NaN loss by logging the running mean: RunGuard must see it.
    kwargs.setdefault("logging_nan_inf_filter", False)
    try:
        return config_cls(**kwargs)
    except TypeError as exc:  # a trainer_args key this TRL version does not know
        raise JobError(f"plan.json job.trainer_args: {exc}") from None


# Columns whose values are nested JSON (messages, tool schemas): stored as JSON per value, not as Arrow structs.
# Arrow would unify the structs across rows, giving every row's tool schema and tool-call arguments every other
# row's keys as nulls, which the chat template then renders (a 571-token row became 773).
# Every other column but CPT's text is stored the same way (tools, label, ...).
MESSAGE_COLUMNS = ("messages", "prompt", "chosen", "rejected")


def read_rows(path: Path):
    """A JSONL file as a datasets.Dataset, in file order, every row with the union of all keys; each row's
    messages and tools exactly as written."""
    from datasets import Dataset, Features, Json, List, Value

    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    features = {k: Value("string") if k == "text" else List(Json()) if k in MESSAGE_COLUMNS else Json() for k in keys}
    return Dataset.from_dict({k: [row.get(k) for row in rows] for k in keys}, features=Features(features))


def load_data(run_dir: Path, job: dict):
    """(train, validation or None) datasets, paths relative to RUN_DIR."""
    data = job["data"]
    try:
        train = read_rows(run_dir / data["train"])
        validation = read_rows(run_dir / data["validation"]) if data.get("validation") else None
    except (OSError, ValueError) as exc:
        raise JobError(f"training data: {exc}") from None
    return train, validation


# --- model and adapter --------------------------------------------------------------------------------


def model_source(job: dict) -> tuple[str, str | None]:
    """(path or hub id, revision) to hand to from_pretrained."""
    from ftspec.models.resolve import model_source as resolve_source

    try:
        return resolve_source(job["model"]["base"], job["model"].get("revision"))
    except ValueError as exc:
        raise JobError(str(exc)) from None


def load_model_and_tokenizer(job: dict, args):
    """The base model (4-bit and prepared for k-bit training under QLoRA) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    source, revision = model_source(job)
    trust = bool(job["model"].get("trust_remote_code", False))
    dtype = job["model"].get("dtype") or "auto"
    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust,
                              "dtype": getattr(torch, dtype) if dtype != "auto" else "auto"}
    quant = job.get("quantization")
    if quant:
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        q = dict(quant)
        if isinstance(q.get("bnb_4bit_compute_dtype"), str):
            q["bnb_4bit_compute_dtype"] = getattr(torch, q["bnb_4bit_compute_dtype"])
        kwargs["quantization_config"] = BitsAndBytesConfig(**q)
        kwargs["device_map"] = {"": PartialState().local_process_index}  # one whole model per GPU
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=trust)
    if job.get("chat_template"):  # data.chat_template, as SFTConfig(chat_template_path=...) would set it
        tokenizer.chat_template = (Path(args.output_dir).parent / job["chat_template"]).read_text(encoding="utf-8")
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if quant:
        from peft import prepare_model_for_kbit_training

        checkpointing = getattr(args, "activation_checkpointing", None)  # transformers 5's name
        if checkpointing is None:
            checkpointing = getattr(args, "gradient_checkpointing", False)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=bool(checkpointing))
    return model, tokenizer


def lora_config(job: dict):
    """peft.LoraConfig for the job's adapter, or None for full fine-tuning."""
    peft = job.get("peft")
    if not peft:
        return None
    from peft import LoraConfig

    return LoraConfig(r=peft["r"], lora_alpha=peft["lora_alpha"], lora_dropout=peft.get("lora_dropout", 0.0),
                      target_modules=peft.get("target_modules", "all-linear"),
                      use_rslora=bool(peft.get("use_rslora", False)), task_type="CAUSAL_LM")


# --- the run guard --------------------------------------------------------------------------------------


class RunGuard(TrainerCallback):
    """Stops on a NaN/inf loss, and keeps TRL's token count across a resume.

    Per optimizer step it reads the loss the Trainer accumulates anyway (one scalar; one scalar all-reduce
    with several processes so that every rank stops on the same step), instead of the Trainer's own
    per-micro-batch NaN filter, which ``trainer_config`` turns off.
    TRL counts non-padding tokens in ``trainer._total_train_tokens`` but restarts it at 0 on resume; the count
    is mirrored into ``state.num_input_tokens_seen`` (saved in every checkpoint's trainer_state.json, unused
    by the Trainer while ``include_num_input_tokens_seen`` is "no") and restored from there.
    """

    def __init__(self) -> None:
        self.trainer = None
        self.nan_step: int | None = None
        self.tokens_at_start = 0
        self._mirror_tokens = False

    def attach(self, trainer) -> None:
        self.trainer = trainer
        self._mirror_tokens = (hasattr(trainer, "_total_train_tokens")
                               and trainer.args.include_num_input_tokens_seen in ("no", False))

    def tokens(self, state) -> int:
        if self.trainer is not None and hasattr(self.trainer, "_total_train_tokens"):
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
            from ftspec.runs import write_manifest

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
            if "num_tokens" in logs:
                parts.append(f"tokens {int(logs['num_tokens'])}")
        elif "eval_loss" in logs:
            parts = [f"step {state.global_step}/{state.max_steps}", f"validation loss {logs['eval_loss']:.4f}"]
        else:
            return
        print("ftspec.train: " + ", ".join(parts), file=sys.stderr, flush=True)


# --- checkpoints ------------------------------------------------------------------------------------


def newest_complete_checkpoint(run_dir: Path) -> Path | None:
    """The highest-step checkpoint a crash did not cut short (see ftspec.runs.complete_checkpoints)."""
    from ftspec.runs import complete_checkpoints

    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


# --- results --------------------------------------------------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def loss_curves(log_history: list[dict]) -> tuple[list[list], list[list]]:
    train = [[e["step"], _finite(e["loss"])] for e in log_history if "loss" in e and "step" in e]
    validation = [[e["step"], _finite(e["eval_loss"])] for e in log_history if "eval_loss" in e and "step" in e]
    return train, validation


def best_checkpoint(run_dir: Path, validation: list[list]) -> str | None:
    """checkpoints/checkpoint-N of the lowest validation loss among the checkpoints still on disk."""
    kept = [(loss, step) for step, loss in validation
            if loss is not None and (run_dir / CHECKPOINTS / f"checkpoint-{step}" / "trainer_state.json").is_file()]
    return f"{CHECKPOINTS}/checkpoint-{min(kept)[1]}" if kept else None


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


def _replace_dir(partial: Path, dest: Path) -> None:
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(partial, dest)
    shutil.rmtree(old, ignore_errors=True)


def save_final_weights(trainer, run_dir: Path) -> str:
    """adapter/ (PEFT) or model/ (full), with the tokenizer: staged in a hidden folder, then renamed."""
    from peft import PeftModel

    name = "adapter" if isinstance(trainer.model, PeftModel) else "model"
    dest = run_dir / name
    partial = run_dir / f".{name}.partial"
    if trainer.is_world_process_zero():
        shutil.rmtree(partial, ignore_errors=True)
    trainer.save_model(str(partial))  # every process: FSDP/ZeRO gather the weights collectively
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        _replace_dir(partial, dest)
    return name


def write_error(run_dir: Path, error: str, message: str) -> None:
    """RUN_DIR/train_error.json: why a run failed, for a launcher that only sees accelerate's exit code 1."""
    try:
        write_text_atomic(run_dir / ERROR_FILE, json.dumps({"error": error, "message": message}, indent=2) + "\n")
    except OSError:
        pass


def _peak_memory_gib() -> dict:
    """This process's peak: CUDA's allocator high-water mark on a GPU, resident set size on the CPU."""
    import resource

    import torch

    out = {"host_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)}
    if torch.cuda.is_available():
        out["device_allocated"] = round(torch.cuda.max_memory_allocated() / 1024**3, 3)
        out["device_reserved"] = round(torch.cuda.max_memory_reserved() / 1024**3, 3)
    return out


def build_and_train(config_cls, trainer_cls, run_dir: Path, job: dict, resume: bool) -> int:
    """The whole entry point for a TRL trainer class: config, model, data, trainer, train, report."""
    args = trainer_config(config_cls, job, run_dir)
    model, tokenizer = load_model_and_tokenizer(job, args)
    train, validation = load_data(run_dir, job)
    if job["method"] == "sft":
        from ftspec.train.weighted import weighted_datasets

        train, validation = weighted_datasets(train, validation, tokenizer, args)
    trainer = trainer_cls(model=model, args=args, processing_class=tokenizer, train_dataset=train,
                          eval_dataset=validation, peft_config=lora_config(job), callbacks=[RunGuard()])
    return train_and_report(trainer, run_dir, job, resume)


def train_and_report(trainer, run_dir: Path, job: dict, resume: bool) -> int:
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
        (run_dir / ERROR_FILE).unlink(missing_ok=True)  # from an earlier, failed attempt
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
    expected = job.get("expected_optimizer_steps")
    tokens = guard.tokens(state)
    session_tokens = tokens - guard.tokens_at_start
    result = {
        "global_step": int(state.global_step),
        "expected_optimizer_steps": expected,
        "loss": {"train": train, "validation": validation},
        "best_checkpoint": best_checkpoint(run_dir, validation),
        "overfitting": overfitting(train, validation),
        "train_runtime_s": round(float(runtime), 4),
        "train_tokens_seen": int(tokens),
        "tokens_per_second": round(session_tokens / runtime, 3) if runtime > 0 else None,
        "stopped": stopped,
        "resumed_from": f"{CHECKPOINTS}/{checkpoint.name}" if checkpoint else None,
        "world_size": int(trainer.args.world_size),
        "weights": None,
        "peak_memory_gib": _peak_memory_gib(),
    }
    if stopped == "completed":
        result["weights"] = save_final_weights(trainer, run_dir)
        if trainer.is_world_process_zero():
            from ftspec.runs import weights_hashes

            # A later apply trusts the final weights only while they still match these.
            result["weights_sha256"] = weights_hashes(run_dir / result["weights"])
    if trainer.is_world_process_zero():
        write_text_atomic(run_dir / RESULT_FILE, json.dumps(result, indent=2) + "\n")
    trainer.accelerator.wait_for_everyone()

    if stopped == "nan_loss":
        return EXIT_NAN
    if expected is not None and state.global_step != expected:
        log(f"the run ended on optimizer step {state.global_step}, but the plan expected {expected} "
            "(expected_optimizer_steps): the plan's step arithmetic and the trainer disagree")
        return EXIT_STEP_MISMATCH
    log(f"done: {state.global_step} optimizer steps, final weights in {run_dir / result['weights']}")
    return EXIT_OK
