"""Spec fuzzer: mutated specs through `validate`, `lint` and `plan --format json`, in process, fixed seed.

Mutations are textual (bytes cut, inserted, duplicated; YAML tags, anchors, aliases; non-finite and huge
numbers) and structural (a random key of a valid spec set to a nasty value: a wrong type, a FIFO, a symlink
loop, /dev/null, a NUL byte, a 300-character name, ~nouser, a broken regex, ...). A run is bad when it ends
in a traceback, an internal error (exit other than 0/1), a hang (over --timeout seconds), output that names
no rule code on exit 1, or non-JSON stdout from `plan --format json`.

    python bench/fuzz_specs.py [--n 3000] [--seed 8] [--timeout 30]

Prints the counts; exits 1 if any run is bad. tests/test_spec_fuzz.py runs a fixed subset.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED_SPEC = """version: 1
name: fuzz-spec
description: a spec to mutate
method: sft
model:
  base: builtin:tiny
adapter:
  type: lora
  rank: 8
  alpha: 2
  dropout: 0.05
  target_modules: all-linear
data:
  train: train.jsonl
  format: messages
  validation: 0.2
  mix: [{path: general.jsonl, ratio: 0.2}]
  max_length: 64
  over_length: drop
  packing: false
  system_prompt: be brief
training:
  epochs: 2
  batch_size: 4
  gradient_accumulation: 1
  learning_rate: 1.0e-4
  warmup_ratio: 0.05
  weight_decay: 0.0
  max_grad_norm: 1.0
  seed: 42
  dpo_beta: 0.1
eval:
  holdout: holdout.jsonl
  baseline: true
  metrics: [exact_match, {regex: '^K\\d+', name: code}]
  max_new_tokens: 16
  postprocess:
    - {regex: '\\s*([-/])\\s*', replace: '\\1'}
compute:
  accelerator: cpu
  price_per_gpu_hour: 2.5
lint:
  disable: [FT101, FT102, FT105]
output:
  dir: runs
"""

# GRPO's own sections: rewards of every kind (a python one beside the spec) and the grpo knobs.
SEED_SPEC_GRPO = """version: 1
name: fuzz-grpo
method: grpo
model:
  base: builtin:tiny
adapter: {type: lora, rank: 4, alpha: 2}
data:
  train: prompts.jsonl
  max_length: 64
rewards:
  - {metric: exact_match, reference: answer, weight: 1.0}
  - {regex: '^K\\d+', name: code, weight: 0.5}
  - {length_penalty: 8, weight: 0.1}
  - {python: 'rw:score', weight: 1.0}
grpo:
  num_generations: 4
  max_completion_length: 16
  beta: 0.04
  loss_type: dapo
  temperature: 1.0
  num_iterations: 2
  scale_rewards: group
  generation_batch_size: 8
training:
  epochs: 1
  batch_size: 4
eval:
  holdout: holdout.jsonl
  metrics: [exact_match]
compute:
  accelerator: cpu
lint:
  disable: [FT120, FT105]
"""

# Iterating: a sweep, trackers, checkpoint selection and an earlier run as the base.
SEED_SPEC_ITERATE = """version: 1
name: fuzz-iterate
model:
  base: run:fuzz-v1
  parent_adapter: merge
adapter: {type: lora, rank: 4, alpha: 2}
data:
  train: train.jsonl
  validation: 0.2
  max_length: 64
training:
  epochs: 1
  batch_size: 4
eval:
  holdout: holdout.jsonl
  metrics: [exact_match]
  every_checkpoint: true
  select_by: exact_match
sweep:
  mode: grid
  parameters:
    training.learning_rate: [1.0e-4, 2.0e-4]
    adapter.rank: [4, 8]
tracking: [tensorboard, {mlflow: {experiment: fuzz}}, {wandb: {mode: offline}}]
lint:
  disable: [FT101, FT102, FT105]
