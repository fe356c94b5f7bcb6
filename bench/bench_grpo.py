"""GRPO on the blog's task, cold, as a new user runs it, beside the SFT quickstart on the same holdout.

Fresh copies of examples/grpo and examples/quickstart; `ftspec apply` of each timed with /usr/bin/time. Prints what
the README quotes: format alignment per scenario (raw and with the regex guard), general ability, the mean reward
over the first and last tenth of the steps, the plan's figures beside the run's (steps, tokens, time), and the wall
times. GRPO sees only the questions and learns from rewards; SFT copies the reference answers.

Usage: python bench/bench_grpo.py [--repeats N]   (N runs of the GRPO example; the SFT quickstart runs once)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_quickstart import apply, table  # noqa: E402


def tenth_means(curve: list) -> tuple[float, float]:
    values = [v for _, v in curve if v is not None]
    k = max(1, len(values) // 10)
    return sum(values[:k]) / k, sum(values[-k:]) / k


def describe(name: str, wall: float, report: dict) -> None:
    plan, actual = report["plan"], report["actual"]
    print(f"\n## {name}: {wall:.1f} s wall (apply, cold), train_runtime {actual['train_runtime_s']:.1f} s, "
          f"eval {sum(sum(v.values()) for v in (report['eval']['timing_s'] or {}).values()):.1f} s")
    print(f"steps: planned {plan['optimizer_steps']}, trained {actual['optimizer_steps']}; tokens: planned "
          f"{plan['train_tokens']['total']:,}{' (a bound)' if 'reward' in report['loss'] else ''}, seen {actual['train_tokens_seen']:,}; time: planned "
          f"{plan['wall_time_hours'] * 3600:.1f} s, trained {actual['train_runtime_s']:.1f} s")
    loss = report["loss"]
    if "reward" in loss:
        first, last = tenth_means(loss["reward"])
        print(f"mean reward, first and last tenth of the steps: {first:.3f} -> {last:.3f}")
        for reward, curve in loss["rewards"].items():
            a, b = tenth_means(curve)
            print(f"  {reward}: {a:.3f} -> {b:.3f}")
        a, b = tenth_means(loss["completion_length"])
        print(f"  completion length (tokens): {a:.1f} -> {b:.1f}")
    print("\n".join(table(report)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            folder = Path(tmp) / f"examples-{i}"
            for name in ("grpo", "quickstart"):
                shutil.copytree(ROOT / "examples" / name, folder / name, ignore=shutil.ignore_patterns("runs"))
            wall, report, _ = apply(folder / "grpo", "ftspec.yaml")
            walls.append(wall)
            describe(f"GRPO (examples/grpo), run {i + 1}", wall, report)
        wall, sft, _ = apply(folder / "quickstart", "ftspec.yaml")
        describe("SFT quickstart (examples/quickstart), same holdout", wall, sft)
    print(f"\nGRPO apply wall times (s): {', '.join(f'{w:.1f}' for w in walls)}; max {max(walls):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
