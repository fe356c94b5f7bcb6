"""Saved plans (Terraform's planfile): ``ftspec plan -o FILE`` writes one, ``ftspec apply FILE`` reads it back and
applies it only while every input it was computed from is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from ftspec.core.atomic import write_text_atomic
from ftspec.core.hashing import json_sha256
from ftspec.plan.model import Plan
from ftspec.spec.source import MAX_BYTES as SPEC_MAX_BYTES

# A saved plan carries the sha256 of its own content, so an edit inside it (say, to job.trainer_args) is refused by
# apply rather than run.
DIGEST_KEY = "plan_sha256"


class SavedPlanError(Exception):
    """The saved plan cannot be applied: ``lines`` say why (the first sums up), ``findings`` are the spec's own
    problems when it no longer loads."""

    def __init__(self, lines: list[str], findings: list | None = None):
        super().__init__(lines[0])
        self.lines, self.findings = lines, findings or []


def _content_digest(doc: dict) -> str:
    return json_sha256({k: v for k, v in doc.items() if k != DIGEST_KEY})


def to_saved_json(plan: Plan) -> str:
    doc = plan.model_dump(mode="json")
    doc[DIGEST_KEY] = _content_digest(doc)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def looks_like_saved_plan(doc: object) -> bool:
    return isinstance(doc, dict) and "job" in doc and "fingerprint" in doc and "spec_file" in doc


def from_saved_json(doc: dict) -> Plan:
    """The Plan in a saved plan document; ValueError when its content is not what `plan -o` wrote."""
    if doc.get(DIGEST_KEY) != _content_digest(doc):
        raise ValueError("its content was edited after `ftspec plan -o` wrote it (the plan_sha256 it carries does "
                         "not match)")
    return Plan.model_validate({k: v for k, v in doc.items() if k != DIGEST_KEY})


def is_saved_plan(target: str) -> bool:
    """A saved plan is told from a spec by its content (a JSON spec is a spec), not by its name."""
    if not target.endswith(".json"):
        return False
    try:
        with Path(target).open("rb") as fh:
            return looks_like_saved_plan(json.loads(fh.read(SPEC_MAX_BYTES * 50)))
    except (OSError, ValueError):
        return True  # not a spec either: the saved-plan reader says what is wrong with it


def save_plan(plan: Plan, path: Path) -> None:
    """Write ``plan`` to ``path`` with its spec's path resolved, so the saved plan applies from any folder."""
    spec_file = str(Path(plan.spec_file).resolve())
    saved = plan.model_copy(update={"spec_file": spec_file,
                                    "fingerprint": plan.fingerprint.model_copy(update={"spec_file": spec_file})})
    write_text_atomic(Path(path), to_saved_json(saved))


def load_saved_plan(path: str):
    """(LoadedSpec, Plan) of a plan saved with `plan -o`, checked against its inputs as they are now;
    SavedPlanError when it cannot be applied."""
    from ftspec.models.resolve import resolve_spec_model
    from ftspec.plan import fingerprint
    from ftspec.spec.load import load_specs

    try:
        plan = from_saved_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise SavedPlanError([f"ftspec: {path}: not a usable saved plan: {str(exc).splitlines()[0]}; run `ftspec plan "
                              f"SPEC -o {path}` again"]) from None
    if not Path(plan.spec_file).is_file():
        raise SavedPlanError([f"{path}: the plan's spec {plan.spec_file} is gone; run `ftspec plan` again"])
    loaded_specs, findings = load_specs((plan.spec_file,))
    if not loaded_specs:
        raise SavedPlanError([f"{path}: the saved plan is stale: its spec no longer loads; fix it and run `ftspec plan` "
                              "again"], findings)
    loaded = loaded_specs[0]
    ref = resolve_spec_model(loaded.spec, loaded.dir, loaded.path)
    changed = fingerprint.differences(plan.fingerprint, fingerprint.compute(loaded, ref))
    if changed:
        raise SavedPlanError([f"{path}: the saved plan is stale; its inputs changed since it was made:",
                              *(f"  - {line}" for line in changed),
                              f"run `ftspec plan {plan.spec_file} -o {path}` again and review it"])
    return loaded, plan