"""

NASTY_VALUES = [
    None, True, False, 0, -1, 1, 2**63, 10**30, 1e308, -1e-308, 0.5, "", " ", "x" * 300, "a" * 256 + ".jsonl",
    "~nouser_fuzz/x.jsonl", "a\x00b.jsonl", "/dev/null", "/dev/zero", "/proc/self/mem", "fifo.jsonl", "loop.jsonl",
    "folder.jsonl", "../../../../etc/passwd", "train.jsonl", "missing.jsonl", "train.parquet", "[unclosed", "\\9",
    "(?P<", "*", "builtin:nope", "builtin:tiny", "./nomodel", "h100", "a100-80gb", "zero3", "fsdp", "dpo", "cpt",
    [], [1, 2], ["exact_match"], [{"regex": "("}], "grpo", {"python": "rw:nope"}, {"python": "os:system"},
    {"metric": "bleu"}, [{"length_penalty": 0}], {"lenght_penalty": 3}, "rw:score", [{"regex": "a", "replace": "\\2"}], {}, {"x": 1},
    {"path": "general.jsonl", "ratio": 0.99}, "é" * 200, "\u202e", "0x10", "1e-4",
    "run:", "run:nobody", "run:../x", "runs/fuzz-v1/0123", "validation_loss", "continue", "merge",
    {"parameters": {"training.nope": [1]}}, {"parameters": {"training.epochs": [0, -1]}}, {"parameters": {}},
    {"parameters": {"eval.max_new_tokens": [1, 2]}}, {"parameters": {"training.learning_rate": list(range(70))}},
    ["mlflow"], ["tensorboard", "neptune"], [{"mlflow": {"tracking_uri": "http://127.0.0.1:9"}}],
    [{"mlflow": {"tracking_uri": "file:/dev/null/x"}}], [{"wandb": {"mode": "online"}}],
]
TEXT_SNIPPETS = [
    '!!int "abc"', '!!float ""', "!!bool maybe", "!!python/object:os.system", "!!binary aGVsbG8=", "&a [1, 2]", "*a",
    "*undefined", ".inf", "-.inf", ".nan", "9" * 5000, "0x" + "f" * 200, "<<: {a: 1}", "? [a, b]\n: c", "{", "[", "'",
    '"\\ud800"', "\t", "\x00", "\x7f", "%YAML 1.1", "---", "...", "!!timestamp 2020-01-01", "!!set {a, b}",
    "!!omap [a: 1]", "~", "null", "yes", "on", "1_000", "0o17", "+.5", "1e999",
]


def make_files(folder: Path) -> None:
    def rows(n: int, offset: int = 0) -> str:
        return "".join(json.dumps({"messages": [{"role": "user", "content": f"repeat K{i}"},
                                                {"role": "assistant", "content": f"K{i}"}]}) + "\n"
                       for i in range(offset, offset + n))

    (folder / "train.jsonl").write_text(rows(40))
    (folder / "prompts.jsonl").write_text("".join(json.dumps({"prompt": f"repeat K{i}", "answer": f"K{i}"}) + "\n"
                                                  for i in range(40)))
    (folder / "rw.py").write_text("def score(prompts, completions, **kwargs):\n    return [0.0] * len(completions)\n")
    (folder / "general.jsonl").write_text(rows(10, 500))
    (folder / "holdout.jsonl").write_text(rows(6, 1000))
    os.mkfifo(folder / "fifo.jsonl")
    os.symlink(folder / "loop.jsonl", folder / "loop.jsonl")
    (folder / "folder.jsonl").mkdir()
    # A finished run of spec fuzz-v1 (plan, report, adapter whose hash the report records) for `run:fuzz-v1`.
    import hashlib

    run = folder / "runs" / "fuzz-v1" / "0123456789ab"
    (run / "adapter").mkdir(parents=True)
    (run / "data").mkdir()
    (run / "adapter" / "adapter_model.safetensors").write_text("weights")
    (run / "data" / "train.jsonl").write_text(rows(4, 500))
    (run / "spec.yaml").write_text("name: fuzz-v1\n")
    (run / "plan.json").write_text(json.dumps({
        "name": "fuzz-v1", "method": "sft", "spec_file": "/elsewhere/v1.yaml",
        "job": {"model": {"base": "builtin:tiny", "revision": None}, "peft": {"r": 4},
                "data": {"train": "data/train.jsonl", "validation": None}}, "fingerprint": {"model": {"files": {}}}}))
    (run / "report.json").write_text(json.dumps({"status": "completed", "created": "2026-12-01T00:00:00+00:00",
                                                 "final_weights": {"path": "adapter", "sha256": {
                                                     "adapter_model.safetensors": hashlib.sha256(b"weights").hexdigest()}}}))


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def structural(rng: random.Random, raw: dict) -> str:
    import copy

    doc = copy.deepcopy(raw)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        paths = list(_paths(doc))
        path = rng.choice(paths)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.75:
            parent[path[-1]] = rng.choice(NASTY_VALUES)
        elif action < 0.85 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["unknown_key", "lerning_rate", "x" * 300, "", "extends"])] = rng.choice(NASTY_VALUES)
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5)  # JSON is YAML: a valid document of nasty values


def textual(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.choice([1, 1, 2, 3])):
        kind = rng.randrange(7)
        i = rng.randrange(len(lines))
        if kind == 0:  # a value replaced by a YAML snippet
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {rng.choice(TEXT_SNIPPETS)}\n"
        elif kind == 1:  # bytes cut out
            j = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:j] + lines[i][j + rng.randrange(1, 8):]
        elif kind == 2:  # random characters in
            j = rng.randrange(len(lines[i]) + 1)
            noise = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 32), rng.randrange(128, 0x3000)]))
                            for _ in range(rng.randrange(1, 6)))
            lines[i] = lines[i][:j] + noise + lines[i][j:]
        elif kind == 3:  # a line duplicated (duplicate keys)
            lines.insert(i, lines[i])
        elif kind == 4:  # lines swapped (indentation breaks)
            k = rng.randrange(len(lines))
            lines[i], lines[k] = lines[k], lines[i]
        elif kind == 5:  # truncated document
            lines = lines[: i + 1]
        else:  # an alias bomb or deep nesting
            lines.insert(i, rng.choice([
                "bomb: &b \"" + "x" * 200_000 + "\"\nmore: [" + ",".join(["*b"] * 60) + "]\n",
                "deep: " + "[" * 5000 + "]" * 5000 + "\n",
                "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
            ]))
        if not lines:
            lines = ["\n"]
    return "".join(lines)


class Hang(Exception):
    pass


def run_cli(args: list[str], timeout: int) -> tuple[str, int | None, str, str]:
    """(outcome, exit code, stdout, stderr) of the real entry point, in this process."""
    from ftspec.cli import main

    out, err = io.StringIO(), io.StringIO()

    def alarm(signum, frame):
        raise Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout)
    code: int | None = None
    outcome = None
    old_argv = sys.argv
    sys.argv = ["ftspec", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Hang:
        outcome = "hang"
    except BaseException as exc:  # escaped main(): what a user would see as a traceback
        outcome = f"traceback: {type(exc).__name__}: {exc}"[:200]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.argv = old_argv
    stdout, stderr = out.getvalue(), err.getvalue()
    if outcome is None:
        if "Traceback" in stdout + stderr:
            outcome = "traceback"
        elif "internal error" in stderr or code not in (0, 1):
            outcome = "internal error"
        elif code == 1 and "FT" not in stdout + stderr and "ftspec:" not in stderr:
            outcome = "unlocated error"
        elif "--format" in args and "json" in args:
            try:
                json.loads(stdout)
                outcome = "ok"
            except ValueError:
                outcome = "not JSON"
        else:
            outcome = "ok"
    return outcome, code, stdout, stderr


def mutants(n: int, seed: int):
    from ftspec.spec.load import load_spec

    rng = random.Random(seed)
    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        make_files(Path(tmp))
        for text in (SEED_SPEC, SEED_SPEC_GRPO, SEED_SPEC_ITERATE):
            (Path(tmp) / "seed.yaml").write_text(text)
            seeds.append((text, load_spec(Path(tmp) / "seed.yaml").raw))
    for i in range(n):
        text, raw = seeds[i % len(seeds)]  # in turn from each seed
        yield i, (structural(rng, raw) if rng.random() < 0.5 else textual(rng, text))


def campaign(n: int, seed: int, timeout: int, echo=print) -> dict:
    counts: dict[str, int] = {}
    exits: dict[int | None, int] = {}
    bad: list[tuple[int, str, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_files(folder)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            for i, text in mutants(n, seed):
                (folder / "spec.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
                for args in (["validate", "spec.yaml"], ["lint", "spec.yaml"], ["plan", "spec.yaml", "--format", "json"]):
                    outcome, code, out, err = run_cli(args, timeout)
                    key = outcome.split(":")[0]
                    counts[key] = counts.get(key, 0) + 1
                    if args[0] == "plan":
                        exits[code] = exits.get(code, 0) + 1
                    if key != "ok":
                        bad.append((i, args[0], outcome + " | " + (err or out)[-300:]))
                        echo(f"mutant {i} {args[0]}: {outcome}: {(err or out)[-300:]!r}")
                for name in os.listdir(folder):  # a mutant's `plan -o`-like leftovers must not change the next
                    if name not in ("spec.yaml", "train.jsonl", "general.jsonl", "holdout.jsonl", "fifo.jsonl",
                                    "loop.jsonl", "folder.jsonl"):
                        path = folder / name
                        if path.is_dir() and not path.is_symlink():
                            import shutil

                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            path.unlink(missing_ok=True)
        finally:
            os.chdir(cwd)
    return {"specs": n, "runs": sum(counts.values()), "outcomes": counts, "plan_exit_codes": exits,
            "bad": bad, "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=30)
    ns = parser.parse_args()
    result = campaign(ns.n, ns.seed, ns.timeout)
    print(json.dumps({k: v for k, v in result.items() if k != "bad"}, indent=2, default=str))
    print(f"{result['specs']} mutated specs, {result['runs']} runs (validate, lint, plan --format json): "
          f"{len(result['bad'])} bad (tracebacks, internal errors, hangs, unlocated errors, non-JSON)")
    return 1 if result["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
