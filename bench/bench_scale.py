"""`ftspec plan` and `ftspec lint` at scale: wall time and peak RSS at 10k, 100k and 1M chat samples, beside the floor.

The tokenizer is the Qwen2.5 fixture's (ftspec.models.fixtures, a real 151,643-rank vocabulary). For each size the
chat data is generated deterministically into a temp folder, and each measurement is a fresh process (cold start
included), its peak RSS read from the kernel (``wait4``'s ``ru_maxrss`` of that very child):

- floor: a process that reads the same samples, renders each with the model's chat template and encodes them with
  ``encode_batch`` (in chunks of 2,000, so its memory does not grow) with the same tokenizer: what counting every
  sample exactly costs at the least;
- plan cold: ``ftspec plan`` with an empty count cache; plan warm: again after a learning-rate change (nothing that
  tokenizes differs: the counts come from the cache); plan --no-cache: the whole work, the cache skipped;
- lint cold: ``ftspec lint`` with an empty cache; lint second: again, the data unchanged.

The cache lives in the temp folder (FTSPEC_CACHE_DIR), so the user's own cache is neither read nor written.
Usage: python bench/bench_scale.py [--sizes 10000,100000,1000000] [--repeats N]   (1M takes several minutes)
Prints one JSON line per measurement, then a Markdown table; exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """version: 1
name: bench-scale
model: {{base: {model}}}
data:
  train: train.jsonl
  validation: 0.05
  max_length: 512
training: {{epochs: 1, batch_size: 8, learning_rate: {lr}}}
"""

WORDS = ["model", "code", "Sikalastic-609", "水吧台/岛台区域", "price", "stock", "厨房/卫生间", "K11-Pro", "the",
         "delivery", "warranty", "colour", "install", "measure", "quote", "we", "can", "ship", "tomorrow", "árbol"]


def write_chat(path: Path, n: int, seed: int = 0) -> None:
    """n chat samples: a third with a system prompt, a fifth of two exchanges; answers of 5 to 60 words."""
    rng = random.Random(seed)

    def words(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            msgs = []
            if rng.random() < 0.33:
                msgs.append({"role": "system", "content": "You are a helpful sales assistant. " + words(0, 8)})
            for _ in range(2 if rng.random() < 0.2 else 1):
                msgs.append({"role": "user", "content": f"{words(3, 20)} #{i}?"})
                msgs.append({"role": "assistant", "content": words(5, 60) + "."})
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")


FLOOR_CHUNK = 2000


def floor(data: str, model_dir: str) -> None:
    """The floor, run as its own process: render every sample with the chat template, encode_batch the texts."""
    from ftspec.tokenizer.chat import ChatTokenizer

    start = time.perf_counter()
    tok = ChatTokenizer.from_files(Path(model_dir) / "tokenizer.json")
    loaded = time.perf_counter()
    total, n = 0, 0
    texts: list[str] = []

    def encode() -> int:
        return sum(len(e.ids) for e in tok.tokenizer.encode_batch(texts, add_special_tokens=False))

    with open(data, encoding="utf-8") as fh:
        for line in fh:
            texts.append(tok.render_chat(json.loads(line)["messages"]))
            n += 1
            if len(texts) >= FLOOR_CHUNK:
                total += encode()
                texts = []
    total += encode() if texts else 0
    print(json.dumps({"samples": n, "tokens": total, "load_s": round(loaded - start, 3),
                      "render_encode_s": round(time.perf_counter() - loaded, 3)}))


def measure(argv: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    out, err = proc.communicate()  # ru_maxrss is collected by wait4 below, for this child alone
    wall = time.perf_counter() - start
    rss = 0.0
    if hasattr(proc, "_ru"):
        rss = proc._ru.ru_maxrss / 1024
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode()[-3000:]}")
    return wall, rss, out.decode()


class _Popen(subprocess.Popen):
    """Popen whose wait collects the child's own rusage (os.wait4)."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self._ru = ru
        return pid, sts


subprocess.Popen = _Popen  # type: ignore[misc]


