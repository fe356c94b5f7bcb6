"""Compile a loaded spec into a Plan: the resolved job, its launch files, exact counts and the cost preview.

The Plan (``model.py``) is a data object (Terraform style): ``views.py`` renders it as text or JSON, ``apply``
executes exactly what it holds. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import math

from ftspec.launch import slurm
from ftspec.launch.files import render_launch
from ftspec.launch.layout import resolve_layout
from ftspec.methods import get_method
from ftspec.models.architectures import find_architecture
from ftspec.models.resolve import resolve_spec_model
from ftspec.models.template_overhead import template_overhead
from ftspec.pipeline.prepare import no_rows_cause, prepare
from ftspec.pipeline.setup import load_tokenizer
from ftspec.plan import fingerprint
from ftspec.plan.estimate import EstimateError, estimate
from ftspec.plan.estimate_terms import SPEC_ATTENTION, SPEC_LOSS_KERNELS, SPEC_OPTIMIZERS
from ftspec.plan.job import build_job, gradient_checkpointing, has_validation_rows, precision
from ftspec.plan.model import Plan, TrainTokens
from ftspec.plan.remedies import replan
from ftspec.platforms import managed_training_costs

NO_ROWS_RULE = "FT110"
SLURM_RULE = "FT008"  # ftspec/lint/rules/ft008_slurm_job.py  # ftspec/lint/rules/ft110_no_training_rows.py says the same in lint


class PlanError(Exception):
    """A spec that cannot be planned; ``spec_path`` says where (for a located message)."""

    def __init__(self, message: str, spec_path: tuple = (), file: str | None = None, line: int | None = None,
                 code: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.spec_path, self.file, self.line = message, spec_path, file, line
        self.code, self.hint = code, hint  # the lint rule that names the problem; FT000 when none does


def _arch(spec, ref) -> tuple[dict | None, str | None]:
    if ref.config:
        return ref.config, f"config.json of {ref.kind} model"
    arch = find_architecture(spec.model.base)
    return (arch, "ftspec's architecture catalogue") if arch else (None, None)


def _managed_costs(total_tokens: int | None) -> list[dict]:
    if not total_tokens:
        return []
    return [{"platform": p.platform, "model": p.model, "cost": round(cost, 4), "currency": p.currency,
             "price": p.price, "per_tokens": p.per_tokens, "source": p.source}
            for p, cost in managed_training_costs(total_tokens)]


def _check_slurm(spec, job, upper_hours: float | None) -> None:
    """A Slurm job that would be killed before it ends fails here: a time limit under the estimate (lint's FT008 has
    already refused more nodes than the partition has)."""
    section = spec.compute.slurm
    if section is None:
        return
    if section.time is not None and upper_hours is not None and job.minutes < upper_hours * 60:
        raise PlanError(f"compute.slurm.time is {job.minutes} minutes, under the plan's wall-time estimate of "
                        f"{upper_hours * 60:.0f} minutes (its upper band): the job would be killed before it ends",
                        ("compute", "slurm", "time"), code=SLURM_RULE,
                        hint=f"raise it to at least {slurm.time_limit(upper_hours)} minutes, or leave it out")


def build_plan(loaded, *, run_dir_placeholder: str = "RUN_DIR", remedies: bool = True, reuse=None) -> Plan:
    """Compile ``loaded`` (a LoadedSpec that passed lint) into a Plan; PlanError for what cannot run. When it does not
    fit, each remedy is planned again (``remedies.replan``); those re-plans pass ``remedies=False`` and, when their
    data settings are the same, ``reuse``: the (tokenizer, prepared data) already computed."""
    from ftspec.data.errors import PipelineError
    from ftspec.launch.layout import LayoutError

    spec = loaded.spec
    try:
        layout = resolve_layout(spec)
    except LayoutError as exc:
        raise PlanError(exc.message, exc.field) from None
    try:
        ref = resolve_spec_model(spec, loaded.dir, loaded.path)
    except ValueError as exc:
        raise PlanError(str(exc), ("model", "base")) from None
    notes: list[str] = []
    try:
        tok, prepared = reuse if reuse else (None, None)
        if prepared is None:
            tok = load_tokenizer(loaded)
            prepared = prepare(loaded, tok, records=False)  # counted, streamed: apply reads the rows
        if tok is None:
            exact = "exact (no sample can reach max_length)" if prepared.rows is not None else "an estimate"
            overhead = template_overhead(spec.model.base)
            template = (f" (with its chat template's {overhead[0]:g} tokens a sample and {overhead[1]:g} a message, "
                        f"measured on ftspec's {overhead[2]} fixture)" if overhead else "")
            notes.append(f"{spec.model.base}'s tokenizer is not on this machine: token counts are estimates{template} "
                         f"and the step count is {exact}; the training text's checks did not run (FT313-FT316); "
                         "download the model (or point model.base at a folder) for exact counts and the checks")
    except PipelineError as exc:
        raise PlanError(exc.message, exc.spec_path, exc.file, exc.line, exc.code, exc.hint) from None

    t = spec.training
    rows, exact_steps = prepared.rows, prepared.rows is not None
    if rows is None:  # no tokenizer and packing or possible drops: an estimate, flagged as one
        per = prepared.tokens_per_epoch or 0
        rows = math.ceil(per / spec.data.max_length) if spec.data.packing else prepared.counts["train"]
    if rows == 0:
        raise PlanError(no_rows_cause(prepared.counts, spec.data.max_length), ("data", "max_length"), code=NO_ROWS_RULE,
                        hint="raise data.max_length, shorten the samples, or set over_length: truncate")
    method = get_method(spec.method)
    try:
        steps = method.optimizer_steps(rows, spec, layout.num_processes)
    except ValueError as exc:  # transformers would refuse an empty dataloader (GRPO: or the batch arithmetic)
        raise PlanError(str(exc), ("training", "batch_size"), code=method.batch_rule) from None
    per_epoch = prepared.tokens_per_epoch
    total_tokens = math.ceil(per_epoch * t.epochs) if per_epoch is not None else None

    _, _, est_precision = precision(layout)
    checkpointing = gradient_checkpointing(spec, layout)
    arch, arch_source = _arch(spec, ref)
    est = None
    if arch is None:
        notes.append(f"no architecture known for {spec.model.base}: memory, FLOPs, time and cost are not estimated")
    else:
        trained, generated = method.compute_tokens(spec, total_tokens or 0, rows)
        seq_len = method.sequence_length(spec, prepared.max_seq_len) if prepared.max_seq_len else spec.data.max_length
        attention = prepared.attention_seq_len and method.sequence_length(spec, round(prepared.attention_seq_len))
        try:
            est = estimate(
                arch, adapter=spec.adapter.type, accelerator=layout.accelerator,
                train_tokens=trained, generated_tokens=generated,
                generation_kv_tokens=method.generation_kv_tokens(spec, seq_len, layout.num_processes),
                reference_model=method.reference_model(spec), rank=spec.adapter.rank,
                target_modules=spec.adapter.target_modules, micro_batch_size=t.batch_size, seq_len=seq_len,
                attention_seq_len=attention or None,
                gradient_checkpointing=checkpointing, precision=est_precision,
                num_processes=layout.num_processes, distributed=layout.distributed, nodes=layout.nodes,
                optimizer=SPEC_OPTIMIZERS[t.optimizer], loss_impl=SPEC_LOSS_KERNELS[t.loss_kernel],
                attention_impl=SPEC_ATTENTION[t.attention], liger=t.loss_kernel == "liger",
                optimizer_steps=steps, micro_batches=steps * t.gradient_accumulation,
            )
        except EstimateError as exc:
            notes.append(f"not estimated: {exc}")
        if est is not None and est.fit.remedies and remedies:
            offered = replan(loaded, est.fit.remedies, build_plan, PlanError, (tok, prepared))
            est = dataclasses.replace(est, fit=dataclasses.replace(est.fit, remedies=tuple(offered)))
        notes.append(f"model shape from {arch_source}")
    if prepared.validation and not has_validation_rows(prepared):
        notes.append("every validation sample loses all its loss-bearing tokens to max_length: no validation loss "
                     "(raise data.max_length or use over_length: drop)")
    notes += get_method(spec.method).plan_notes(spec)
    if prepared.render_date:
        notes.append(f"the chat template writes the date it is rendered on: rendered with "
                     f"{prepared.render_date.isoformat()}, pinned in the plan (a saved plan trains the same text on "
                     "any day)")
    if prepared.training_template:
        notes.append("assistant-only loss: TRL has no training template for this chat template; ftspec trains with "
                     "one derived from it (the same text, the assistant's turns marked, each end-of-turn token "
                     "included)")
    if total_tokens is None:
        notes.append("train_tokens unknown: FLOPs, time and cost are not estimated")

    have_cost = est is not None and total_tokens is not None
    upper_hours = est.wall_time_range_hours[1] if have_cost else None
    slurm_job = slurm.job_settings(spec.compute.slurm, upper_hours)
    _check_slurm(spec, slurm_job, upper_hours)
    launch = render_launch(layout, run_dir=run_dir_placeholder, job_name=spec.name, slurm_job=slurm_job)
    job = build_job(spec, ref, layout, prepared, steps, loaded.dir)
    price = spec.compute.price_per_gpu_hour
    cost = None
    if have_cost:
        cost = est.gpu_hours * price if price is not None else est.cost_usd
    return Plan(
        name=spec.name, method=spec.method, spec_file=str(loaded.path), spec=spec,
        fingerprint=fingerprint.compute(loaded, ref),
        optimizer_steps=steps, optimizer_steps_exact=exact_steps,
        tokens_estimated=prepared.tokens_estimated,
        train_tokens=TrainTokens(per_epoch=per_epoch, loss_bearing_per_epoch=prepared.loss_tokens_per_epoch,
                                 total=total_tokens),
        flops=est.total_flops if have_cost else None,
        peak_memory_gib_per_device=round(est.memory.total, 2) if est else None,
        wall_time_hours=est.wall_time_hours if have_cost else None,
        cost_usd=round(cost, 4) if cost is not None else None,
        fits=est.fit.fits if est else None,
        managed_costs=_managed_costs(total_tokens) if method.managed_token_prices else [],
        remedies=[{"action": r.action, "change": r.change, "memory_gib": r.memory_gib, "fits": r.fits,
                   "sets": list(r.sets)} for r in (est.fit.remedies if est else ())],
        data={**prepared.counts, "rows": rows, "max_seq_len": prepared.max_seq_len},
        layout=layout,
        launch=launch,
        job=job,
        estimate=est.to_dict() if est else None,
        notes=notes + (list(est.notes) if est else []),
    )
