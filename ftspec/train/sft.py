"""Supervised fine-tuning: conversational ``{"messages": [...]}`` records (``"tools"`` optional) with TRL's SFTTrainer.

TRL applies the chat template, truncates to ``max_length``, masks to assistant tokens when
``assistant_only_loss`` is set (dropping examples left with no label), and packs when ``packing`` is set.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.train import common


def main(run_dir: Path, job: dict, resume: bool) -> int:
    from trl import SFTConfig, SFTTrainer

    args = common.trainer_config(SFTConfig, job, run_dir)
    model, tokenizer = common.load_model_and_tokenizer(job, args)
    train, validation = common.load_data(run_dir, job)
    trainer = SFTTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        train_dataset=train,
        eval_dataset=validation,
        peft_config=common.lora_config(job),
        callbacks=[common.RunGuard()],
    )
    return common.train_and_report(trainer, run_dir, job, resume)
