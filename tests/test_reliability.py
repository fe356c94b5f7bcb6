"""Never a traceback, never a hang: mutated specs, corrupted data and broken model folders through the real
entry point (in process; the full campaigns are bench/fuzz_specs.py and bench/fuzz_data.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import fuzz_data  # noqa: E402
import fuzz_specs  # noqa: E402

from ftspec.spec.load import SpecErrors, load_spec  # noqa: E402
from support.project import chat_rows, write_project  # noqa: E402


def test_mutated_specs_end_in_located_errors_or_plans():
    result = fuzz_specs.campaign(120, seed=8, timeout=30, echo=lambda m: None)
    assert result["bad"] == []
    assert result["outcomes"] == {"ok": 360}
    assert result["plan_exit_codes"].get(0, 0) > 5  # the campaign also reaches real plans, not only errors


DATA_CASES = {name: build for name, build in fuzz_data.cases(big_mb=5)}


@pytest.mark.parametrize("name", sorted(DATA_CASES))
def test_corrupted_data_and_model_folders(tmp_path, name, monkeypatch):
    (tmp_path / "spec.yaml").write_text(DATA_CASES[name](tmp_path))
    monkeypatch.chdir(tmp_path)
    for args in (["lint", "spec.yaml"], ["plan", "spec.yaml", "--format", "json"]):
        started = time.perf_counter()
        outcome, code, out, err = fuzz_specs.run_cli(args, timeout=60)
        assert outcome == "ok", (args, outcome, err[-500:])
        assert time.perf_counter() - started < 30
    if name.startswith(("model-", "fifo", "folder", "symlink", "fake", "empty-parquet", "truncated", "proc-file-eio")):
        assert code == 1, out + err  # an error finding, located in the spec or the data file
        assert json.loads(out)["plan"] is None


def _spec(tmp_path: Path, body: str) -> Path:
    return write_project(tmp_path, "version: 1\nname: r\ndata: {train: train.jsonl}\n" + body,
                         {"train.jsonl": chat_rows(1, user="a", assistant="b")})


def _errors(path: Path) -> list[str]:
    with pytest.raises(SpecErrors) as exc:
        load_spec(path)
    return [str(e) for e in exc.value.errors]


@pytest.mark.parametrize("body, needle, line", [
    ('training: {batch_size: !!int "abc"}\n', "not a valid !!int value", 4),
    ('training: {weight_decay: !!float ""}\n', "not a valid !!float value", 4),
    ("training: {weight_decay: .inf}\n", "finite number", 4),
    ("compute: {price_per_gpu_hour: .nan}\n", "finite number", 4),
    ("adapter: {alpha: .inf}\n", "finite number", 4),
    ("training: {seed: " + "9" * 5000 + "}\n", "5000 digits is too long", 4),
    ('description: "\\ud800"\n', "surrogate|invalid Unicode character escape", 4),  # ftspec's check or libyaml's
    ('eval: {metrics: [{regex: "[unclosed"}]}\n', "not a valid regular expression", 4),
    ('eval: {postprocess: [{regex: "a(b)", replace: "\\\\9"}]}\n', "invalid group reference 9", 4),
    ('eval: {holdout: "' + "h" * 300 + '.jsonl"}\n', "longer than 255 bytes", 4),
    ("eval: {holdout: ~nouser_xyz/h.jsonl}\n", "not a user on this machine", 4),
    ('output: {dir: "a\\0b"}\n', "NUL", 4),
])
def test_spec_problems_are_located(tmp_path, body, needle, line):
    errors = _errors(_spec(tmp_path, body))
    hit = [e for e in errors if any(n in e for n in needle.split("|"))]
    assert hit, errors
    assert f"spec.yaml:{line}:" in hit[0]


def test_string_alias_bomb_is_refused_fast(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text('a: &a "' + "x" * 1_400_000 + '"\nb: [' + ",".join(["*a"] * 40_000) + "]\n")
    started = time.perf_counter()
    errors = _errors(path)
    assert time.perf_counter() - started < 5
    assert "expands to more than" in errors[0]


def test_spec_size_is_checked_before_reading(tmp_path):
    big = tmp_path / "base.yaml"
    with open(big, "wb") as fh:  # 3 GB, sparse: reading it whole would take 3 GB of memory
        fh.truncate(3 * 1024**3)
    errors = _errors(_spec(tmp_path, "extends: base.yaml\n"))
    assert "larger than 2000000 bytes" in errors[0]
    os.mkfifo(tmp_path / "fifo.yaml")
    errors = _errors(_spec(tmp_path, "extends: fifo.yaml\n"))  # would block forever if opened
    assert "not a regular file" in errors[0]


def test_bounded_prefix_gives_the_same_plan_counts(tmp_path):
    """The bounded prefix only stands in for texts over max_length; the pipeline's counts are unchanged."""
    from ftspec.pipeline.prepare import prepare
    from ftspec.models.resolve import resolve_model
    from ftspec.tokenizer.chat import ChatTokenizer

    rows = [{"messages": [{"role": "user", "content": f"question {i} " + "word " * (i * 400)},
                          {"role": "assistant", "content": "answer"}]} for i in range(6)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "spec.yaml").write_text("version: 1\nname: b\ndata: {train: train.jsonl, max_length: 256}\n")
    loaded = load_spec(tmp_path / "spec.yaml")
    tok = ChatTokenizer.from_model(resolve_model("builtin:tiny"))
    bounded = prepare(loaded, tok)
    tok._chars_per_token = None  # no bound known: every text is encoded whole
    whole = prepare(loaded, tok)
    assert bounded.counts == whole.counts and bounded.rows == whole.rows
    assert bounded.counts["dropped_over_length"] == 5
    long_text = "word " * 2_000_000
    prefix = ChatTokenizer.from_model(resolve_model("builtin:tiny")).bounded(long_text, 256)
    assert len(prefix) < 100_000 and len(tok.encode(prefix)) > 256


def test_many_messages_per_record_plan_in_linear_time(tmp_path):
    from ftspec.models.resolve import resolve_model
    from ftspec.tokenizer.chat import ChatTokenizer

    tok = ChatTokenizer.from_model(resolve_model("builtin:tiny"))

    def seconds(n: int) -> float:
        msgs = [m for i in range(n) for m in ({"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"})]
        started = time.perf_counter()
        tok.encode_chat_batch([msgs])
        return time.perf_counter() - started

    seconds(100)
    small, large = seconds(2_000), seconds(20_000)
    assert large < 30 * small + 0.5  # 10x the messages: ~10x the time (quadratic was ~100x)


def test_bisected_char_to_token_matches_the_library():
    import random

    from ftspec.models.resolve import resolve_model
    from ftspec.tokenizer.chat import ChatTokenizer, char_to_token

    tok = ChatTokenizer.from_model(resolve_model("builtin:tiny"))
    rng = random.Random(0)
    for _ in range(200):
        text = "".join(rng.choice(["a", "b", " ", "é", "你", "😀", "\n", "  ", "=====", "hello"])
                       for _ in range(rng.randrange(1, 80)))
        enc = tok.tokenizer.encode(text, add_special_tokens=False)
        find = char_to_token(enc)
        assert [find(c) for c in range(len(text) + 2)] == [enc.char_to_token(c) for c in range(len(text) + 2)]
