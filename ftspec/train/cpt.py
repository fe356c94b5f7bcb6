"""Continued pre-training: plain ``{"text": "..."}`` records, next-token loss on every token.

It is TRL's SFTTrainer on a language-modeling dataset: ``dataset_text_field`` names the column, EOS is
appended to each text, and ``packing`` (usually on) concatenates texts into ``max_length`` rows.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.train import common


def main(run_dir: Path, job: dict, resume: bool) -> int:
    from trl import SFTConfig, SFTTrainer

    return common.build_and_train(SFTConfig, SFTTrainer, run_dir, job, resume)
