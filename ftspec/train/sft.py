"""Supervised fine-tuning: conversational ``{"messages": [...]}`` records (``"tools"`` optional) with TRL's SFTTrainer.

TRL applies the chat template, truncates to ``max_length``, masks to assistant tokens when
``assistant_only_loss`` is set (dropping examples left with no label), and packs when ``packing`` is set.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.train import common


def main(run_dir: Path, job: dict, resume: bool) -> int:
    from trl import SFTConfig, SFTTrainer

    return common.build_and_train(SFTConfig, SFTTrainer, run_dir, job, resume)
