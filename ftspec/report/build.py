"""A finished run's report: report.json (format ``REPORT_FORMAT``, ``ftspec.report.contract``), report.html and the
model card in the weights folder. report.json is written last: it marks the run complete."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.core.hashing import sha256_file
from ftspec.plan.identity import eval_digest
from ftspec.plan.model import Plan
from ftspec.report.contract import REPORT_FORMAT, eval_section
from ftspec.runfolder import contract
from ftspec.runfolder.checkpoints import complete_checkpoints, weights_hashes


def _hardware() -> dict:
    import platform

    out = {"machine": platform.machine(), "processor": platform.processor() or None, "cpu_count": os.cpu_count(),
           "python": platform.python_version(), "gpus": []}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return out


def checkpoints(run_dir: Path) -> list[dict]:
    """Every complete checkpoint with the sha256 of its weights, so a later reader can trust it."""
    return [{"path": f"{contract.CHECKPOINTS}/{c.name}", "step": int(c.name.rsplit("-", 1)[-1]),
             "weights": {p.name: sha256_file(p) for p in sorted(c.glob("*.safetensors"))}}
            for c in complete_checkpoints(run_dir)]


def _reward_curves(rewards: dict | None) -> dict:
    """GRPO: ``loss.reward`` (the mean reward), ``loss.rewards`` (each reward's mean) and
    ``loss.completion_length``, each ``[[step, value], ...]``; nothing for a method without rewards."""
    if not rewards:
        return {}
    return {"reward": rewards["reward"], "rewards": rewards["by_reward"],
            "completion_length": rewards["completion_length"]}


def build_report(plan: Plan, run_dir: Path, weights: Path, result: dict, evaluation: dict | None,
                 lint: list | None = None) -> dict:
    """report.json's content; ``weights`` is the final weights folder."""
    return {
        "format": REPORT_FORMAT,
        "name": plan.name,
        "run_id": run_dir.name,
        "spec_name": plan.name,
        "method": plan.method,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": result.get("stopped", "completed"),
        "plan": {"optimizer_steps": plan.optimizer_steps, "train_tokens": plan.train_tokens.model_dump(),
                 "flops": plan.flops, "peak_memory_gib_per_device": plan.peak_memory_gib_per_device,
                 "wall_time_hours": plan.wall_time_hours, "cost_usd": plan.cost_usd, "fits": plan.fits},
        "actual": {"optimizer_steps": result["global_step"], "train_runtime_s": result.get("train_runtime_s"),
                   "tokens_per_second": result.get("tokens_per_second"),
                   "train_tokens_seen": result.get("train_tokens_seen"), "world_size": result.get("world_size"),
                   "peak_memory_gib": result.get("peak_memory_gib"), "resumed_from": result.get("resumed_from")},
        "loss": {"train": result["loss"]["train"], "validation": result["loss"]["validation"],
                 **_reward_curves(result.get("rewards"))},
        "overfitting": result.get("overfitting"),
        "best_checkpoint": result.get("best_checkpoint"),
        "eval": eval_section(evaluation),
        "data": plan.data.model_dump(mode="json"),
        "fingerprint": plan.fingerprint.model_dump(mode="json"),
        "versions": plan.fingerprint.versions,
        "seed": plan.spec.training.seed,
        "hardware": _hardware(),
        "lint": [f.to_dict() for f in lint or []],
        # The run this one trained on incrementally (model.base: run:<name> or a run folder), with its scores on this
        # run's holdout beside this run's; None for a run from a base model.
        "parent": (evaluation or {}).get("parent_run"),
        "sweep": plan.sweep.model_dump(mode="json") if plan.sweep else None,
        # The holdout scored at every saved checkpoint (eval.every_checkpoint), and which one the weights folder holds.
        "checkpoint_eval": (evaluation or {}).get("checkpoints"),
        "selected": (evaluation or {}).get("selected"),
        "checkpoints": checkpoints(run_dir),
        "eval_settings_sha256": eval_digest(plan),
        # Every file of the weights folder but the model card (rewritten with each report): what a later apply
        # checks before it trusts the run as finished.
        "final_weights": {"path": weights.name, "sha256": weights_hashes(weights)} if weights.is_dir() else None,
        "artifacts": {"adapter": weights.name if weights.name == contract.ADAPTER else None,
                      "model": weights.name if weights.name == contract.MODEL else None,
                      "tensorboard": contract.TENSORBOARD, "checkpoints": contract.CHECKPOINTS,
                      "eval_outputs": contract.EVAL if evaluation else None},
    }


def model_card(report: dict, plan: Plan, chat_template: str | None = None) -> str:
    spec = plan.spec
    lines = [f"# {plan.name}", "", spec.description or "", "",
             f"Fine-tuned from `{spec.model.base}` by ftspec ({plan.method.upper()}, {spec.adapter.type}).", "",
             "## Training", "",
             f"- optimizer steps: {report['actual']['optimizer_steps']} (planned {report['plan']['optimizer_steps']})",
             f"- epochs {spec.training.epochs}, micro-batch {spec.training.batch_size}, "
             f"learning rate {plan.job.trainer_args['learning_rate']}, seed {spec.training.seed}",
             f"- data: {spec.data.train} (sha256 {plan.fingerprint.data.get(spec.data.train, '')[:12]})",
             "", "## Evaluation (holdout)", ""]
    ev = report["eval"]
    if ev["finetuned"]:
        lines.append("| metric | base | fine-tuned |")
        lines.append("|---|---|---|")
        for name, value in ev["finetuned"].items():
            base = ev["base"].get(name) if ev["base"] else None
            lines.append(f"| {name} | {'—' if base is None else f'{base:.3f}'} | {value:.3f} |")
    else:
        lines.append("No holdout was configured.")
    if chat_template:
        source = "data.chat_template of the spec" if spec.data.chat_template else "the base model's own"
        lines += ["", "## Prompt format", "",
                  f"Prompt it with this chat template ({source}; it is also in this folder's tokenizer files):", "",
                  "```jinja", chat_template.rstrip("\n"), "```"]
    lines += ["", f"Reproduce: `ftspec apply {Path(plan.spec_file).name}` with the same data and library versions "
              "(see report.json).", ""]
    return "\n".join(lines)


def saved_chat_template(folder: Path) -> str | None:
    """The default chat template of a saved tokenizer folder (what the trainer saved with the weights)."""
    from ftspec.tokenizer.files import load_chat_template, read_json

    template = load_chat_template(folder, read_json(folder / "tokenizer_config.json"))
    return template.get("default") if isinstance(template, dict) else template


def write_report(plan: Plan, run_dir: Path, weights: Path, report: dict) -> None:
    from ftspec.report.html import render_report_html

    if weights.is_dir():
        write_text_atomic(weights / contract.MODEL_CARD, model_card(report, plan, saved_chat_template(weights)))
    write_text_atomic(run_dir / contract.REPORT_HTML, render_report_html(report))
    write_text_atomic(run_dir / contract.REPORT, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
