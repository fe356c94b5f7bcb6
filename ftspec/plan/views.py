"""Views of a Plan: the human text summary and the JSON document (``plan --format json``; ``planfile`` saves it)."""

from __future__ import annotations

import json

from ftspec.plan.model import Plan


def to_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _num(value, fmt: str = ",", unit: str = "") -> str:
    return "unknown" if value is None else f"{value:{fmt}}{unit}"


def _adapter(plan: Plan) -> str:
    a = plan.spec.adapter
    return "full fine-tuning" if a.type == "full" else f"{a.type} r={a.rank} alpha={a.alpha:g}"


def _data_line(plan: Plan) -> str:
    d, data = plan.data, plan.spec.data
    parts = [f"{data.train}: {d.train_file} records"]
    if d.validation:
        parts.append(f"{d.validation} held for validation")
    for path, n in (d.mix or {}).items():
        parts.append(f"{n} mixed in from {path}")
    if d.dropped_zero_weight:
        parts.append(f"{d.dropped_zero_weight} dropped (every assistant turn weighted 0)")
    if d.dropped_over_length:
        parts.append(f"{d.dropped_over_length} dropped over max_length {data.max_length}")
    if d.truncated:
        parts.append(f"{d.truncated} truncated to max_length {data.max_length}")
    if d.dropped_by_trainer:
        parts.append(f"{d.dropped_by_trainer} dropped by the trainer (no loss-bearing token left)")
    parts.append(f"{_num(d.rows)} rows to train on" + (" (packed)" if data.packing else ""))
    return "; ".join(parts)


def to_text(plan: Plan) -> str:
    layout, t = plan.layout, plan.spec.training
    lines = [
        f"Plan: {plan.name} — {plan.method.upper()}, {_adapter(plan)}, {plan.spec.model.base}",
        f"  layout   {layout.num_processes} process(es) on {layout.nodes} node(s), {layout.accelerator}, "
        f"distributed {layout.distributed}, precision {layout.mixed_precision}",
        f"  data     {_data_line(plan)}",
    ]
    how = "exact" if plan.optimizer_steps_exact else "ESTIMATE, no local tokenizer"
    lines.append(f"  steps    {plan.optimizer_steps:,} optimizer steps ({how}: {plan.data.rows:,} rows, "
                 f"batch {t.batch_size} x accumulation {t.gradient_accumulation} x "
                 f"{layout.num_processes} process(es), {t.epochs:g} epochs)")
    tt = plan.train_tokens
    approx = "~" if plan.tokens_estimated else ""
    lines.append(f"  tokens   {approx}{_num(tt.per_epoch)} per epoch ({_num(tt.loss_bearing_per_epoch)} loss-bearing), "
                 f"{_num(tt.total)} in all")
    lines.append(f"  compute  {_num(plan.flops, '.3g')} FLOPs")
    if plan.peak_memory_gib_per_device is not None:
        where = "host RAM, no fit check" if plan.fits is None else "per device"
        lines.append(f"  memory   {plan.peak_memory_gib_per_device:.2f} GiB {where}")
    if plan.wall_time_hours is not None:
        lines.append(f"  time     {plan.wall_time_hours:.3g} h wall clock")
    if plan.cost_usd is not None:
        lines.append(f"  cost     ${plan.cost_usd:,.2f}")
    if plan.managed_costs:
        cheapest = {}
        for m in plan.managed_costs:  # one line per platform: its cheapest listed model
            if m.platform not in cheapest or m.cost < cheapest[m.platform].cost:
                cheapest[m.platform] = m
        lines.append("  managed  " + "; ".join(f"{m.platform} {m.model} {m.cost:,.2f} {m.currency}"
                                               for m in cheapest.values()) + " (same tokens, their price per token)")
    if plan.fits is not None:
        lines.append(f"  fits     {'yes' if plan.fits else 'NO'}")
        for r in plan.remedies:
            mark = "fits" if r.fits else "still too big"
            sets = "".join(f" --set {kv}" for kv in r.sets)
            lines.append(f"           - {r.action}: {r.memory_gib:.1f} GiB ({mark})" + (f" [{sets.strip()}]" if sets else ""))
    lines.append(f"  launch   {plan.launch.launch_line}")
    for note in plan.notes:
        lines.append(f"  note     {note}")
    return "\n".join(lines) + "\n"
