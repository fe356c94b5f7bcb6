"""The run folder's contract: every file name, marker and exit code that apply, the trainer, report and export share.

``runs/<name>/<run-id>/`` holds, in the order a run writes them:

- inputs: ``spec.yaml`` (the spec as applied), ``plan.json`` (the plan bound to this folder), the accelerate config,
  ``data/`` (the rows the plan counted; the spec's chat template when it has one);
- training: ``checkpoints/checkpoint-N/`` (each with a sha256 manifest), ``tensorboard/``, then ``adapter/`` or
  ``model/`` and ``train_result.json`` (the "trained" marker), or ``train_error.json`` when it failed;
- evaluation: ``eval/base.jsonl``, ``eval/finetuned.jsonl``;
- ``report.html``, the model card in the weights folder, and ``report.json`` last: the "done" marker.
"""

from __future__ import annotations

import json
from pathlib import Path

SPEC = "spec.yaml"
PLAN = "plan.json"
ACCELERATE_CONFIG = "accelerate_config.yaml"
TRAIN_DATA = "data/train.jsonl"
VALIDATION_DATA = "data/validation.jsonl"
HOLDOUT_DATA = "data/holdout.jsonl"
CHAT_TEMPLATE = "data/chat_template.jinja"  # data.chat_template, for the trainer, evaluation and export
TRAINING_CHAT_TEMPLATE = "data/training_chat_template.jinja"  # ftspec's derived training template, for the trainer
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
ADAPTER = "adapter"  # the final PEFT adapter
MODEL = "model"  # the final weights of a full fine-tune
MODEL_CARD = "README.md"  # in the weights folder, rewritten with every report: not part of what is verified
EVAL = "eval"  # eval/<side>.jsonl: per-sample outputs and scores
TRAIN_RESULT = "train_result.json"
TRAIN_ERROR = "train_error.json"  # {"error": one of TRAIN_ERRORS, "message": ...}
TRAIN_TRACEBACK = "train_traceback.txt"
REPORT = "report.json"
LINT = "lint.json"  # the lint findings of a run submitted to a cluster, for its report
REPORT_HTML = "report.html"
STALE_REPORT = "report.json.stale"  # a report.json that no longer holds for the folder, kept aside
MANIFEST = "ftspec-manifest.json"  # sha256 of every file of a checkpoint, written right after it
QUARANTINE_PREFIX = "corrupt-"  # checkpoints that failed verification are moved aside under this name
LOCK = ".lock"  # held by `ftspec apply` while it works on the folder
TRAINER_LOCK = ".trainer.lock"  # held by the training process itself, for as long as it lives

# What train_error.json says went wrong: accelerate launch turns every failing exit code into 1.
CRASHED, BAD_JOB, OUT_OF_MEMORY = "crashed", "bad_job", "out_of_memory"
REWARD_FAILED = "reward_failed"  # GRPO: a reward function raised or returned what TRL cannot use
TRAIN_ERRORS = (CRASHED, BAD_JOB, OUT_OF_MEMORY, REWARD_FAILED)

# The trainer's exit codes (``python -m ftspec.train``); apply exits with the same ones.
EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_USAGE = 2  # bad arguments or an unreadable RUN_DIR/plan.json
EXIT_NAN = 3  # the loss became NaN or inf: training stopped
EXIT_STEP_MISMATCH = 4  # the run completed on another optimizer step count than the plan predicted
EXIT_OOM = 5  # out of device memory
EXIT_REWARD = 6  # a reward function failed (GRPO): training stopped, the checkpoints so far kept
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


def weights_folder(peft: bool) -> str:
    """Where the final weights go: the adapter of a PEFT run, the whole model of a full fine-tune."""
    return ADAPTER if peft else MODEL


def read_json(path: Path):
    """The JSON in ``path``, or None when it is missing, unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
