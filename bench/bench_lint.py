"""Lint speed and memory, measured the way a pre-commit hook runs: a fresh `ftspec lint` process.

Writes synthetic chat datasets (10,000 and 1,000,000 lines) to a temp folder, then times
wall-clock of whole processes (cold start included) and reads peak RSS from the kernel.
Usage: python bench/bench_lint.py [--big]   (--big adds the 1,000,000-line memory run)
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = """version: 1
name: bench
model: {{base: builtin:tiny}}
data: {{train: {train}, validation: 0.2, max_length: 256}}
eval: {{holdout: {holdout}}}
"""


def write_chat(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    words = ["model", "code", "Sikalastic-609", "水吧台/岛台区域", "price", "stock", "厨房/卫生间", "K11-Pro"]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            q = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + f" #{i}"
            a = rng.choice(words)
            fh.write(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
                                ensure_ascii=False) + "\n")


def run(spec: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `ftspec lint` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ftspec.cli", "lint", "--format", "json", str(spec)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"lint failed: {proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def measure(label: str, spec: Path, repeats: int) -> dict:
    run(spec)  # warm the OS file cache and the builtin model cache, as on a developer's machine
    walls = []
    for _ in range(repeats):
        wall, _ = run(spec)
        walls.append(wall)
    result = {"case": label, "median_s": round(statistics.median(walls), 3), "max_s": round(max(walls), 3),
              "repeats": repeats}
    print(json.dumps(result))
    return result


def peak_rss_mb(spec: Path) -> float:
    # A separate process per measurement: ru_maxrss of children is a high-water mark over all of them.
    code = ("import resource,subprocess,sys;"
            "subprocess.run([sys.executable,'-m','ftspec.cli','lint','--format','json',sys.argv[1]],"
            "capture_output=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)")
    out = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.strip())


def main() -> None:
    big = "--big" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_chat(tmp / "holdout.jsonl", 100, seed=1)
        sizes = [0, 10_000] + ([1_000_000] if big else [])
        for n in sizes:
            train = tmp / f"train-{n}.jsonl"
            if n:
                write_chat(train, n, seed=0)
            spec = tmp / f"spec-{n}.yaml"
            if n:
                spec.write_text(SPEC.format(train=train.name, holdout="holdout.jsonl"))
            else:  # spec-only: the data file is absent, lint reads the spec alone
                spec.write_text("version: 1\nname: bench\nmodel: {base: builtin:tiny}\n"
                                "data: {train: train.jsonl}\nlint: {disable: [FT001]}\n")
            label = "spec-only" if not n else f"{n} chat samples"
            result = measure(label, spec, repeats=5 if n <= 10_000 else 1)
            result["peak_rss_mb"] = round(peak_rss_mb(spec), 1)
            print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "0")
    main()
