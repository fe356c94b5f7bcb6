"""A plan's identity: the run id (a digest of what the trained weights depend on), the digest of what its evaluation
depends on, and the folder its runs go to: ``<output.dir>/<name>/<run-id>/``. Applying an unchanged spec therefore
finds its finished run (nothing to do) or its interrupted one (resume)."""

from __future__ import annotations

from pathlib import Path

from ftspec.core.hashing import json_sha256
from ftspec.plan.model import Plan

# Spec sections that cannot change the trained weights: editing them re-evaluates a finished run
# instead of training it again.
NOT_TRAINING = ("eval", "lint", "description", "output", "tracking", "sweep")
ADDED_DEFAULTS = {("loss_kernel", "fused"), ("attention", "auto")}


def training_inputs(plan: Plan) -> dict:
    """What the trained weights depend on: the spec without its evaluation (and other non-training)
    settings, the training data, the model, library versions, seed and the job."""
    fp = plan.fingerprint
    spec = {k: v for k, v in plan.spec.model_dump(mode="json").items() if k not in NOT_TRAINING}
    spec["compute"] = {k: v for k, v in spec["compute"].items() if k != "price_per_gpu_hour"}
    # Settings added after runs existed count only away from their default, so those runs keep their ids.
    spec["training"] = {k: v for k, v in spec["training"].items() if (k, v) not in ADDED_DEFAULTS}
    data = plan.spec.data
    holdout = plan.spec.eval.holdout
    training_data = {name for name in (data.train, data.validation, *(m.path for m in data.mix)) if isinstance(name, str)}
    hashes = {k: v for k, v in fp.data.items() if k != holdout or k in training_data}
    # Where python rewards are imported from is a machine's path; their code is in the data hashes.
    job = {k: v for k, v in plan.job.model_dump(mode="json").items() if k != "rewards_dir"}
    # Which loggers the trainer feeds (tracking:) cannot change the weights: every run counts as TensorBoard's, the
    # value every run had before tracking: existed, so no earlier run id changes.
    job["trainer_args"] = {**job["trainer_args"], "report_to": ["tensorboard"]}
    model = fp.model.model_dump(mode="json")
    if model.get("parent"):  # the parent's weights, not where its folder happens to be
        model["parent"] = {k: v for k, v in model["parent"].items() if k != "folder"}
    return {"spec": spec, "data": hashes, "model": model, "versions": fp.versions,
            "seed": fp.seed, "job": job}


def run_id(plan: Plan) -> str:
    return json_sha256(training_inputs(plan))[:12]


def eval_digest(plan: Plan) -> str:
    """What the evaluation depends on beyond the weights: the eval settings and the holdout file."""
    ev = plan.spec.eval
    return json_sha256({"eval": ev.model_dump(mode="json"), "holdout": plan.fingerprint.data.get(ev.holdout),
                        "system_prompt": plan.spec.data.system_prompt})


def run_root(plan: Plan) -> Path:
    spec_dir = Path(plan.spec_file).resolve().parent
    out = Path(plan.spec.output.dir).expanduser()
    return (out if out.is_absolute() else spec_dir / out) / plan.name
