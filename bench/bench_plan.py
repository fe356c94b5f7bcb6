"""`ftspec plan` cold start on 10,000 chat samples: whole fresh processes, lint + exact tokenization + plan.

Uses the built-in tiny model (its tokenizer is local, so every count is exact) and the same synthetic data
as bench_lint.py, with a mix-in source and a holdout so every pipeline stage runs.
Usage: python bench/bench_plan.py [--repeats N]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lint import ROOT, write_chat  # noqa: E402

SPEC = """version: 1
name: bench-plan
model: {base: builtin:tiny}
data:
  train: train.jsonl
  validation: 0.1
  mix: [{path: general.jsonl, ratio: 0.2}]
  max_length: 256
  packing: %s
eval: {holdout: holdout.jsonl}
lint: {disable: [FT303]}
"""


def one(spec: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ftspec.cli", "plan", "--format", "json", str(spec)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"plan failed: {proc.stdout}{proc.stderr}")
    return wall, json.loads(proc.stdout)


def main() -> None:
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 5
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_chat(tmp / "train.jsonl", 10_000, seed=0)
        write_chat(tmp / "general.jsonl", 2_000, seed=2)
        write_chat(tmp / "holdout.jsonl", 100, seed=1)
        for packing in ("false", "true"):
            spec = tmp / f"spec-{packing}.yaml"
            spec.write_text(SPEC % packing)
            one(spec)  # warm the OS file cache and the builtin model cache
            walls, plan = [], None
            for _ in range(repeats):
                wall, plan = one(spec)
                walls.append(wall)
            print(json.dumps({"case": f"10000 chat samples, packing {packing}", "median_s": round(statistics.median(walls), 3),
                              "max_s": round(max(walls), 3), "repeats": repeats, "rows": plan["data"]["rows"],
                              "optimizer_steps": plan["optimizer_steps"]}))


if __name__ == "__main__":
    main()
