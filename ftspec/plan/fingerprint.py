"""What a plan was computed from: spec, data, model files, library versions and seed, each hashed.

``apply PLANFILE`` recomputes this and refuses to run when anything differs, naming what changed
(Terraform's "saved plan is stale"). Library versions come from package metadata, so nothing is imported.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from ftspec.spec.rewards import PythonReward, module_file, python_reward_parts
from ftspec.core.hashing import sha256_file
from ftspec.plan.model import Fingerprint

LIBRARIES = ("ftspec", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "tokenizers")
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
               "generation_config.json")


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def data_files(loaded) -> dict[str, Path]:
    """Every dataset the spec names, keyed by the spec's own path text."""
    spec = loaded.spec
    names = [spec.data.train, *(m.path for m in spec.data.mix)]
    if isinstance(spec.data.validation, str):
        names.append(spec.data.validation)
    if spec.eval.holdout:
        names.append(spec.eval.holdout)
    if spec.data.chat_template:  # it shapes every training row
        names.append(spec.data.chat_template)
    files = {name: loaded.resolve(name) for name in names}
    for reward in spec.rewards:  # a python reward's code decides what the policy learns
        if isinstance(reward, PythonReward):
            path = module_file(python_reward_parts(reward)[0], loaded.dir)
            files[path.relative_to(loaded.dir).as_posix()] = path
    return files


def model_files(model_dir: Path | None) -> dict[str, str]:
    """Hashes of the files that shape tokenization and the architecture (weights are too big to hash)."""
    if model_dir is None:
        return {}
    return {name: sha256_file(model_dir / name) for name in MODEL_FILES if (model_dir / name).is_file()}


def compute(loaded, model_ref) -> Fingerprint:
    """The fingerprint of ``loaded`` (a LoadedSpec) whose model resolved to ``model_ref`` (a ModelRef)."""
    spec = loaded.spec
    model_dir = model_ref.local_dir if model_ref.kind != "hub" else None
    resolved = json.dumps(spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return Fingerprint.model_validate({
        "spec_file": str(loaded.path),
        "spec_sha256": sha256_file(loaded.path),
        "resolved_spec_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
        "data": {name: sha256_file(path) if path.is_file() else "missing" for name, path in data_files(loaded).items()},
        "model": {"base": spec.model.base, "revision": spec.model.revision, "files": model_files(model_dir),
                  "parent": model_ref.parent.fingerprint_entry() if getattr(model_ref, "parent", None) else None},
        "versions": library_versions(),
        "seed": spec.training.seed,
    })


def differences(saved: Fingerprint, current: Fingerprint) -> list[str]:
    """What changed between two fingerprints, one line each; empty when they match."""
    saved, current = saved.model_dump(), current.model_dump()
    out: list[str] = []
    if saved.get("spec_sha256") != current.get("spec_sha256"):
        what = "its settings" if saved.get("resolved_spec_sha256") != current.get("resolved_spec_sha256") else "text only"
        out.append(f"the spec file changed ({what}): {current.get('spec_file')}")
    elif saved.get("resolved_spec_sha256") != current.get("resolved_spec_sha256"):
        out.append("the spec's settings changed through a spec it extends")
    for name in sorted(set(saved.get("data", {})) | set(current.get("data", {}))):
        old, new = saved.get("data", {}).get(name), current.get("data", {}).get(name)
        if old != new:
            out.append(f"data file {name} changed (sha256 {str(old)[:12]} -> {str(new)[:12]})")
    old_model, new_model = saved.get("model", {}), current.get("model", {})
    if (old_model.get("base"), old_model.get("revision")) != (new_model.get("base"), new_model.get("revision")):
        out.append(f"the model changed: {old_model.get('base')}@{old_model.get('revision')} -> "
                   f"{new_model.get('base')}@{new_model.get('revision')}")
    old_parent, new_parent = old_model.get("parent") or {}, new_model.get("parent") or {}
    if old_parent.get("weights_sha256") != new_parent.get("weights_sha256"):
        out.append(f"the run it trains on changed: {old_parent.get('run_id')} -> {new_parent.get('run_id')}")
    for name in sorted(set(old_model.get("files", {})) | set(new_model.get("files", {}))):
        if old_model.get("files", {}).get(name) != new_model.get("files", {}).get(name):
            out.append(f"model file {name} changed")
    for lib in sorted(set(saved.get("versions", {})) | set(current.get("versions", {}))):
        old, new = saved.get("versions", {}).get(lib), current.get("versions", {}).get(lib)
        if old != new:
            out.append(f"{lib} version changed: {old} -> {new}")
    if saved.get("seed") != current.get("seed"):
        out.append(f"seed changed: {saved.get('seed')} -> {current.get('seed')}")
    return out
