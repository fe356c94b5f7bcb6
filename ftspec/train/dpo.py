"""Direct preference optimization: ``{"prompt": [...], "chosen": [...], "rejected": [...]}`` conversational pairs.

TRL's DPOTrainer. With a LoRA adapter the reference model is the base with the adapter disabled (no second
copy in memory); for full fine-tuning TRL loads a frozen copy of the base as the reference.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.plan.model import Job
from ftspec.train.loop import build_and_train


def main(run_dir: Path, job: Job, resume: bool) -> int:
    from trl import DPOConfig, DPOTrainer

    return build_and_train(DPOConfig, DPOTrainer, run_dir, job, resume)
