"""Views of a Plan: the human text summary and the JSON document (what -o writes and apply reads)."""

from __future__ import annotations

import json

from ftspec.plan.compile import Plan


def to_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


# A saved plan (`plan -o`) carries the sha256 of its own content, so an edit inside it (say, to
# job.trainer_args) is refused by apply rather than run.
DIGEST_KEY = "plan_sha256"


def _content_digest(doc: dict) -> str:
    import hashlib

    body = {k: v for k, v in doc.items() if k != DIGEST_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


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


def _num(value, fmt: str = ",", unit: str = "") -> str:
    return "unknown" if value is None else f"{value:{fmt}}{unit}"


def _adapter(spec: dict) -> str:
    a = spec["adapter"]
    return "full fine-tuning" if a["type"] == "full" else f"{a['type']} r={a['rank']} alpha={a['alpha']:g}"


def _data_line(plan: Plan) -> str:
    d, spec = plan.data, plan.spec
    parts = [f"{spec['data']['train']}: {d['train_file']} records"]
    if d.get("validation"):
        parts.append(f"{d['validation']} held for validation")
    for path, n in (d.get("mix") or {}).items():
        parts.append(f"{n} mixed in from {path}")
    if d.get("dropped_zero_weight"):
        parts.append(f"{d['dropped_zero_weight']} dropped (every assistant turn weighted 0)")
    if d.get("dropped_over_length"):
        parts.append(f"{d['dropped_over_length']} dropped over max_length {spec['data']['max_length']}")
    if d.get("truncated"):
        parts.append(f"{d['truncated']} truncated to max_length {spec['data']['max_length']}")
    if d.get("dropped_by_trainer"):
        parts.append(f"{d['dropped_by_trainer']} dropped by the trainer (no loss-bearing token left)")
    rows = d.get("rows")
    parts.append(f"{_num(rows)} rows to train on" + (" (packed)" if spec["data"]["packing"] else ""))
    return "; ".join(parts)


def to_text(plan: Plan) -> str:
    spec, layout, t = plan.spec, plan.layout, plan.spec["training"]
    lines = [
        f"Plan: {plan.name} — {plan.method.upper()}, {_adapter(spec)}, {spec['model']['base']}",
        f"  layout   {layout['num_processes']} process(es) on {layout['nodes']} node(s), {layout['accelerator']}, "
        f"distributed {layout['distributed']}, precision {layout['mixed_precision']}",
        f"  data     {_data_line(plan)}",
    ]
    how = "exact" if plan.optimizer_steps_exact else "ESTIMATE, no local tokenizer"
    lines.append(f"  steps    {plan.optimizer_steps:,} optimizer steps ({how}: {plan.data['rows']:,} rows, "
                 f"batch {t['batch_size']} x accumulation {t['gradient_accumulation']} x "
                 f"{layout['num_processes']} process(es), {t['epochs']:g} epochs)")
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
            if m["platform"] not in cheapest or m["cost"] < cheapest[m["platform"]]["cost"]:
                cheapest[m["platform"]] = m
        lines.append("  managed  " + "; ".join(f"{m['platform']} {m['model']} {m['cost']:,.2f} {m['currency']}"
                                               for m in cheapest.values()) + " (same tokens, their price per token)")
    if plan.fits is not None:
        lines.append(f"  fits     {'yes' if plan.fits else 'NO'}")
        for r in plan.remedies:
            mark = "fits" if r["fits"] else "still too big"
            lines.append(f"           - {r['action']}: {r['memory_gib']:.1f} GiB ({mark})")
    lines.append(f"  launch   {plan.launch['launch_line']}")
    for note in plan.notes:
        lines.append(f"  note     {note}")
    return "\n".join(lines) + "\n"
