"""Run folders as ``ftspec apply`` lays them out for the trainer (``data/`` and ``plan.json``'s job), for tests that
start the training entry point directly."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from support.project import write_jsonl

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()

# The shared TRL config arguments of a CPU run, as the plan writes them.
CPU_TRAINER_ARGS = {
    "num_train_epochs": 1, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 4,
    "gradient_accumulation_steps": 1, "learning_rate": 1e-3, "warmup_steps": 0.1, "lr_scheduler_type": "cosine",
    "weight_decay": 0.0, "max_grad_norm": 1.0, "optim": "adamw_torch", "seed": 0, "data_seed": 0,
    "bf16": False, "fp16": False, "use_cpu": True, "activation_checkpointing": False,
    "logging_strategy": "steps", "logging_steps": 1, "save_strategy": "epoch", "eval_strategy": "no",
    "dataloader_drop_last": False, "report_to": [], "max_length": 128,
}


def lora(rank: int = 8, alpha: float = 16.0, dropout: float = 0.05, rslora: bool = False) -> dict:
    return {"r": rank, "lora_alpha": alpha, "lora_dropout": dropout, "target_modules": "all-linear",
            "use_rslora": rslora}


def write_run(run_dir: Path, train: list[dict], *, method: str, trainer_args: dict, expected_steps: int,
              validation: list[dict] | None = None, base: str = "builtin:tiny", peft: dict | None = None) -> Path:
    """RUN_DIR with data/train.jsonl (and validation.jsonl) and a plan.json whose job the trainer runs."""
    write_jsonl(run_dir / "data" / "train.jsonl", train)
    if validation:
        write_jsonl(run_dir / "data" / "validation.jsonl", validation)
    job = {
        "method": method,
        "model": {"base": base, "revision": None, "trust_remote_code": False, "dtype": "float32"},
        "peft": peft, "quantization": None, "trainer_args": trainer_args,
        "data": {"train": "data/train.jsonl", "validation": "data/validation.jsonl" if validation else None},
        "expected_optimizer_steps": expected_steps,
    }
    (run_dir / "plan.json").write_text(json.dumps({"format": 1, "job": job}, indent=2))
    return run_dir


def steps_formula(n: int, *, epochs: float, batch: int, grad_accum: int = 1, world: int = 1) -> int:
    """transformers 5: ceil(epochs * ceil(ceil(ceil(N / batch) / world) / grad_accum))."""
    return math.ceil(epochs * math.ceil(math.ceil(math.ceil(n / batch) / world) / grad_accum))


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def make_rows(method: str, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        if method == "sft":
            rows.append({"messages": [{"role": "user", "content": _sentence(rng, 1, 4)},
                                      {"role": "assistant", "content": _sentence(rng, 1, 5)}]})
        elif method == "dpo":
            rows.append({"prompt": [{"role": "user", "content": _sentence(rng, 1, 4)}],
                         "chosen": [{"role": "assistant", "content": _sentence(rng, 1, 4)}],
                         "rejected": [{"role": "assistant", "content": _sentence(rng, 1, 4)}]})
        else:  # cpt: exactly 63 bytes, so 64 tokens with EOS on the byte-level tiny tokenizer
            rows.append({"text": (_sentence(rng, 12, 14) + " " * 63)[:63]})
    return rows


# The method's own TRL arguments, as its Method.trainer_args gives them for these runs.
METHOD_ARGS = {"sft": {"packing": False, "packing_strategy": "bfd", "assistant_only_loss": False},
               "cpt": {"packing": True, "packing_strategy": "bfd", "dataset_text_field": "text"},
               "dpo": {"beta": 0.1}}


def tiny_run(run_dir: Path, method: str = "sft", *, n: int = 24, n_val: int = 0, peft: str | None = "lora",
             expected: int | None = None, world: int = 1, **trainer_args) -> Path:
    """A builtin:tiny RUN_DIR of random words; expected_optimizer_steps from the formula unless given."""
    args = {**CPU_TRAINER_ARGS, "eval_strategy": "epoch" if n_val else "no", **METHOD_ARGS[method], **trainer_args}
    if expected is None:
        rows = n // 2 if method == "cpt" and args["packing"] else n  # cpt: two 64-token texts per 128 row
        expected = steps_formula(rows, epochs=args["num_train_epochs"], batch=args["per_device_train_batch_size"],
                                 grad_accum=args["gradient_accumulation_steps"], world=world)
    return write_run(run_dir, make_rows(method, n, 0), validation=make_rows(method, n_val, 1) if n_val else None,
                     method=method, trainer_args=args, expected_steps=expected,
                     peft=None if peft is None else lora(rslora=peft == "rslora"))


def result(run_dir: Path) -> dict:
    return json.loads((run_dir / "train_result.json").read_text())


def kill_at_first_checkpoint(cmd: list[str], run_dir: Path, env: dict, timeout: float = 180) -> None:
    """Start the trainer ``cmd`` and SIGKILL it as soon as a complete checkpoint (its manifest written) is on disk,
    possibly while it writes the next one; fails the test when the run ends before it can be killed."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if list((run_dir / "checkpoints").glob("checkpoint-*/ftspec-manifest.json")):
                break
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (run_dir / "train_result.json").exists()


def trainable_tiny():
    """builtin:tiny with weights and its tokenizer, library chatter off: for tests that build TRL trainers in process."""
    import datasets
    import transformers

    from ftspec.models.tiny import tiny_model_dir

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    folder = tiny_model_dir(with_weights=True)
    return folder, transformers.AutoTokenizer.from_pretrained(folder)


def quiet_trainer_args(trainer_args: dict, output_dir: Path) -> dict:
    """The plan's trainer arguments with nothing written or logged (none of these changes the step count)."""
    return {**trainer_args, "output_dir": str(output_dir), "report_to": [], "save_strategy": "no",
            "logging_strategy": "no", "disable_tqdm": True}
