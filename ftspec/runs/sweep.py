"""A sweep as runs: every member planned (the whole sweep refused when one member cannot run), then applied one after
another here or submitted as one Slurm job array. Each member is a normal run folder ``<output.dir>/<name>/<run-id>/``
whose plan (and so report.json) names its sweep; an unchanged member finds its finished run and trains nothing."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ftspec.core.findings import Finding
from ftspec.plan.compile import PlanError, build_plan
from ftspec.plan.identity import run_id, run_root
from ftspec.plan.model import Plan, SweepMember
from ftspec.plan.planning import NoPlan, does_not_fit, error_finding, plan_loaded
from ftspec.runfolder.locks import RunLocked
from ftspec.runs.errors import ApplyError
from ftspec.runs.trust import report_problem
from ftspec.spec.load import LoadedSpec, SpecErrors, findings_of
from ftspec.spec.sweep import Member, sweep_members

TRAINED, NOTHING_TO_DO, SUBMITTED, FAILED = "trained", "nothing to do", "submitted", "FAILED"


@dataclass
class PlannedMember:
    member: Member
    plan: Plan  # its ``sweep`` set
    findings: list[Finding] = field(default_factory=list)  # lint's warnings and infos

    @property
    def loaded(self) -> LoadedSpec:
        return self.member.loaded


@dataclass
class Outcome:
    """What became of one member: its status, run folder and, when it failed, why (and the exit code it gave)."""

    member: Member
    status: str
    run_dir: Path | None = None
    error: str | None = None
    code: int = 0
    job: str | None = None  # the Slurm array task, JOB_TASK


def members_or_no_plan(loaded: LoadedSpec, display: str) -> list[Member]:
    try:
        return sweep_members(loaded)
    except SpecErrors as exc:
        raise NoPlan(f"no plan: the sweep of {display} is not valid", findings_of(exc)) from None


def _prefixed(member: Member, findings: list[Finding]) -> list[Finding]:
    who = f"sweep member {member.index} ({member.label}): "
    return [dataclasses.replace(f, message=who + f.message, extra={**f.extra, "sweep_member": member.index})
            for f in findings]


def _shared_run_folders(loaded: LoadedSpec, planned: list[PlannedMember]) -> list[Finding]:
    """Members that would train into one run folder: values of settings that do not change the weights (eval, lint,
    tracking...) leave the run id as it is, so they would overwrite each other's evaluation."""
    by_dir: dict[Path, list[PlannedMember]] = defaultdict(list)
    for pm in planned:
        by_dir[run_root(pm.plan) / run_id(pm.plan)].append(pm)
    out = []
    for folder, same in by_dir.items():
        if len(same) < 2:
            continue
        keys = list(dict.fromkeys(k for pm in same for k in pm.member.values))
        loc = loaded.locate("sweep", "parameters", keys[0], key=True)
        out.append(Finding(
            "FT000", "error", f"sweep members {', '.join(str(pm.member.index) for pm in same)} "
            f"({' / '.join(pm.member.label for pm in same)}) train the same weights, into one run folder {folder.name}",
            loc.file, loc.line, loc.column,
            hint=f"{', '.join(keys)} do not change training (editing them re-evaluates a run): sweep training "
                 "settings, or evaluate one run with each setting"))
    return out


def plan_sweep(loaded: LoadedSpec, display: str | None = None) -> list[PlannedMember]:
    """Plan every member of ``loaded``'s sweep; NoPlan, with each refused member's findings prefixed by which member
    it is, when any member has a lint error, cannot be planned or does not fit."""
    display = display or str(loaded.path)
    members = members_or_no_plan(loaded, display)
    planned, refused, failing = [], [], []
    for m in members:
        try:
            got = plan_loaded(m.loaded, display)
        except NoPlan as exc:
            refused += _prefixed(m, exc.findings)
            failing.append(m.index)
            continue
        plan = got.plan.model_copy(update={"sweep": SweepMember(id=m.id, index=m.index, of=m.of, values=m.values)})
        if plan.fits is False:
            refused += _prefixed(m, [does_not_fit(m.loaded, plan)])
            failing.append(m.index)
        planned.append(PlannedMember(m, plan, [f for f in got.findings if f.severity != "error"]))
    refused += _shared_run_folders(loaded, planned)
    if refused:
        which = f"member(s) {', '.join(map(str, failing))} of {len(members)}" if failing else "its members"
        raise NoPlan(f"no plan for the sweep of {display}: {which} cannot run as planned", refused)
    return planned


def _planned_folder(pm: PlannedMember) -> Path:
    return run_root(pm.plan) / run_id(pm.plan)


