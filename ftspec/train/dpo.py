"""Direct preference optimization: ``{"prompt": [...], "chosen": [...], "rejected": [...]}`` conversational pairs.

TRL's DPOTrainer. With a LoRA adapter the reference model is the base with the adapter disabled (no second
copy in memory); for full fine-tuning TRL loads a frozen copy of the base as the reference.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.train import common


def main(run_dir: Path, job: dict, resume: bool) -> int:
    from trl import DPOConfig, DPOTrainer

    args = common.trainer_config(DPOConfig, job, run_dir)
    model, tokenizer = common.load_model_and_tokenizer(job, args)
    train, validation = common.load_data(run_dir, job)
    trainer = DPOTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        train_dataset=train,
        eval_dataset=validation,
        peft_config=common.lora_config(job),
        callbacks=[common.RunGuard()],
    )
    return common.train_and_report(trainer, run_dir, job, resume)
