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


def base_model(plan: Plan) -> dict:
    """Where the baseline's weights are: the pretrained model (the root of an incremental chain)."""
    m = plan.job.model
    root = m.pretrained or {"base": m.base, "revision": m.revision}
    model_dir, revision = model_source(root["base"], root.get("revision"))
    return {"model_dir": model_dir, "revision": revision}


def _weights(job_model: dict, folder: Path, peft: bool) -> dict:
    """Where a run's weights in ``folder`` are: a whole model (full fine-tuning), or an adapter on its job's base with
    the earlier versions' adapters merged in first."""
    if not peft:
        return {"model_dir": str(folder)}
    model_dir, revision = model_source(job_model["base"], job_model.get("revision"))
    return {"model_dir": model_dir, "revision": revision, "merge_adapters": job_model.get("merge_adapters"),
            "adapter_dir": str(folder)}


def trained_weights(plan: Plan, folder: Path) -> dict:
    """Where this run's weights in ``folder`` (the weights folder, or a checkpoint) are."""
    return _weights(plan.job.model.model_dump(), folder, plan.job.peft is not None)


def parent_weights(parent) -> dict:
    """Where the parent run's final weights are (``ftspec.runfolder.parent.ParentRun``)."""
    return _weights(parent.job_model, parent.weights_dir, parent.peft)


class Holdout:
    """The run folder's holdout, ready to score any weights on: samples read once, outputs generated greedily with
    the prompts rendered as the training text was."""

    def __init__(self, plan: Plan, run_dir: Path):
        import warnings

        self.plan, self.run_dir = plan, run_dir
        # peft calls transformers' deprecated is_gradient_checkpointing when it loads an adapter: not the user's doing.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        if plan.layout.on_cpu and plan.spec.compute.cpu_threads:
            import torch

            torch.set_num_threads(plan.spec.compute.cpu_threads)  # generation runs in this process
        pin_transformers_calendar(plan.job.render_date)  # prompts render with the date the training text did
        from ftspec.evaluate.generate import holdout_samples

        holdout_file = run_dir / contract.HOLDOUT_DATA
        records = [json.loads(line) for line in holdout_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.samples = holdout_samples(records, get_method(plan.method).reference_column(plan.spec))
        self.template = (run_dir / plan.job.chat_template).read_text(encoding="utf-8") if plan.job.chat_template else None
        self.timing_s: dict = {}

    def score(self, where: dict, label: str | None = None) -> dict:
        """``evaluate_outputs`` of the weights ``where`` points at; ``label``: keep its timing and write its
        per-sample outputs to eval/<label>.jsonl."""
        from ftspec.evaluate.generate import generate_outputs
        from ftspec.scoring.metrics import evaluate_outputs

        ev = self.plan.spec.eval
        started = time.perf_counter()
        outputs = generate_outputs(where["model_dir"], [s["prompt"] for s in self.samples],
                                   tools=[s["tools"] for s in self.samples], chat_template=self.template,
                                   adapter_dir=where.get("adapter_dir"), revision=where.get("revision"),
                                   merge_adapters=where.get("merge_adapters"), max_new_tokens=ev.max_new_tokens,
                                   seed=self.plan.spec.training.seed)
        generated = time.perf_counter()
        scored = evaluate_outputs([{**s, "output": o} for s, o in zip(self.samples, outputs)], ev.metrics,
                                  ev.postprocess)
        if label:
            self.timing_s[label] = {"generate": round(generated - started, 3),
                                    "score": round(time.perf_counter() - generated, 3)}
            _write_jsonl(self.run_dir / contract.EVAL / f"{label}.jsonl", scored["samples"])
        return scored


def open_holdout(plan: Plan, run_dir: Path) -> Holdout | None:
    """The run's holdout to score on, or None when the spec has none."""
    return Holdout(plan, run_dir) if (run_dir / contract.HOLDOUT_DATA).is_file() else None


def evaluate_holdout(plan: Plan, run_dir: Path, holdout: Holdout | None = None, finetuned: dict | None = None,
                     parent=None) -> dict | None:
    """Base, parent (``parent``: the run this one trained on) and fine-tuned outputs on the holdout, scored; None when
    the spec has no holdout. ``finetuned``: the final weights' scoring when it was already done (a checkpoint's)."""
    holdout = holdout or open_holdout(plan, run_dir)
    if holdout is None:
        return None
    ev = plan.spec.eval
    out: dict = {"holdout": ev.holdout, "timing_s": holdout.timing_s}
    if ev.baseline:
        out["base"] = holdout.score(base_model(plan), "base")
    if parent is not None:
        out["parent"] = holdout.score(parent_weights(parent), "parent")
    if finetuned is None:
        finetuned = holdout.score(trained_weights(plan, weights_dir(plan, run_dir)), "finetuned")
    else:
        _write_jsonl(run_dir / contract.EVAL / "finetuned.jsonl", finetuned["samples"])
    out["finetuned"] = finetuned
    out.setdefault("base", None)
    return out