def run_size(n: int, repeats: int, model_dir: Path, keep: bool) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
    rows = []
    try:
        t0 = time.perf_counter()
        write_chat(tmp / "train.jsonl", n)
        print(json.dumps({"size": n, "wrote_s": round(time.perf_counter() - t0, 1),
                          "bytes": (tmp / "train.jsonl").stat().st_size}), flush=True)
        cache = tmp / "cache"
        env = {**os.environ, "FTSPEC_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
        # As an installed ftspec runs: its modules' bytecode cached (an environment may turn writing it off).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        spec = tmp / "spec.yaml"

        def write_spec(lr: str) -> None:
            spec.write_text(SPEC.format(model=model_dir, lr=lr))

        cli = [sys.executable, "-m", "ftspec.cli"]

        def one(label: str, argv: list[str], clear: bool = False, lr: str = "1e-4") -> None:
            walls, rsses, out = [], [], ""
            for _ in range(repeats):
                if clear:
                    shutil.rmtree(cache, ignore_errors=True)
                write_spec(lr)
                wall, rss, out = measure(argv, env, tmp)
                walls.append(wall)
                rsses.append(rss)
            row = {"size": n, "case": label, "wall_s": round(min(walls), 2), "peak_rss_mb": round(max(rsses)),
                   "repeats": len(walls)}
            if label == "floor":
                row.update(json.loads(out.strip().splitlines()[-1]))
            if label.startswith("plan"):
                plan = json.loads(out)
                row.update(rows_=plan["data"]["rows"], steps=plan["optimizer_steps"],
                           tokens=plan["train_tokens"]["per_epoch"])
            rows.append(row)
            print(json.dumps(row), flush=True)

        one("floor", [sys.executable, str(Path(__file__).resolve()), "--floor", str(tmp / "train.jsonl"),
                      str(model_dir)])
        one("lint cold", cli + ["lint", "--format", "json", str(spec)], clear=True)
        one("lint second", cli + ["lint", "--format", "json", str(spec)])
        one("plan cold", cli + ["plan", "--format", "json", str(spec)], clear=True)
        one("plan warm (lr changed)", cli + ["plan", "--format", "json", str(spec)], lr="3e-4")
        if not os.environ.get("BENCH_SCALE_BASELINE"):  # a checkout from before the cache has no --no-cache
            one("plan --no-cache", cli + ["plan", "--no-cache", "--format", "json", str(spec)])
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def table(rows: list[dict]) -> str:
    sizes = sorted({r["size"] for r in rows})
    cases = list(dict.fromkeys(r["case"] for r in rows))
    by = {(r["size"], r["case"]): r for r in rows}
    head = "| | " + " | ".join(f"{s:,} samples" for s in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for case in cases:
        cells = []
        for s in sizes:
            r = by.get((s, case))
            cells.append(f"{r['wall_s']:.2f} s, {r['peak_rss_mb']} MB" if r else "")
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    ratio = []
    for s in sizes:
        f, p = by.get((s, "floor")), by.get((s, "plan cold"))
        ratio.append(f"{p['wall_s'] / f['wall_s']:.2f}x" if f and p else "")
    lines.append("| plan cold / floor | " + " | ".join(ratio) + " |")
    ratio = []
    for s in sizes:
        f, p = by.get((s, "floor")), by.get((s, "lint cold"))
        ratio.append(f"{p['wall_s'] / f['wall_s']:.2f}x" if f and p else "")
    lines.append("| lint cold / floor | " + " | ".join(ratio) + " |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--floor":
        floor(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp folders (data, cache)")
    args = parser.parse_args()
    # Built (or found) in a child: building imports torch, and on Linux a child's ru_maxrss starts from the RSS of the
    # process it was forked from, so this process must stay small for the children's peaks to be their own.
    model_dir = Path(subprocess.run(
        [sys.executable, "-c", "from ftspec.models.fixtures.build import cached; print(cached('qwen2.5-instruct'))"],
        check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1])
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        rows += run_size(n, args.repeats, model_dir, args.keep)
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
