"""Direct preference optimization: ``{"prompt": [...], "chosen": [...], "rejected": [...]}`` conversational pairs.

TRL's DPOTrainer. With a LoRA adapter the reference model is the base with the adapter disabled (no second
copy in memory); for full fine-tuning TRL loads a frozen copy of the base as the reference.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.train import common


def main(run_dir: Path, job: dict, resume: bool) -> int:
    from trl import DPOConfig, DPOTrainer

    return common.build_and_train(DPOConfig, DPOTrainer, run_dir, job, resume)
