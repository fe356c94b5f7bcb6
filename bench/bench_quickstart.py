"""The quickstart, cold, as a new user runs it: a fresh copy of examples/quickstart, `ftspec apply` on
ftspec.yaml (LoRA SFT with 20 % general mix-in) and on no-mix.yaml (the same recipe without it), each
timed with /usr/bin/time. Prints the wall times and the figures the README quotes: format alignment per
scenario (base raw, base + guard, fine-tuned raw, fine-tuned + guard) and general ability (exact match
on the holdout's "general" cases), for both specs.

Usage: python bench/bench_quickstart.py [--repeats N]   (N runs of ftspec.yaml; no-mix.yaml runs once)
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftspec.report.story import story  # noqa: E402


def apply(folder: Path, spec: str) -> tuple[float, dict, str]:
    ftspec = Path(sys.executable).with_name("ftspec")
    proc = subprocess.run(["/usr/bin/time", "-f", "WALL %e", str(ftspec), "apply", spec], cwd=folder,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    wall = float(re.findall(r"WALL ([0-9.]+)", proc.stderr)[-1])
    run = sorted((folder / "runs").glob(f"*/*/report.json"), key=lambda p: p.stat().st_mtime)[-1]
    return wall, json.loads(run.read_text()), proc.stdout


def table(report: dict) -> list[str]:
    told = story(report)
    lines = [f"| scenario | n | base raw | base + guard | fine-tuned raw | fine-tuned + guard |", "|---|---|---|---|---|---|"]
    for r in told["rows"]:
        lines.append(f"| {r['scenario']} | {r['n']} | {r['base']:.3f} | {r['base_guard']:.3f} | **{r['tuned']:.3f}** | "
                     f"{r['tuned_guard']:.3f} |")
    g = told["general"]
    lines.append(f"general ability ({g['metric']}, {g['n']} cases): base {g['base']:.3f} -> fine-tuned {g['tuned']:.3f}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            folder = Path(tmp) / f"quickstart-{i}"
            shutil.copytree(ROOT / "examples" / "quickstart", folder, ignore=shutil.ignore_patterns("runs"))
            wall, report, console = apply(folder, "ftspec.yaml")
            walls.append(wall)
            print(f"ftspec.yaml run {i + 1}: {wall:.1f} s wall, {report['actual']['optimizer_steps']} optimizer steps")
        print(console.rstrip())
        print("\n".join(table(report)))
        wall, no_mix, console = apply(folder, "no-mix.yaml")
        print(f"\nno-mix.yaml: {wall:.1f} s wall, {no_mix['actual']['optimizer_steps']} optimizer steps")
        print("\n".join(table(no_mix)))
    print(f"\nftspec.yaml wall times (s): {', '.join(f'{w:.1f}' for w in walls)}; max {max(walls):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
