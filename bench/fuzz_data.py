"""Corrupted-data campaign: every class of broken dataset or model folder, through `lint` and `plan --format json`.

Each case is run as the real CLI in a subprocess with a timeout. An outcome is good when the command exits
0 or 1 in time, prints no traceback or "internal error", and (for plan --format json) prints JSON on stdout.

    python bench/fuzz_data.py [--big-mb 50] [--timeout 60] [--mem-cap-gb 4] [--only PART-OF-NAME]

--mem-cap-gb runs every command under that address-space limit (RLIMIT_AS), as a memory-capped container
would; each line also shows the command's peak RSS.

Prints one line per case and command, then the totals; exits 1 if any case is bad.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"messages": [{"role": "user", "content": "question"}, {"role": "assistant", "content": "answer"}]}


def good_lines(n: int = 40) -> str:
    return "".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                            {"role": "assistant", "content": f"answer {i}"}]}) + "\n"
                   for i in range(n))


def spec(train: str, *, method: str = "sft", model: str = "builtin:tiny", extra: str = "") -> str:
    return (f"version: 1\nname: fuzz\nmethod: {method}\nmodel: {{base: {json.dumps(model)}}}\n"
            f"data: {{train: {json.dumps(train)}, max_length: 64}}\n"
            "training: {epochs: 1, batch_size: 4}\n" + (GRPO_SECTIONS if method == "grpo" else "") + extra)


GRPO_SECTIONS = ("rewards: [{metric: exact_match, reference: answer}, {python: 'rw:score'}]\n"
                 "grpo: {num_generations: 4, max_completion_length: 16}\n")


def prompt_lines(n: int = 40) -> str:
    return "".join(json.dumps({"prompt": f"question {i}", "answer": f"a{i}"}) + "\n" for i in range(n))


def _tiny_model(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from ftspec.models.tiny import tiny_model_dir

    src = tiny_model_dir(with_weights=False)
    shutil.copytree(src, folder)
    return folder


def _parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def cases(big_mb: int):
    """(name, build(dir) -> spec text)."""
    def data_case(name, filename, content, method="sft"):
        def build(d: Path) -> str:
            p = d / filename
            if callable(content):
                content(p)
            else:
                p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
            return spec(filename, method=method)
        return name, build

    def fifo(p: Path) -> None:
        os.mkfifo(p)

    def unreadable(p: Path) -> None:
        p.write_text(good_lines())
        p.chmod(0)

    def truncated_parquet(p: Path) -> None:
        _parquet(p, [GOOD] * 50)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])

    def deep(n: int) -> str:
        return good_lines() + '{"messages": ' + "[" * n + "]" * n + "}\n"

    def symlink_loop(p: Path) -> None:
        os.symlink(p, p)

    big = "x" * (big_mb * 1024 * 1024)

    def grpo_case(name, content, reward_module: str | None = "def score(prompts, completions, **kw):\n    return []\n"):
        def build(d: Path) -> str:
            (d / "train.jsonl").write_text(content, encoding="utf-8")
            if reward_module is not None:
                (d / "rw.py").write_bytes(reward_module.encode("utf-8", "surrogatepass"))
            return spec("train.jsonl", method="grpo")
        return name, build

    yield grpo_case("grpo-prompt-types", prompt_lines() + "".join(json.dumps({"prompt": v, "answer": "a"}) + "\n" for v in
                    (None, 3, {"role": "user"}, [], [{"role": "assistant", "content": "x"}], [{"content": "x"}], [None])))
    yield grpo_case("grpo-answer-types", prompt_lines() + "".join(json.dumps({"prompt": "q", "answer": v}) + "\n"
                                                                 for v in (None, {"a": [1]}, [1, 2], 1e308, True)))
    yield grpo_case("grpo-missing-answers", prompt_lines(30) + "".join(json.dumps({"prompt": "q"}) + "\n" for _ in range(10)))
    yield grpo_case("grpo-tools-and-images", prompt_lines() + json.dumps({"prompt": [{"role": "user", "content": [
        {"image": "nope.png"}, {"text": "what?"}]}], "answer": "a", "tools": [{"name": "f"}]}) + "\n")
    yield grpo_case("grpo-huge-prompt", prompt_lines() + json.dumps({"prompt": big, "answer": "a"}) + "\n")
    yield grpo_case("grpo-deep-prompt", prompt_lines() + '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    yield grpo_case("grpo-reward-module-missing", prompt_lines(), reward_module=None)
    yield grpo_case("grpo-reward-module-binary", prompt_lines(), reward_module="\udcff\x00def score(:\n")
    yield grpo_case("grpo-reward-module-deep", prompt_lines(), reward_module="x = " + "(" * 200_000 + ")" * 200_000 + "\n")
    yield data_case("fifo-train", "train.jsonl", fifo)
    yield data_case("unreadable-train", "train.jsonl", unreadable)
    yield data_case("folder-train", "train.jsonl", lambda p: p.mkdir())
    yield data_case("symlink-loop-train", "train.jsonl", symlink_loop)
    yield data_case("fake-parquet", "train.parquet", b"this is not parquet\n" * 10)
    yield data_case("empty-parquet", "train.parquet", b"")
    yield data_case("truncated-parquet", "train.parquet", truncated_parquet)
    yield data_case("deep-json", "train.jsonl", deep(100_000))
    yield data_case("deep-json-array", "train.json", "[" + json.dumps(GOOD) + ", " + "[" * 100_000 + "]" * 100_000 + "]")
    yield data_case("lone-surrogate", "train.jsonl", good_lines() + '{"messages": [{"role": "user", "content": "a\\ud800"}, '
                    '{"role": "assistant", "content": "b"}]}\n')
    yield data_case("duplicate-keys", "train.jsonl", good_lines() + '{"messages": [{"role": "user", "content": "a", '
                    '"content": "b"}, {"role": "assistant", "content": "c"}]}\n')
    yield data_case("huge-integer", "train.jsonl", good_lines() + '{"messages": [], "n": ' + "9" * 5000 + "}\n")
    yield data_case("nul-bytes", "train.jsonl", good_lines() + '{"messages": [{"role": "user", "content": "a\x00"}]}\n')
    yield data_case("binary-garbage", "train.jsonl", os.urandom(4096))
    yield data_case("not-utf8", "train.txt", b"\xff\xfe" * 1000, method="cpt")
    yield data_case("empty-file", "train.jsonl", b"")
    yield data_case("huge-record", "train.jsonl", good_lines() + json.dumps(
        {"messages": [{"role": "user", "content": big}, {"role": "assistant", "content": "b"}]}) + "\n")
    yield data_case("huge-text-line", "train.txt", ("hello world\n" * 40) + big + "\n", method="cpt")
    # /proc/self/mem stats as a regular file of size 0 and fails every read with EIO.
    yield data_case("proc-file-eio", "train.jsonl", lambda p: os.symlink("/proc/self/mem", p))
    yield data_case("proc-file-text", "train.txt", lambda p: os.symlink("/proc/self/status", p), method="cpt")

    def model_case(name, mutate):
        def build(d: Path) -> str:
            (d / "train.jsonl").write_text(good_lines())
            m = _tiny_model(d / "m")
            mutate(m)
            return spec("train.jsonl", model="./m")
        return name, build

    yield model_case("model-template-syntax", lambda m: (m / "chat_template.jinja").write_text("{% for x in messages %}"))
    yield model_case("model-corrupt-tokenizer", lambda m: (m / "tokenizer.json").write_text('{"model": {"type": "BPE"'))
    yield model_case("model-tokenizer-not-object", lambda m: (m / "tokenizer_config.json").write_text("[1, 2]"))
    yield model_case("model-config-non-numeric", lambda m: (m / "config.json").write_text(json.dumps(
        {**json.loads((m / "config.json").read_text()), "hidden_size": "big"})))
    yield model_case("model-config-corrupt", lambda m: (m / "config.json").write_text("{not json"))

    def fifo_template(m: Path) -> None:
        (m / "additional_chat_templates").mkdir()
        os.mkfifo(m / "additional_chat_templates" / "tool_use.jinja")

    yield model_case("model-fifo-template", fifo_template)
    yield model_case("model-fifo-tokenizer", lambda m: ((m / "tokenizer.json").unlink(), os.mkfifo(m / "tokenizer.json")))


# The CLI, reporting its own peak RSS on the way out (whatever the exit code).
_WRAPPER = ("import resource, runpy, sys\n"
            "try:\n    runpy.run_module('ftspec.cli', run_name='__main__')\n"
            "finally:\n    print(f'FUZZ_RSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n")


def run_one(args: list[str], cwd: Path, timeout: float, mem_cap_gb: float | None = None,
            ) -> tuple[str, float, str, int | None]:
    import re
    import resource

    def cap():
        if mem_cap_gb:
            limit = int(mem_cap_gb * 1024**3)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, env=env, preexec_fn=cap)
    except subprocess.TimeoutExpired:
        return "hang", time.perf_counter() - started, "", None
    took = time.perf_counter() - started
    found = re.findall(r"FUZZ_RSS_KB=(\d+)", proc.stderr)
    rss = int(found[-1]) // 1024 if found else None
    stderr = re.sub(r"FUZZ_RSS_KB=\d+\n?", "", proc.stderr)
    proc = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, stderr)
    out = proc.stdout + proc.stderr
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}", took, out, rss
    if "Traceback" in out:
        return "traceback", took, out, rss
    if "internal error" in out or proc.returncode not in (0, 1):
        return f"internal error (exit {proc.returncode})", took, out, rss
    if "--format" in args and "json" in args:
        try:
            json.loads(proc.stdout)
        except ValueError:
            return "not JSON", took, out, rss
    return f"ok (exit {proc.returncode})", took, out, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--only", default=None)
    parser.add_argument("--mem-cap-gb", type=float, default=None)
    ns = parser.parse_args()
    bad = total = 0
    for name, build in cases(ns.big_mb):
        if ns.only and ns.only not in name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            (d / "spec.yaml").write_text(build(d))
            for args in (["lint", "spec.yaml"], ["plan", "spec.yaml", "--format", "json"]):
                outcome, took, out, rss = run_one(args, d, ns.timeout, ns.mem_cap_gb)
                total += 1
                good = outcome.startswith("ok")
                bad += not good
                last = next((line for line in reversed(out.strip().splitlines()) if "FT" in line), "")
                print(f"{name:<28} {args[0]:<5} {outcome:<22} {took:6.2f}s {rss or 0:6d} MB  "
                      f"{last[:100] if good else out[-400:]!r}")
            for p in d.rglob("*"):  # chmod 0 files must be removable
                try:
                    p.chmod(0o700)
                except OSError:
                    pass
    print(f"{total} runs over corrupted-data classes: {bad} bad (traceback, hang, internal error, signal, non-JSON)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
