"""Views of a sweep's plans (``ftspec plan`` on a spec with ``sweep:``): one row per member and the total, as text or
as JSON (``{"sweep", "members", "total"}``, each member the plan JSON ``plan --format json`` gives for one spec)."""

from __future__ import annotations

import json

from ftspec.plan.identity import run_id
from ftspec.plan.model import Plan


def _sum(values: list):
    """The sum, or None when any member's figure is unknown (a partial sum would read as the whole)."""
    return None if any(v is None for v in values) else sum(values)


def totals(plans: list[Plan]) -> dict:
    fits = [p.fits for p in plans]
    cost = _sum([p.cost_usd for p in plans])
    return {
        "members": len(plans),
        "optimizer_steps": sum(p.optimizer_steps for p in plans),
        "train_tokens": _sum([p.train_tokens.total for p in plans]),
        "flops": _sum([p.flops for p in plans]),
        "wall_time_hours": _sum([p.wall_time_hours for p in plans]),
        "cost_usd": round(cost, 4) if cost is not None else None,
        # One member that does not fit refuses the sweep; None: no fit check for some member (the CPU).
        "fits": False if False in fits else (None if None in fits else True),
    }


def sweep_section(plans: list[Plan], mode: str, parameters: dict) -> dict:
    first = plans[0].sweep
    return {"id": first.id if first else None, "mode": mode, "parameters": parameters, "members": len(plans)}


def to_json(plans: list[Plan], mode: str, parameters: dict) -> str:
    doc = {"sweep": sweep_section(plans, mode, parameters), "members": [p.model_dump(mode="json") for p in plans],
           "total": totals(plans)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _num(value, fmt: str = ",") -> str:
    return "?" if value is None else f"{value:{fmt}}"


def _hours(value) -> str:
    return "?" if value is None else f"{value:.3g} h"


def _cost(value) -> str:
    return "?" if value is None else f"${value:,.2f}"


def _fits(value) -> str:
    return "n/a" if value is None else ("yes" if value else "NO")


def _values(plan: Plan) -> str:
    if plan.sweep is None:
        return ""
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in plan.sweep.values.items())


def to_text(plans: list[Plan], mode: str, spec: str) -> str:
    total = totals(plans)
    head = plans[0].sweep
    keys = list(dict.fromkeys(k for p in plans for k in (p.sweep.values if p.sweep else {})))
    rows = [("member", "values", "run id", "steps", "tokens", "time", "cost", "fits")]
    for p in plans:
        rows.append((str(p.sweep.index) if p.sweep else "", _values(p), run_id(p), _num(p.optimizer_steps),
                     ("~" if p.tokens_estimated else "") + _num(p.train_tokens.total), _hours(p.wall_time_hours),
                     _cost(p.cost_usd), _fits(p.fits)))
    rows.append(("total", f"{len(plans)} members", "", _num(total["optimizer_steps"]), _num(total["train_tokens"]),
                 _hours(total["wall_time_hours"]), _cost(total["cost_usd"]), _fits(total["fits"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    numeric = {3, 4, 5, 6}

    def line(row) -> str:
        return "  " + "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

    lines = [f"Sweep {head.id if head else ''}: {plans[0].name}, {len(plans)} members, {mode.replace('_', ' ')} "
             f"over {', '.join(keys)} ({spec})", line(rows[0])]
    lines += [line(r) for r in rows[1:-1]]
    lines += ["  " + "-" * (sum(widths) + 2 * (len(widths) - 1)), line(rows[-1])]
    lines.append(f"  each member is a run of its own: `ftspec plan {spec} --format json` has every member's whole plan")
    return "\n".join(line_.rstrip() for line_ in lines) + "\n"
