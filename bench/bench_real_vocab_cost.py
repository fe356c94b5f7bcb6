"""The CPU cost model at a real vocabulary: planned host memory and train time vs measured, on the Qwen fixtures.

Requirement (issue 7): on the real-model fixtures (151,936-entry vocabulary, tiny bodies), the plan's CPU
host-memory estimate is within +-30% of the training process's measured peak RSS, and its time estimate within
+-50% of the measured ``train_runtime`` (the Trainer's ``trainer.train()`` call).

Each case writes a spec and data, compiles the plan in Python, writes the run folder with
``ftspec.runs.inputs.write_inputs``, and runs the training entry point (``python -m ftspec.train RUN_DIR``) in a fresh
process, as ``ftspec apply`` does. Measured: ``train_result.json``'s ``peak_memory_gib.host_rss`` (the process's
``ru_maxrss``) and ``train_runtime_s``. The machine this project runs on is shared (2 cores, several engineers'
jobs): wall-clock train time swings with their load, so the time column is noisy; ``load`` prints the 1-minute
load average at the start of each run. Memory is not affected by the load.

Usage: python bench/bench_real_vocab_cost.py [--cases NAME,...] [--threads N]
Prints one JSON line per case and PASS/FAIL per bound; always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rows(fmt: str, n: int, words: int) -> list[dict]:
    filler = " ".join(["the quick brown fox jumps over the lazy dog"] * words)
    if fmt == "alpaca":
        return [{"instruction": f"Describe item {i}.", "input": "", "output": f"Item {i}: {filler}"} for i in range(n)]
    return [{"messages": [{"role": "system", "content": "Answer briefly."},
                          {"role": "user", "content": f"Tell me about item {i}."},
                          {"role": "assistant", "content": f"Item {i}: {filler}"}]} for i in range(n)]


CASES = {
    # name: (family, adapter, format, rows, filler repeats, max_length, batch, epochs)
    "qwen25-lora-b4": ("qwen2.5-instruct", "lora", "chat", 32, 4, 256, 4, 1),
    "qwen25-full-b4": ("qwen2.5-instruct", "full", "chat", 32, 4, 256, 4, 1),
    "qwen25-lora-b8-long": ("qwen2.5-instruct", "lora", "alpaca", 32, 20, 512, 8, 1),
    "qwen3-lora-b2": ("qwen3", "lora", "chat", 24, 2, 128, 2, 1),
    "qwen3-full-b8-long": ("qwen3", "full", "alpaca", 32, 20, 512, 8, 1),
}


def run_case(name: str, threads: int) -> dict:
    from ftspec.runs.inputs import write_inputs
    from ftspec.spec.load import load_spec
    from ftspec.models.fixtures.build import cached
    from ftspec.plan.compile import build_plan

    family, adapter, fmt, n, words, max_length, batch, epochs = CASES[name]
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(fmt, n, words)))
    spec = {"version": 1, "name": name, "model": {"base": str(cached(family))},
            "adapter": {"type": adapter, "rank": 8, "alpha": 2.8},
            "data": {"train": "train.jsonl", "max_length": max_length},
            "training": {"epochs": epochs, "batch_size": batch, "save_per_epoch": False}}
    (folder / "spec.yaml").write_text(json.dumps(spec))
    loaded = load_spec(folder / "spec.yaml")
    plan = build_plan(loaded)
    run_dir = folder / "run"
    write_inputs(loaded, plan, run_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "-m", "ftspec.train", str(run_dir)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"case": name, "error": proc.stderr[-2000:]}
    result = json.loads((run_dir / "train_result.json").read_text())
    planned_s = plan.wall_time_hours * 3600 if plan.wall_time_hours is not None else None
    measured_rss = result["peak_memory_gib"]["host_rss"]
    return {"case": name, "load": round(load, 2), "steps": result["global_step"],
            "tokens": result["train_tokens_seen"], "planned_tokens": plan.train_tokens.total,
            "planned_host_gib": plan.peak_memory_gib_per_device, "measured_rss_gib": measured_rss,
            "memory_ratio": round(plan.peak_memory_gib_per_device / measured_rss, 3),
            "planned_s": round(planned_s, 2) if planned_s is not None else None,
            "measured_s": result["train_runtime_s"],
            "time_ratio": round(planned_s / result["train_runtime_s"], 3) if planned_s else None}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for training (0: torch's default)")
    args = parser.parse_args()
    for name in args.cases.split(","):
        row = run_case(name, args.threads)
        print(json.dumps(row), flush=True)
        if "error" in row:
            print(f"FAIL {name}: training failed")
            continue
        mem_ok = abs(row["memory_ratio"] - 1) <= 0.30
        time_ok = row["time_ratio"] is not None and abs(row["time_ratio"] - 1) <= 0.50
        print(f"{'PASS' if mem_ok else 'FAIL'} {name} host memory: planned {row['planned_host_gib']} GiB, "
              f"measured peak RSS {row['measured_rss_gib']} GiB (x{row['memory_ratio']})")
        print(f"{'PASS' if time_ok else 'FAIL'} {name} train time: planned {row['planned_s']} s, measured "
              f"{row['measured_s']} s (x{row['time_ratio']}, load {row['load']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
