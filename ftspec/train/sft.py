"""Supervised fine-tuning: conversational ``{"messages": [...]}`` records (``"tools"`` optional) with TRL's SFTTrainer.

TRL applies the chat template, truncates to ``max_length``, masks to assistant tokens when
``assistant_only_loss`` is set (dropping examples left with no label), and packs when ``packing`` is set.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.plan.model import Job
from ftspec.train.loop import build_and_train
from ftspec.train.weighted import weighted_datasets


def main(run_dir: Path, job: Job, resume: bool) -> int:
    from trl import SFTConfig, SFTTrainer

    return build_and_train(SFTConfig, SFTTrainer, run_dir, job, resume, prepare_datasets=weighted_datasets)
