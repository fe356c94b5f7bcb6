"""The quickstart's learning-rate sweep, as the README shows it: a fresh copy of examples/quickstart, then

    ftspec plan  ftspec.yaml --set training.learning_rate=5e-4,1e-3,2e-3     (per-member and total cost)
    ftspec apply ftspec.yaml --set training.learning_rate=5e-4,1e-3,2e-3     (timed)
    ftspec apply ...the same...                                              (timed: nothing to do)
    ftspec compare ftspec.yaml --set ...                                     (compare.html kept in --out)

Prints, per member: the learning rate, format alignment per scenario (fine-tuned raw), general ability, the
checkpoint the selection kept and the per-checkpoint curve, and the best member; then the wall times.

Usage: python bench/bench_sweep.py [--rates 5e-4,1e-3,2e-3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ftspec(folder: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ftspec.cli", *args], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - started, proc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="5e-4,1e-3,2e-3")
    parser.add_argument("--out", type=Path, default=None, help="keep compare.html and compare.json here")
    args = parser.parse_args()
    sweep = f"training.learning_rate={args.rates}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "quickstart"
        shutil.copytree(ROOT / "examples" / "quickstart", folder, ignore=shutil.ignore_patterns("runs"))
        planned_s, plan = ftspec(folder, "plan", "ftspec.yaml", "--set", sweep)
        if plan.returncode:
            raise SystemExit(plan.stdout + plan.stderr)
        print(plan.stdout)
        first_s, first = ftspec(folder, "apply", "ftspec.yaml", "--set", sweep)
        if first.returncode:
            raise SystemExit(first.stdout[-3000:] + first.stderr[-3000:])
        again_s, again = ftspec(folder, "apply", "ftspec.yaml", "--set", sweep)
        nothing = again.stderr.count("nothing to do")
        html = (args.out or folder) / "compare.html"
        html.parent.mkdir(parents=True, exist_ok=True)
        compare_s, compared = ftspec(folder, "compare", "ftspec.yaml", "--set", sweep, "--format", "json",
                                     "--html", str(html))
        if compared.returncode:
            # compare takes the sweep from the spec: give it the member folders instead
            folders = sorted(str(p.parent) for p in (folder / "runs" / "symbol-format").glob("*/report.json"))
            compare_s, compared = ftspec(folder, "compare", *folders, "--format", "json", "--html", str(html))
        comparison = json.loads(compared.stdout)
        if args.out:
            (args.out / "compare.json").write_text(json.dumps(comparison, indent=2, ensure_ascii=False))
        print("| learning rate | trained | untrained | general (exact) | weights | format alignment by checkpoint |")
        print("|---|---|---|---|---|---|")
        for entry in sorted(comparison["runs"], key=lambda e: e["inputs"].get("training.learning_rate") or 0):
            by = entry["finetuned_by_scenario"]
            fa = lambda s: by.get(s, {}).get("format_alignment")  # noqa: E731
            general = by.get("general", {}).get("exact_match")
            curve = " ".join(f"{c['step']}:{c['metrics']['format_alignment']:.3f}" for c in entry["checkpoint_eval"] or [])
            sel = entry["selected"] or {}
            print(f"| {entry['inputs'].get('training.learning_rate')} | {fa('trained'):.3f} | {fa('untrained'):.3f} | "
                  f"{general:.3f} | step {sel.get('step')} ({sel.get('by')}) | {curve} |")
        base = comparison["base_by_scenario"]
        print(f"base: trained {base['trained']['format_alignment']:.3f}, untrained "
              f"{base['untrained']['format_alignment']:.3f}, general {base['general']['exact_match']:.3f}")
        print(f"best: {comparison['best']}")
        print(f"plan {planned_s:.1f} s; apply (3 members) {first_s:.1f} s; apply again {again_s:.1f} s "
              f"({nothing} x nothing to do); compare {compare_s:.1f} s")
        print(re.sub(r"\n+", "\n", first.stderr[-1500:]))


if __name__ == "__main__":
    main()
