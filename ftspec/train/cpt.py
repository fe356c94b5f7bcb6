"""Continued pre-training: plain ``{"text": "..."}`` records, next-token loss on every token.

It is TRL's SFTTrainer on a language-modeling dataset: ``dataset_text_field`` names the column, EOS is
appended to each text, and ``packing`` (usually on) concatenates texts into ``max_length`` rows.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.plan.model import Job
from ftspec.train.loop import build_and_train


def main(run_dir: Path, job: Job, resume: bool) -> int:
    from trl import SFTConfig, SFTTrainer

    return build_and_train(SFTConfig, SFTTrainer, run_dir, job, resume)
