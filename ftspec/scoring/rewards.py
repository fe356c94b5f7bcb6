"""GRPO's reward functions, built from a spec's ``rewards:`` (as the plan's job stores them) with TRL's calling
convention: ``f(prompts=..., completions=..., completion_ids=..., **columns) -> list[float | None]``.

A metric reward scores a completion exactly as the holdout evaluation does (``ftspec.scoring.metrics``), so what the
policy is rewarded for and what the report measures are one definition. A python reward is the user's function,
imported from the spec's folder. stdlib only; torch is TRL's business.
"""

from __future__ import annotations

import importlib
import math
import numbers
import re
import sys
from pathlib import Path
from typing import Any, Callable

from ftspec.scoring.metrics import score_sample

RewardFn = Callable[..., list]


def completion_text(completion: Any) -> str:
    """A completion as text: TRL hands conversational completions as ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    return str(completion or "")


def reward_label(reward: dict) -> str:
    """The name TRL logs the reward under (``rewards/<name>/mean``); the plan stores it with the reward."""
    return reward["name"]


def _named(fn: RewardFn, name: str) -> RewardFn:
    fn.__name__ = name  # TRL names the reward's log keys after it
    return fn


def _metric(metric: str, reference: str, name: str) -> RewardFn:
    def reward(prompts, completions, **columns) -> list:
        refs = columns.get(reference) or [None] * len(completions)
        return [None if ref is None else float(score_sample(metric, completion_text(c), str(ref)))
                for c, ref in zip(completions, refs)]

    return _named(reward, name)


def _regex(pattern: str, name: str) -> RewardFn:
    compiled = re.compile(pattern)

    def reward(prompts, completions, **columns) -> list:
        return [1.0 if compiled.search(completion_text(c)) else 0.0 for c in completions]

    return _named(reward, name)


def _length(budget: int, name: str) -> RewardFn:
    def reward(prompts, completions, completion_ids=None, **columns) -> list:
        lengths = [len(ids) for ids in completion_ids] if completion_ids is not None else \
            [len(completion_text(c)) for c in completions]
        return [-max(0, n - budget) / budget for n in lengths]

    return _named(reward, name)


class RewardLoadError(Exception):
    """A python reward that cannot be imported (the message names it)."""


def load_python(ref: str, base_dir: Path) -> Callable:
    """``module:function`` imported with ``base_dir`` first on sys.path (the spec's folder)."""
    module, function = ref.split(":", 1)
    where = str(base_dir)
    if where not in sys.path:
        sys.path.insert(0, where)
    try:
        fn = getattr(importlib.import_module(module), function)
    except Exception as exc:  # the user's module: anything can go wrong in it
        raise RewardLoadError(f"python reward {ref!r} (from {base_dir}): {type(exc).__name__}: {exc}") from None
    if not callable(fn):
        raise RewardLoadError(f"python reward {ref!r}: {function} is a {type(fn).__name__}, not a function")
    return fn


def _python(ref: str, base_dir: Path, name: str) -> RewardFn:
    fn = load_python(ref, base_dir)

    def reward(prompts, completions, **kwargs) -> list:
        return fn(prompts=prompts, completions=completions, **kwargs)

    return _named(reward, name)


def build_rewards(rewards: list[dict], base_dir: Path) -> list[RewardFn]:
    """One TRL reward function per entry of the job's ``rewards`` (each with its ``name``)."""
    out = []
    for r in rewards:
        name = reward_label(r)
        if "metric" in r:
            out.append(_metric(r["metric"], r.get("reference") or "answer", name))
        elif "regex" in r:
            out.append(_regex(r["regex"], name))
        elif "length_penalty" in r:
            out.append(_length(int(r["length_penalty"]), name))
        elif "python" in r:
            out.append(_python(r["python"], base_dir, name))
        else:
            raise ValueError(f"reward {name!r}: no metric, regex, length_penalty or python")
    return out


class RewardError(Exception):
    """A reward function failed or returned something TRL cannot use; ``index`` is the training sample (0-based)."""

    def __init__(self, name: str, index: int | None, message: str):
        where = f" on training sample {index + 1}" if index is not None else ""
        super().__init__(f"reward {name!r} failed{where}: {message}")
        self.name, self.index = name, index


def _first_failing(fn: RewardFn, prompts: list, completions: list, kwargs: dict) -> int | None:
    """The first completion the function raises on alone (the batch's exception does not say which)."""
    n = len(completions)
    for i in range(n):
        one = {k: v[i:i + 1] if isinstance(v, list) and len(v) == n else v for k, v in kwargs.items()}
        try:
            fn(prompts=prompts[i:i + 1], completions=completions[i:i + 1], **one)
        except Exception:
            return i
    return None


def checked(fn: RewardFn, row_key: str) -> RewardFn:
    """``fn`` that raises RewardError, naming the function and the sample, when it raises or returns the wrong number
    of values or anything but numbers and None (TRL would fail later on with a bare ValueError, or train on NaN).
    ``row_key``: the column holding each sample's index in the training data (not passed on to ``fn``)."""
    name = fn.__name__

    def reward(prompts, completions, **kwargs) -> list:
        rows = kwargs.pop(row_key, None) or [None] * len(completions)
        try:
            values = fn(prompts=prompts, completions=completions, **kwargs)
        except Exception as exc:
            i = _first_failing(fn, prompts, completions, kwargs)
            raise RewardError(name, rows[i if i is not None else 0], f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(values, (list, tuple)):
            raise RewardError(name, rows[0], f"returned a {type(values).__name__}, not a list of "
                              f"{len(completions)} numbers")
        if len(values) != len(completions):
            raise RewardError(name, rows[0], f"returned {len(values)} values for {len(completions)} completions "
                              "(one per completion)")
        for i, v in enumerate(values):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v)):
                raise RewardError(name, rows[i], f"returned {v!r} for completion {i + 1} of the batch: rewards are "
                                  "finite numbers (or None to abstain)")
        return [None if v is None else float(v) for v in values]

    return _named(reward, name)
