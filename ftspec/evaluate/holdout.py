"""A run's holdout evaluation: base and fine-tuned outputs on the holdout rows the plan wrote into the run folder,
scored with the spec's metrics; per-sample outputs go to eval/<side>.jsonl."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.methods import get_method
from ftspec.models.resolve import model_source
from ftspec.plan.model import Plan
from ftspec.runfolder import contract
from ftspec.tokenizer.calendar import pin_transformers_calendar


def weights_dir(plan: Plan, run_dir: Path) -> Path:
    """Where the final weights are: the PEFT adapter, or the whole model for full fine-tuning."""
    return run_dir / contract.weights_folder(plan.job.peft is not None)


def preload():
    """Import what evaluation needs (torch, transformers, peft: ~5-8 s) in a thread while the trainer runs, whose own
    start-up takes another core; evaluation then starts at once. Returns the thread (join it)."""
    import threading

    def load() -> None:
        try:
            import peft  # noqa: F401  (imports torch and transformers)
            from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
        except Exception:  # evaluation reports its own import problems
            pass

    thread = threading.Thread(target=load, name="ftspec-import-eval", daemon=True)
    thread.start()
    return thread


def _write_jsonl(path: Path, records: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def evaluate_holdout(plan: Plan, run_dir: Path) -> dict | None:
    """Base and fine-tuned outputs on the holdout, scored; None when the spec has no holdout."""
    holdout_file = run_dir / contract.HOLDOUT_DATA
    if not holdout_file.is_file():
        return None
    import warnings

    from ftspec.evaluate.generate import generate_outputs, holdout_samples
    from ftspec.scoring.metrics import evaluate_outputs

    ev = plan.spec.eval
    # peft calls transformers' deprecated is_gradient_checkpointing when it loads an adapter: not the user's doing.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if plan.layout.on_cpu and plan.spec.compute.cpu_threads:
        import torch

        torch.set_num_threads(plan.spec.compute.cpu_threads)  # generation runs in this process
    pin_transformers_calendar(plan.job.render_date)  # prompts render with the date the training text did
    records = [json.loads(line) for line in holdout_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    samples = holdout_samples(records, get_method(plan.method).reference_column(plan.spec))
    prompts = [s["prompt"] for s in samples]
    tools = [s["tools"] for s in samples]
    template = (run_dir / plan.job.chat_template).read_text(encoding="utf-8") if plan.job.chat_template else None
    base_dir, revision = model_source(plan.job.model.base, plan.job.model.revision)
    base = {"model_dir": base_dir, "revision": revision}
    final = weights_dir(plan, run_dir)
    tuned = {"model_dir": str(final)} if plan.job.peft is None else {**base, "adapter_dir": str(final)}
    out: dict = {"holdout": ev.holdout, "timing_s": {}}
    sides = [("base", base)] if ev.baseline else []
    sides.append(("finetuned", tuned))
    for label, where in sides:
        started = time.perf_counter()
        outputs = generate_outputs(where["model_dir"], prompts, tools=tools, chat_template=template,
                                   adapter_dir=where.get("adapter_dir"), revision=where.get("revision"),
                                   max_new_tokens=ev.max_new_tokens, seed=plan.spec.training.seed)
        generated = time.perf_counter()
        scored = evaluate_outputs([{**s, "output": o} for s, o in zip(samples, outputs)], ev.metrics, ev.postprocess)
        out["timing_s"][label] = {"generate": round(generated - started, 3),
                                  "score": round(time.perf_counter() - generated, 3)}
        _write_jsonl(run_dir / contract.EVAL / f"{label}.jsonl", scored["samples"])
        out[label] = scored
    out.setdefault("base", None)
    return out
