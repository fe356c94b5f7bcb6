"""The seeded choices of the pipeline: the validation split (stratified when asked) and the mixed-in sample."""

from __future__ import annotations

import random


def split_validation(records: list[dict], fraction: float, seed: int, strata: list | None = None,
                     ) -> tuple[list[dict], list[dict]]:
    """Seeded split; both parts keep the file's order. ``strata`` (one value per record, ``data.stratify_by``):
    each value gets its share of the validation set (largest remainders), drawn in the same seeded order."""
    if fraction <= 0:
        return records, []
    n_val = max(1, round(fraction * len(records)))
    if n_val >= len(records):
        raise ValueError(f"validation fraction {fraction} leaves no training records out of {len(records)}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    if strata is None:
        chosen = set(order[:n_val])
    else:
        chosen = _stratified_pick(order, strata, n_val)
    return ([r for i, r in enumerate(records) if i not in chosen], [r for i, r in enumerate(records) if i in chosen])


def _stratified_pick(order: list[int], strata: list, n_val: int) -> set[int]:
    sizes: dict = {}
    for value in strata:
        sizes[value] = sizes.get(value, 0) + 1
    total = len(strata)
    exact = {v: n_val * n / total for v, n in sizes.items()}
    quota = {v: int(x) for v, x in exact.items()}
    # Largest remainders first; ties by first appearance in the seeded order, so the split stays deterministic.
    first_seen = {}
    for i in order:
        first_seen.setdefault(strata[i], len(first_seen))
    for v in sorted(exact, key=lambda v: (-(exact[v] - quota[v]), first_seen[v]))[: n_val - sum(quota.values())]:
        quota[v] += 1
    chosen = set()
    for i in order:
        if quota[strata[i]] > 0:
            quota[strata[i]] -= 1
            chosen.add(i)
    return chosen


def mix_counts(n_train: int, ratios: list[float]) -> list[int]:
    """Records to draw from each mix source so each makes up its ratio of the mixed total."""
    rest = 1.0 - sum(ratios)
    if rest <= 0:
        raise ValueError("mix ratios add up to 1 or more: no room left for the task data")
    return [round(n_train * r / rest) for r in ratios]


def sample_mix(records: list[dict], n: int, rng: random.Random) -> list[dict]:
    """n records without replacement; whole passes over the source first when it is too small."""
    out: list[dict] = []
    while n - len(out) >= len(records):
        out += rng.sample(records, len(records))
    return out + rng.sample(records, n - len(out))
