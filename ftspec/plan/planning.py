"""Plan a spec as a library call: load, lint, compile. ``plan_spec`` returns the plan or raises ``NoPlan`` with the
located findings that say why; it never exits the process, so a sweep, a test or a script can plan several specs."""

from __future__ import annotations

from dataclasses import dataclass, field

from ftspec.core.findings import Finding
from ftspec.lint.engine import run_lint
from ftspec.plan.compile import PlanError, build_plan
from ftspec.plan.model import Plan
from ftspec.plan.trackers import check_trackers
from ftspec.spec.load import LoadedSpec, load_specs


class NoPlan(Exception):
    """The spec gets no plan: ``findings`` are the located reasons, ``message`` sums them up."""

    def __init__(self, message: str, findings: list[Finding]):
        super().__init__(message)
        self.message, self.findings = message, findings


@dataclass
class Planned:
    loaded: LoadedSpec
    plan: Plan
    findings: list[Finding] = field(default_factory=list)  # lint's warnings and infos (an error means no plan)


def error_finding(loaded: LoadedSpec, exc: PlanError) -> Finding:
    """A PlanError as a finding, located in the data file or at the spec key it names."""
    code = exc.code or "FT000"
    if exc.file:
        return Finding(code, "error", exc.message, exc.file, exc.line, None, hint=exc.hint)
    loc = loaded.locate(*exc.spec_path) if exc.spec_path else None
    return Finding(code, "error", exc.message, loc.file if loc else str(loaded.path),
                   loc.line if loc else None, loc.column if loc else None, hint=exc.hint)


def does_not_fit(loaded: LoadedSpec, plan: Plan) -> Finding:
    """FT501 at compute.accelerator, with the remedies that would fit."""
    loc = loaded.locate("compute", "accelerator")
    fitting = [r for r in plan.remedies if r.fits]
    hint = ("would fit: " + "; ".join(f"{r.action} ({r.memory_gib:.1f} GiB)" for r in fitting)) if fitting \
        else "no single change fits; combine the remedies above or use a larger GPU"
    limit = plan.estimate["fit"]["limit_gib"] if plan.estimate else None
    return Finding("FT501", "error", f"does not fit: {plan.peak_memory_gib_per_device:.1f} GiB per device predicted, "
                   f"{limit} GiB usable on {plan.layout.accelerator}", loc.file, loc.line, loc.column, hint=hint)


def plan_loaded(loaded: LoadedSpec, display: str | None = None) -> Planned:
    """Lint and compile a loaded spec; NoPlan when lint finds an error or the spec cannot be planned. ``display``:
    the spec's path as the user wrote it, for the messages."""
    display = display or str(loaded.path)
    # The plan tokenizes every sample exactly; lint's own token pass would only repeat that work.
    findings = run_lint(loaded, count_tokens=False)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise NoPlan(f"no plan: {len(errors)} lint error(s) in {display}", findings)
    try:
        check_trackers(loaded.spec, loaded.dir)  # a tracker that could not log is refused before anything trains
        plan = build_plan(loaded)
    except PlanError as exc:
        raise NoPlan(f"no plan for {display}", [error_finding(loaded, exc)]) from None
    return Planned(loaded, plan, findings)


def plan_spec(spec_path: str) -> Planned:
    """Load, lint and plan one spec file."""
    loaded_specs, findings = load_specs((spec_path,))
    if not loaded_specs:
        raise NoPlan(f"no plan: {spec_path} does not load", findings)
    return plan_loaded(loaded_specs[0], spec_path)
