"""Training throughput: ftspec's training entry point vs a hand-written TRL script on the same job.

Requirement: ftspec's tokens/s >= 0.95 x the hand-written script's.

The job: builtin:tiny, SFT on the first --records records of LLaMA-Factory's alpaca_en_demo.json (format
alpaca), max_length 512 (over-length samples dropped, as ftspec does for SFT), batch 8, 1 epoch, no
validation, no holdout; once with LoRA (rank 16, alpha 4) and once with full fine-tuning.
The plan is compiled in Python and its run folder written with ``ftspec.runs.inputs.write_inputs``; then, in fresh
processes, interleaved (order rotated every round):

* ``ftspec``       ``python -m ftspec.train RUN_DIR``
* ``ftspec-accel`` the plan's launch line: ``accelerate launch --config_file RUN_DIR/accelerate_config.yaml -m ftspec.train RUN_DIR``
* ``hand``         ``python bench/hand_trl_sft.py RUN_DIR OUT`` (same trainer_args and rows; report_to=[])
* ``hand+tb``      (only with --ablation) the hand script with the plan's ``report_to: [tensorboard]`` kept,
                   to attribute a gap to TensorBoard logging rather than to ftspec's own code

tokens/s has one definition on every side: TRL's count of non-padding tokens trained on
(``SFTTrainer._total_train_tokens``, logged as ``num_tokens``) divided by the Trainer's own
``train_runtime`` (the ``trainer.train()`` call; model loading, dataset preparation and the final save are
outside it). ``wall_s`` is the whole process, start-up included, for information; ``cpu_s`` is the CPU
time (user + sys) of the whole process tree, and ``tokens_per_cpu_s`` = tokens / cpu_s -- start-up included,
but far less sensitive than wall time to other processes competing for the cores.

Every side runs with the same OMP_NUM_THREADS (``--threads``, default 1; 0 leaves it unset, i.e. torch's
default of one thread per core; ``accelerate launch`` keeps a set value). On a small shared machine one thread
per process keeps the timings from swinging with other load (multi-threaded OpenMP barriers stall whenever
another process takes a core).

Usage: python bench/bench_apply_vs_trl.py [--quick] [--repeats N] [--records N] [--cases lora,full]
                                         [--sides ftspec,ftspec-accel,hand] [--ablation]
Prints a JSON line per run and per summary, then PASS/FAIL per case; always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "llamafactory" / "alpaca_en_demo.json"
HAND = Path(__file__).resolve().parent / "hand_trl_sft.py"
THRESHOLD = 0.95

SPEC = """version: 1
name: bench-apply-{case}
model: {{base: "builtin:tiny"}}
adapter: {adapter}
data: {{train: train.json, format: alpaca, max_length: 512, validation: null, packing: false}}
training: {{epochs: 1, batch_size: 8}}
eval: {{holdout: null, baseline: false}}
lint: {{disable: [FT102, FT105, FT203, FT302, FT303, FT401, FT403]}}
"""
ADAPTERS = {"lora": "{type: lora, rank: 16, alpha: 4}", "full": "{type: full}"}
SIDES = ("ftspec", "ftspec-accel", "hand", "hand+tb")


def write_run(tmp: Path, case: str, records: int) -> tuple[Path, dict]:
    """Compile the plan and write its run folder (the template every run copies)."""
    from ftspec.runs.inputs import write_inputs
    from ftspec.spec.load import load_spec
    from ftspec.plan.compile import build_plan

    folder = tmp / case
    folder.mkdir()
    (folder / "train.json").write_text(json.dumps(json.loads(DATA.read_text(encoding="utf-8"))[:records]))
    (folder / "spec.yaml").write_text(SPEC.format(case=case, adapter=ADAPTERS[case]))
    loaded = load_spec(folder / "spec.yaml")
    plan = build_plan(loaded)
    template = folder / "template"
    write_inputs(loaded, plan, template)
    return template, plan.data.model_dump()


def one(side: str, template: Path, work: Path, env: dict) -> dict:
    run_dir = work / "run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, run_dir)
    if side == "ftspec":
        argv = [sys.executable, "-m", "ftspec.train", str(run_dir)]
    elif side == "ftspec-accel":
        argv = [str(Path(sys.executable).with_name("accelerate")), "launch", "--config_file",
                str(run_dir / "accelerate_config.yaml"), "-m", "ftspec.train", str(run_dir)]
    else:
        argv = [sys.executable, str(HAND), str(run_dir), str(work / "hand")]
        if side == "hand+tb":
            argv += ["--report-to", "tensorboard"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    if side.startswith("hand"):
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        result = json.loads((run_dir / "train_result.json").read_text())
    return {"side": side, "tokens_per_second": result["tokens_per_second"],
            "train_runtime_s": result["train_runtime_s"], "train_tokens_seen": result["train_tokens_seen"],
            "global_step": result["global_step"], "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "tokens_per_cpu_s": round(result["train_tokens_seen"] / cpu, 1)}


def summarize(case: str, runs: list[dict]) -> dict:
    out: dict = {"case": case}
    for side in SIDES:
        tps = [r["tokens_per_second"] for r in runs if r["side"] == side]
        walls = [r["wall_s"] for r in runs if r["side"] == side]
        per_cpu = [r["tokens_per_cpu_s"] for r in runs if r["side"] == side]
        if tps:
            out[side] = {"median_tokens_per_second": round(statistics.median(tps), 1), "min": min(tps), "max": max(tps),
                         "spread_pct": round(100 * (max(tps) - min(tps)) / statistics.median(tps), 1),
                         "median_wall_s": round(statistics.median(walls), 2),
                         "median_tokens_per_cpu_s": round(statistics.median(per_cpu), 1), "n": len(tps)}
    hand = out["hand"]["median_tokens_per_second"]
    for side in ("ftspec", "ftspec-accel", "hand+tb"):
        if side in out:
            out[f"ratio_{side}_vs_hand"] = round(out[side]["median_tokens_per_second"] / hand, 3)
            out[f"cpu_ratio_{side}_vs_hand"] = round(out[side]["median_tokens_per_cpu_s"]
                                                     / out["hand"]["median_tokens_per_cpu_s"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds instead of 3")
    ap.add_argument("--repeats", type=int, default=None, help="rounds (each round runs every side once)")
    ap.add_argument("--records", type=int, default=600, help="alpaca records before the max_length drop")
    ap.add_argument("--cases", default="lora,full")
    ap.add_argument("--sides", default="ftspec,ftspec-accel,hand")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for every side (0: unset)")
    ap.add_argument("--ablation", action="store_true", help="add the hand+tb side")
    ns = ap.parse_args()
    repeats = ns.repeats or (2 if ns.quick else 3)
    sides = tuple(ns.sides.split(",")) + (("hand+tb",) if ns.ablation else ())

    from ftspec.models.tiny import tiny_model_dir

    tiny_model_dir(with_weights=True)  # build the tiny model once, outside every timed process
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ACCELERATE_USE_CPU": "true", "PYTHONUNBUFFERED": "1"}
    if ns.threads:
        env["OMP_NUM_THREADS"] = str(ns.threads)
    summaries = []
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        tmp = Path(tmp)
        for case in ns.cases.split(","):
            template, data = write_run(tmp, case, ns.records)
            print(json.dumps({"case": case, "records": ns.records, "rows": data["rows"],
                              "dropped_over_length": data.get("dropped_over_length", 0)}), flush=True)
            runs = []
            for i in range(repeats):
                order = sides[i % len(sides):] + sides[:i % len(sides)]
                for side in order:
                    r = {"case": case, "round": i, **one(side, template, tmp / "work", env)}
                    runs.append(r)
                    print(json.dumps(r), flush=True)
            summaries.append(summarize(case, runs))
            print(json.dumps(summaries[-1]), flush=True)
    for s in summaries:
        for side in ("ftspec", "ftspec-accel"):
            ratio = s.get(f"ratio_{side}_vs_hand")
            if ratio is None:
                continue
            print(f"{'PASS' if ratio >= THRESHOLD else 'FAIL'} {s['case']}: {side} / hand tokens/s = {ratio} "
                  f"(threshold {THRESHOLD}; tokens per CPU-second ratio {s[f'cpu_ratio_{side}_vs_hand']})")


if __name__ == "__main__":
    main()