def apply_sweep(planned: list[PlannedMember], *, force: bool = False, echo=print) -> list[Outcome]:
    """Apply each member in turn; a member that fails is reported and the rest still run."""
    from ftspec.runs.apply import apply_plan

    outcomes = []
    for pm in planned:
        m = pm.member
        echo(f"sweep member {m.index} of {m.of}: {m.label}")
        done = not force and report_problem(pm.plan, _planned_folder(pm)) is None
        try:
            run_dir = apply_plan(m.loaded, pm.plan, force=force, echo=echo, lint=pm.findings)
        except (ApplyError, RunLocked) as exc:
            outcomes.append(Outcome(m, FAILED, _planned_folder(pm), getattr(exc, "message", str(exc)),
                                    getattr(exc, "code", 1)))
        except Exception as exc:  # noqa: BLE001 - one member's internal error must not cost the others their runs
            outcomes.append(Outcome(m, FAILED, _planned_folder(pm), f"internal error: {type(exc).__name__}: {exc}", 2))
        else:
            outcomes.append(Outcome(m, NOTHING_TO_DO if done else TRAINED, run_dir))
            continue
        echo(f"sweep member {m.index} failed: {outcomes[-1].error}; going on with the rest")
    return outcomes


def submit_sweep(planned: list[PlannedMember], *, force: bool = False, wait: bool = False,
                 echo=print) -> list[Outcome]:
    """Write every unfinished member's run folder and submit them all as one Slurm job array (one task each; finished
    members are left out); with ``wait``, wait for every task."""
    from ftspec.runs.cluster import submit_array, wait_for_job, write_job_folder

    outcomes: dict[int, Outcome] = {}
    pending = []
    for pm in planned:
        m = pm.member
        try:
            run_dir, bound = write_job_folder(pm.loaded, pm.plan, force=force, echo=echo, lint=pm.findings)
        except (ApplyError, RunLocked) as exc:
            outcomes[m.index] = Outcome(m, FAILED, _planned_folder(pm), getattr(exc, "message", str(exc)), 1)
            continue
        if bound is None:
            outcomes[m.index] = Outcome(m, NOTHING_TO_DO, run_dir)
        else:
            pending.append((m, run_dir, bound))
    if pending:
        first = pending[0][2]
        sweep_dir = run_root(first) / f"sweep-{first.sweep.id if first.sweep else 'members'}"
        try:
            job = submit_array([(d, b) for _, d, b in pending], sweep_dir=sweep_dir, job_name=first.name, echo=echo)
        except ApplyError as exc:
            for m, d, _ in pending:
                outcomes[m.index] = Outcome(m, FAILED, d, exc.message, exc.code)
            pending = []
        for task, (m, d, _) in enumerate(pending):
            outcomes[m.index] = Outcome(m, SUBMITTED, d, job=f"{job}_{task}")
        for m, d, _ in pending if wait else ():
            try:
                wait_for_job(d, outcomes[m.index].job, echo=echo)
                outcomes[m.index].status = TRAINED
            except ApplyError as exc:
                outcomes[m.index] = Outcome(m, FAILED, d, exc.message, exc.code, outcomes[m.index].job)
    return [outcomes[pm.member.index] for pm in planned]


def summary_lines(outcomes: list[Outcome]) -> list[str]:
    """One line per member, then the count of each status."""
    lines = []
    for o in outcomes:
        where = f"  {o.run_dir}" if o.run_dir else ""
        job = f" (Slurm job {o.job})" if o.job else ""
        why = f": {o.error}" if o.error else ""
        lines.append(f"member {o.member.index}  {o.member.label}  {o.status}{job}{why}{where}")
    counts = {s: sum(o.status == s for o in outcomes) for s in (TRAINED, NOTHING_TO_DO, SUBMITTED, FAILED)}
    if outcomes:
        lines.append(f"sweep {outcomes[0].member.id}: " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n))
    return lines


def exit_code(outcomes: list[Outcome]) -> int:
    """0 when no member failed, else the first failed member's code."""
    return next((o.code or 1 for o in outcomes if o.status == FAILED), 0)


def member_run_dirs(loaded: LoadedSpec) -> list[tuple[dict, Path]]:
    """Each member's values and the run folder it trains into (``ftspec compare SPEC``); a spec without a sweep is
    one member with no values. Nothing is linted or written; SpecErrors for a bad sweep, NoPlan for a member that
    cannot be planned."""
    members = sweep_members(loaded) or [None]
    out = []
    for m in members:
        member_loaded = m.loaded if m else loaded
        try:
            plan = build_plan(member_loaded)
        except PlanError as exc:
            raise NoPlan(f"no plan for {loaded.path}", [error_finding(member_loaded, exc)]) from None
        out.append((dict(m.values) if m else {}, run_root(plan) / run_id(plan)))
    return out
