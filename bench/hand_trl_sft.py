"""The hand-written baseline for bench_apply_vs_trl.py: a plain TRL SFT script, as a user would write it.

Reads only what any script needs from an ftspec run folder (the trainer arguments and the prepared rows, so
both sides train on identical data with identical hyperparameters), then does everything itself: tiny model
folder, AutoTokenizer, ``datasets.load_dataset("json")``, ``trl.SFTConfig``, ``peft.LoraConfig``, ``SFTTrainer``.
No ftspec callbacks, no TensorBoard, no ftspec logging.

Usage: python bench/hand_trl_sft.py RUN_DIR OUT_DIR [--report-to tensorboard]
(``--report-to tensorboard``: the same script with the plan's TensorBoard logging kept, for attribution.)
Prints one JSON line: train_runtime_s (the Trainer's own train_runtime), train_tokens_seen (TRL's count of
non-padding tokens, the last logged ``num_tokens``) and tokens_per_second = tokens / runtime -- the same
definition ftspec.train writes to train_result.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    run_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    report_to = [sys.argv[sys.argv.index("--report-to") + 1]] if "--report-to" in sys.argv else []
    if report_to == ["tensorboard"]:
        import os

        os.environ["TENSORBOARD_LOGGING_DIR"] = str(out_dir / "tensorboard")
    job = json.loads((run_dir / "plan.json").read_text())["job"]

    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftspec.models.tiny import tiny_model_dir

    model_dir = str(tiny_model_dir(with_weights=True))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dtype = job["model"].get("dtype") or "auto"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype) if dtype != "auto" else "auto")
    train = load_dataset("json", data_files=str(run_dir / job["data"]["train"]), split="train",
                         cache_dir=str(out_dir / "hf-cache"))

    args = dict(job["trainer_args"], output_dir=str(out_dir / "checkpoints"), report_to=report_to)
    peft = job.get("peft")
    peft_config = LoraConfig(r=peft["r"], lora_alpha=peft["lora_alpha"], lora_dropout=peft["lora_dropout"],
                             target_modules=peft["target_modules"], task_type="CAUSAL_LM") if peft else None

    trainer = SFTTrainer(model=model, args=SFTConfig(**args), processing_class=tokenizer, train_dataset=train,
                         peft_config=peft_config)
    output = trainer.train()
    runtime = float(output.metrics["train_runtime"])
    logged = [e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e]
    tokens = int(logged[-1]) if logged else int(trainer._total_train_tokens)
    trainer.save_model(str(out_dir / ("adapter" if peft else "model")))
    print(json.dumps({"global_step": trainer.state.global_step, "train_runtime_s": round(runtime, 4),
                      "train_tokens_seen": tokens, "tokens_per_second": round(tokens / runtime, 3)}))


if __name__ == "__main__":
    main()
