"""Every remedy the plan offers is a spec the plan accepts.

The memory model (``memory.fit_remedies``) proposes changes to a training setup; this module turns each into the
``--set`` values that make it a spec change, lints and plans that spec exactly as ``plan_loaded`` would (layout rules,
the data pipeline, the method's batch arithmetic, Slurm limits, lint errors), and offers only what gets a plan, with
the memory that plan predicts. A proposal the planner refuses (QLoRA sharded with ZeRO-3; ZeRO without DeepSpeed
installed; a max_length that drops every sample) is tried in its FSDP form where that exists, else dropped.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

from ftspec.launch.layout import resolve_layout
from ftspec.lint.engine import run_lint
from ftspec.plan.estimate_terms import SPEC_OPTIMIZERS
from ftspec.plan.memory import Remedy
from ftspec.spec.sweep import SetError, show, with_sets

GPUS_PER_NODE = 8  # a sharding remedy past one node fills nodes of this many GPUs (the usual HGX/DGX node)
_ZERO3_LABEL, _FSDP_LABEL = "DeepSpeed ZeRO-3", "FSDP"


def _sets(spec, values: dict) -> list[str]:
    """The --set values, leaving out what the spec already says (compute.nodes=1 on one node)."""
    def current(key):
        value = spec
        for part in key.split("."):
            value = getattr(value, part, None)
        return value

    return [f"{key}={show(value)}" for key, value in values.items() if value != current(key)]


def _sharding(spec, world: int, distributed: str) -> dict:
    compute = spec.compute
    node = max(GPUS_PER_NODE, compute.gpus_per_node)
    per_node = world if compute.nodes == 1 and world <= node else min(world, node)
    values = {"compute.gpus_per_node": per_node, "compute.nodes": math.ceil(world / per_node),
              "compute.distributed": distributed}
    if compute.processes_per_node is not None:
        values["compute.processes_per_node"] = per_node
    return values


def candidates(remedy: Remedy, spec, layout) -> list[tuple[str, dict]]:
    """The spec changes that make ``remedy``, in order of preference: (action, {dotted key: value}). Empty when the
    spec has no key for it. A candidate that
    moves compute.distributed says so in its values; ``replan`` carries that into the remedy's ``change``."""
    change = remedy.change
    if "gradient_checkpointing" in change:
        return [(remedy.action, {"training.gradient_checkpointing": change["gradient_checkpointing"]})]
    if "adapter" in change:
        values = {"adapter.type": change["adapter"]}
        if change.get("rank", spec.adapter.rank) != spec.adapter.rank:
            values["adapter.rank"] = change["rank"]
        if change.get("target_modules", spec.adapter.target_modules) != spec.adapter.target_modules:
            targets = change["target_modules"]
            values["adapter.target_modules"] = targets if isinstance(targets, str) else list(targets)
        out = [(remedy.action, values)]
        if change["adapter"] == "qlora" and layout.distributed == "zero3":
            out.append((f"{remedy.action}, sharded with {_FSDP_LABEL} instead ({_ZERO3_LABEL} cannot shard 4-bit "
                        "weights)", {**values, "compute.distributed": "fsdp"}))
        return out
    if "micro_batch_size" in change:
        mbs = change["micro_batch_size"]
        factor = max(1, spec.training.batch_size // mbs)
        return [(remedy.action, {"training.batch_size": mbs,
                                 "training.gradient_accumulation": spec.training.gradient_accumulation * factor})]
    if "num_processes" in change:
        world, strategy = change["num_processes"], change["distributed"]
        out = []
        for distributed in dict.fromkeys((strategy, "fsdp")):  # FSDP needs nothing ZeRO-3's DeepSpeed does
            values = _sharding(spec, world, distributed)
            label = _FSDP_LABEL if distributed == "fsdp" else _ZERO3_LABEL
            nodes, per_node = values["compute.nodes"], values["compute.gpus_per_node"]
            # Not a multiple of a node when gpus_per_node is odd-sized: the GPUs it really asks for.
            where = f"{nodes * per_node} GPUs" + (f" ({nodes} nodes x {per_node})" if nodes > 1 else "")
            out.append((f"shard weights, gradients and optimizer states over {where} with {label}", values))
        return out
    if "loss_impl" in change:
        return [(remedy.action, {"training.loss_kernel": "fused"})]
    if "attention_impl" in change:
        return [(remedy.action, {"training.attention": "sdpa"})]
    if "optimizer" in change:
        spec_name = {cost: name for name, cost in SPEC_OPTIMIZERS.items()}[change["optimizer"]]
        return [(remedy.action, {"training.optimizer": spec_name})]
    if "seq_len" in change:
        return [(f"shorten data.max_length {spec.data.max_length} -> {change['seq_len']}",
                 {"data.max_length": change["seq_len"]})]
    return []


def _data_note(plan) -> str:
    d = plan.data
    lost = [f"{n} of {d.train_task} samples {verb}" for n, verb in ((d.dropped_over_length, "dropped"),
                                                                    (d.truncated, "truncated")) if n]
    return f" ({'; '.join(lost)})" if lost else ""


def replan(loaded, remedies, build: Callable, refused: type[Exception], reuse) -> list[Remedy]:
    """``remedies`` (from the estimate of ``loaded``) as the plan offers them: each applied to the spec and planned
    again with ``build`` (build_plan, told not to propose remedies of its own); what the planner refuses (lint errors,
    ``refused``: PlanError) is left out, and memory and fit are the re-plan's. ``reuse``: the tokenizer and prepared
    data, for changes that leave data.* alone."""
    spec, out = loaded.spec, []
    layout = resolve_layout(spec)
    for remedy in remedies:
        for action, values in candidates(remedy, spec, layout):
            sets = _sets(spec, values)
            if not sets:  # the spec already says it: nothing to offer
                continue
            try:
                changed = with_sets(loaded, sets)
            except SetError:
                continue
            if any(f.severity == "error" for f in run_lint(changed, count_tokens=False)):
                continue
            same_data = not any(key.startswith("data.") for key in values)
            try:
                plan = build(changed, remedies=False, reuse=reuse if same_data else None)
            except refused:
                continue
            if plan.peak_memory_gib_per_device is None or plan.fits is None:
                continue
            if "data.max_length" in values:
                action += _data_note(plan)
            change = dict(remedy.change)
            if "compute.distributed" in values:
                change["distributed"] = values["compute.distributed"]
            out.append(dataclasses.replace(remedy, action=action, change=change,
                                           memory_gib=plan.peak_memory_gib_per_device, fits=bool(plan.fits),
                                           sets=tuple(sets)))
            break
    return out
