"""Packing on a realistic dataset: LLaMA-Factory's alpaca_en_demo.json (999 alpaca records), builtin:tiny tokenizer.

For each max_length, everything comes from ftspec's own plan pipeline (no torch): ``ftspec.spec.load.load_spec`` +
``ftspec.plan.compile.build_plan`` for the rows and optimizer steps the plan promises (packing off and on),
``ftspec.pipeline.prepare.prepare`` for the exact per-sample token lengths, and ``ftspec.data.packing`` for the
bfd rows (the replica of TRL 1.16's ``pack_dataset``).

Columns (SFT, over_length drop as ftspec defaults for SFT, 3 epochs, batch 8, one process):
* kept: records left after the over-length drop (of 999);
* rows / rows packed: trainer rows without packing, and with bfd packing;
* fill: tokens / (rows x max_length), unpacked and packed;
* pad unpacked: padding tokens per epoch when each micro-batch of 8 is padded to its longest row -- in file
  order, and the mean over 20 seeded shuffles (the Trainer's sampler shuffles, so the latter is what a run
  sees on average). With bfd packing TRL trains padding-free (rows are flattened into one sequence per
  micro-batch), so packing saves all of it; "pad packed-if-padded" is what packed rows would still waste
  if they were padded to the batch's longest row instead;
* steps: optimizer steps for 3 epochs, batch 8 (from the plan), unpacked and packed;
* plan s: median wall time of load_spec + build_plan (in this process, warm), unpacked / packed.

Usage: python bench/bench_packing.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "llamafactory" / "alpaca_en_demo.json"
LENGTHS = (256, 512, 1024, 2048)
BATCH, EPOCHS = 8, 3

SPEC = """version: 1
name: bench-packing
model: {{base: "builtin:tiny"}}
data: {{train: {data}, format: alpaca, max_length: {max_length}, packing: {packing}}}
training: {{epochs: {epochs}, batch_size: {batch}}}
eval: {{holdout: null, baseline: false}}
lint: {{disable: [FT102, FT105, FT203, FT302, FT303, FT401, FT403]}}
"""


def padding(lengths: list[int], batch: int) -> int:
    """Padding tokens when each consecutive micro-batch is padded to its longest row."""
    total = 0
    for i in range(0, len(lengths), batch):
        chunk = lengths[i:i + batch]
        total += max(chunk) * len(chunk) - sum(chunk)
    return total


def shuffled_padding(lengths: list[int], batch: int, n: int = 20) -> float:
    out = []
    for seed in range(n):
        order = list(lengths)
        random.Random(seed).shuffle(order)
        out.append(padding(order, batch))
    return statistics.mean(out)


def timed_plan(spec: Path, repeats: int):
    from ftspec.spec.load import load_spec
    from ftspec.plan.compile import build_plan

    walls, loaded, plan = [], None, None
    for _ in range(repeats):
        start = time.perf_counter()
        loaded = load_spec(spec)
        plan = build_plan(loaded)
        walls.append(time.perf_counter() - start)
    return loaded, plan, statistics.median(walls), max(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="plan timings per cell (median reported)")
    ns = ap.parse_args()

    from ftspec.pipeline.prepare import prepare
    from ftspec.data.packing import pack_bfd, sft_kept_lengths

    rows_out = []
    with tempfile.TemporaryDirectory(prefix="bench-packing-") as tmp:
        tmp = Path(tmp)
        timed_plan_warm = None
        for L in LENGTHS:
            cell: dict = {"max_length": L}
            for packing in ("false", "true"):
                spec = tmp / f"spec-{L}-{packing}.yaml"
                spec.write_text(SPEC.format(data=json.dumps(str(DATA)), max_length=L, packing=packing,
                                            epochs=EPOCHS, batch=BATCH))
                if timed_plan_warm is None:
                    timed_plan_warm = timed_plan(spec, 1)  # first call pays imports and tokenizer load
                loaded, plan, med, worst = timed_plan(spec, ns.repeats)
                cell[f"plan_s_{packing}"] = round(med, 3)
                cell[f"plan_s_max_{packing}"] = round(worst, 3)
                cell[f"rows_{packing}"] = plan.data.rows
                cell[f"steps_{packing}"] = plan.optimizer_steps
                if packing == "false":
                    prepared = prepare(loaded)
                    lengths = prepared.tokens.lengths  # kept records (over-length ones already dropped)
                    cell["records"] = prepared.counts["train_file"]
                    cell["kept"] = prepared.counts["train"]
                    first = prepared.tokens.first_loss if loaded.spec.data.assistant_only_loss else None
                    seqs = sft_kept_lengths(lengths, first, max_length=L)  # the trainer's rows, in order
                    assert len(seqs) == plan.data.rows, (len(seqs), plan.data.rows)
                    tokens = sum(seqs)
                    cell["tokens_per_epoch"] = tokens
                    cell["fill_unpacked"] = tokens / (len(seqs) * L)
                    cell["pad_unpacked_file_order"] = padding(seqs, BATCH)
                    cell["pad_unpacked_shuffled"] = shuffled_padding(seqs, BATCH)
                    bins = pack_bfd([min(n, L) for n in lengths], L)
                    packed = [sum(b) for b in bins]
                    cell["rows_bfd_replica"] = len(packed)
                    cell["fill_packed"] = sum(packed) / (len(packed) * L)
                    cell["pad_packed_if_padded"] = shuffled_padding(packed, BATCH)
            assert cell["rows_bfd_replica"] == cell["rows_true"], (cell["rows_bfd_replica"], cell["rows_true"])
            rows_out.append(cell)
            print(json.dumps(cell), flush=True)

    print()
    print("| max_length | records | kept | rows | rows packed (bfd) | fill unpacked | fill packed | "
          "pad/epoch unpacked (file order / shuffled) | pad packed (padding-free / if padded) | "
          "steps 3 ep unpacked | steps 3 ep packed | plan s unpacked / packed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in rows_out:
        print(f"| {c['max_length']} | {c['records']} | {c['kept']} | {c['rows_false']} | {c['rows_true']} | "
              f"{c['fill_unpacked']:.3f} | {c['fill_packed']:.3f} | "
              f"{c['pad_unpacked_file_order']} / {c['pad_unpacked_shuffled']:.0f} | 0 / {c['pad_packed_if_padded']:.0f} | "
              f"{c['steps_false']} | {c['steps_true']} | {c['plan_s_false']} / {c['plan_s_true']} |")


if __name__ == "__main__":
    main()
