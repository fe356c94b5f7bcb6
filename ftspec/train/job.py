"""The job a trainer process runs: read from RUN_DIR/plan.json, and turned into a TRL config, the base model (4-bit
under QLoRA), its tokenizer, the LoRA config and the datasets."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ftspec.methods import method_names
from ftspec.models.adapters import merge_adapters
from ftspec.plan.model import Job
from ftspec.runfolder import contract


class JobError(Exception):
    """RUN_DIR or its plan.json cannot be used; the message says why (exit 2)."""


def read_job(run_dir: Path) -> Job:
    path = run_dir / contract.PLAN
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobError(f"{path}: not found (is {run_dir} a run folder written by `ftspec apply`?)") from None
    except (OSError, ValueError) as exc:
        raise JobError(f"{path}: unreadable ({exc})") from None
    job = plan.get("job") if isinstance(plan, dict) else None
    names = method_names()
    if not isinstance(job, dict) or job.get("method") not in names:
        raise JobError(f"{path}: no job with a method of {', '.join(names[:-1])} or {names[-1]}")
    try:
        return Job.model_validate(job)
    except ValidationError as exc:
        raise JobError(f"{path}: job: {str(exc).splitlines()[0]}: {exc.errors()[0]['loc']} "
                       f"{exc.errors()[0]['msg']}") from None


def log(message: str) -> None:
    """One line on stderr, from process zero only (every process runs this code)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"ftspec.train: {message}", file=sys.stderr, flush=True)


def trainer_config(config_cls, job: Job, run_dir: Path):
    """``config_cls`` (SFTConfig or DPOConfig) from the plan's trainer_args, with ftspec's own paths."""
    kwargs: dict[str, Any] = dict(job.trainer_args)
    kwargs["output_dir"] = str(run_dir / contract.CHECKPOINTS)
    # transformers 5 has no logging_dir argument: its TensorBoard callback reads this variable.
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / contract.TENSORBOARD)
    # A bar on a terminal; otherwise one ProgressLine per logging step (see train_and_report).
    kwargs.setdefault("disable_tqdm", not sys.stderr.isatty())
    if kwargs["disable_tqdm"]:  # and no loading bars in a log file either
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    # The Trainer would otherwise hide a NaN loss by logging the running mean: RunGuard must see it.
    kwargs.setdefault("logging_nan_inf_filter", False)
    try:
        return config_cls(**kwargs)
    except TypeError as exc:  # a trainer_args key this TRL version does not know
        raise JobError(f"plan.json job.trainer_args: {exc}") from None


# Columns whose values are nested JSON (messages, tool schemas): stored as JSON per value, not as Arrow structs.
# Arrow would unify the structs across rows, giving every row's tool schema and tool-call arguments every other
# row's keys as nulls, which the chat template then renders (a 571-token row became 773).
# Every other column but CPT's text is stored the same way (tools, label, ...).
MESSAGE_COLUMNS = ("messages", "prompt", "chosen", "rejected")


def read_rows(path: Path):
    """A JSONL file as a datasets.Dataset, in file order, every row with the union of all keys; each row's
    messages and tools exactly as written."""
    from datasets import Dataset, Features, Json, List, Value

    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    features = {k: Value("string") if k == "text" else List(Json()) if k in MESSAGE_COLUMNS else Json() for k in keys}
    return Dataset.from_dict({k: [row.get(k) for row in rows] for k in keys}, features=Features(features))


def load_data(run_dir: Path, job: Job):
    """(train, validation or None) datasets, paths relative to RUN_DIR."""
    data = job.data
    try:
        train = read_rows(run_dir / data.train)
        validation = read_rows(run_dir / data.validation) if data.validation else None
    except (OSError, ValueError) as exc:
        raise JobError(f"training data: {exc}") from None
    return train, validation


# --- model and adapter --------------------------------------------------------------------------------


def model_source(job: Job) -> tuple[str, str | None]:
    """(path or hub id, revision) to hand to from_pretrained."""
    from ftspec.models.resolve import model_source as resolve_source

    try:
        return resolve_source(job.model.base, job.model.revision)
    except ValueError as exc:
        raise JobError(str(exc)) from None


def load_model_and_tokenizer(job: Job, args):
    """The base model (4-bit and prepared for k-bit training under QLoRA) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    source, revision = model_source(job)
    trust = job.model.trust_remote_code
    dtype = job.model.dtype or "auto"
    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust,
                              "dtype": getattr(torch, dtype) if dtype != "auto" else "auto"}
    if job.model.attn_implementation:  # training.attention; absent: transformers' own choice
        kwargs["attn_implementation"] = job.model.attn_implementation
    quant = job.quantization
    if quant:
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        q = dict(quant)
        for key in ("bnb_4bit_compute_dtype", "bnb_4bit_quant_storage"):
            if isinstance(q.get(key), str):
                q[key] = getattr(torch, q[key])
        kwargs["quantization_config"] = BitsAndBytesConfig(**q)
        kwargs["device_map"] = {"": PartialState().local_process_index}  # one whole model per GPU
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=trust)
    if job.chat_template:  # data.chat_template, as SFTConfig(chat_template_path=...) would set it
        tokenizer.chat_template = (Path(args.output_dir).parent / job.chat_template).read_text(encoding="utf-8")
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    model = merge_adapters(model, job.model.merge_adapters)  # earlier versions' adapters (incremental training)
    if job.model.merge_adapters:
        model.requires_grad_(True)  # PEFT froze the weights it wrapped; from_pretrained leaves them trainable
    if quant:
        from peft import prepare_model_for_kbit_training

        checkpointing = getattr(args, "activation_checkpointing", None)  # transformers 5's name
        if checkpointing is None:
            checkpointing = getattr(args, "gradient_checkpointing", False)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=bool(checkpointing))
    if job.model.continue_adapter:  # the parent run's own adapter, trained further (lora_config is then None)
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, job.model.continue_adapter, is_trainable=True)
    return model, tokenizer


def lora_config(job: Job):
    """peft.LoraConfig for the job's adapter, or None for full fine-tuning."""
    peft = job.peft
    if not peft or job.model.continue_adapter:
        return None
    from peft import LoraConfig

    return LoraConfig(r=peft["r"], lora_alpha=peft["lora_alpha"], lora_dropout=peft.get("lora_dropout", 0.0),
                      target_modules=peft.get("target_modules", "all-linear"),
                      use_rslora=bool(peft.get("use_rslora", False)), task_type="CAUSAL_LM")
