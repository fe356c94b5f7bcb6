"""The count cache (ftspec/pipeline/cache.py): every input a count depends on is in the key (a changed one is never
served stale), a broken or foreign entry is ignored with a note and written again, concurrent writers are safe, the
folder is bounded, and --no-cache skips it. Plans from the cache equal plans without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftspec.lint.engine import run_lint
from ftspec.pipeline import cache
from ftspec.pipeline.prepare import prepare
from ftspec.spec.load import load_spec
from support import ROOT, run_cli
from support.project import chat_rows, write_project


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_memo", None)  # the digest memo of this test's folder
    cache.set_enabled(True)


def _rows(n: int = 30) -> list[dict]:
    rows = chat_rows(n, user="question {i} about grout and tiles", assistant="answer {i}: " + "seal it " * 3)
    for i, r in enumerate(rows):
        if i % 4 == 0:
            r["messages"].insert(0, {"role": "system", "content": "Be brief."})
    return rows


def _project(tmp_path: Path, data: dict | None = None, rows: list | None = None, files: dict | None = None,
             **spec_extra) -> Path:
    spec = {"version": 1, "name": "cache", "model": {"base": "builtin:tiny"},
            "data": {"train": "train.jsonl", "max_length": 256, **(data or {})}, **spec_extra}
    return write_project(tmp_path / "p", spec, {"train.jsonl": rows if rows is not None else _rows(), **(files or {})})


def _counted(spec_path: Path, **kwargs):
    """(prepared counts and rows, cache hits of this call)."""
    before = cache.counters.get("hits:facts", 0)
    prepared = prepare(load_spec(spec_path), records=False, **kwargs)
    return (prepared.counts, prepared.rows, prepared.tokens_per_epoch, prepared.loss_tokens_per_epoch,
            prepared.tokens.lengths if prepared.tokens else None), cache.counters.get("hits:facts", 0) - before


def _facts_entries() -> list[Path]:
    return sorted(p for p in (cache.counts_dir()).glob("*/facts-*"))


def test_second_prepare_comes_from_the_cache_and_equals_the_first(tmp_path):
    spec = _project(tmp_path, {"validation": 0.2, "system_prompt": "You sell tiles."})
    first, hits = _counted(spec)
    assert hits == 0 and len(_facts_entries()) == 1
    again, hits = _counted(spec)
    assert hits >= 1 and again == first
    uncached, hits = _counted(spec, use_cache=False)
    assert hits == 0 and uncached == first


CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}"
          "{{ m.content }}<|im_end|>{% endgeneration %}{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}")


def _edit_spec(spec: Path, **data) -> None:
    value = json.loads(spec.read_text())
    value["data"].update(data)
    spec.write_text(json.dumps(value))


# Each part of the key: after the change the facts are counted again (a new entry), never read from the old one.
KEY_CHANGES = {
    "data bytes": lambda spec: (spec.parent / "train.jsonl").write_text(
        (spec.parent / "train.jsonl").read_text().replace("question 3 ", "question 3 longer ")),
    "format": lambda spec: _edit_spec(spec, format="messages"),
    "max_length": lambda spec: _edit_spec(spec, max_length=128),
    "system_prompt": lambda spec: _edit_spec(spec, system_prompt="Answer in French."),
    "assistant_only_loss": lambda spec: _edit_spec(spec, assistant_only_loss=False),  # on by default
    "chat_template": lambda spec: (
        (spec.parent / "t.jinja").write_text(CHATML.replace("<|im_start|>", "<|im_start|>[turn] ")),
        _edit_spec(spec, chat_template="t.jinja")),
}


@pytest.mark.parametrize("part", sorted(KEY_CHANGES))
def test_each_key_part_invalidates(part, tmp_path):
    spec = _project(tmp_path)
    _counted(spec)
    entries = _facts_entries()
    KEY_CHANGES[part](spec)
    changed, hits = _counted(spec)
    assert hits == 0, f"{part}: served from the cache"
    assert len(_facts_entries()) == len(entries) + 1
    assert changed == _counted(spec, use_cache=False)[0]  # what the cache holds now is the uncached count


def test_over_length_and_method_are_in_the_key(tmp_path):
    spec = _project(tmp_path)
    _counted(spec)
    value = json.loads(spec.read_text())
    value["data"]["over_length"] = "truncate"  # unbounded: a sample over max_length is counted whole
    spec.write_text(json.dumps(value))
    assert _counted(spec)[1] == 0
    value["method"] = "cpt"  # conversations joined into plain text
    spec.write_text(json.dumps(value))
    assert _counted(spec)[1] == 0


def _local_model(tmp_path: Path) -> Path:
    from ftspec.models.resolve import resolve_model

    folder = tmp_path / "model"
    shutil.copytree(resolve_model("builtin:tiny").local_dir, folder)
    return folder


def test_tokenizer_files_are_in_the_key(tmp_path):
    model = _local_model(tmp_path)
    spec = write_project(tmp_path / "p", {"version": 1, "name": "c", "model": {"base": str(model)},
                                          "data": {"train": "train.jsonl", "max_length": 256}},
                         {"train.jsonl": _rows()})
    first, _ = _counted(spec)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["chat_template"] = CHATML.replace("<|im_start|>", "<|im_start|>[turn] ")
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    changed, hits = _counted(spec)
    assert hits == 0 and changed != first
    text = json.loads((model / "tokenizer.json").read_text())
    (model / "tokenizer.json").write_text(json.dumps(text, indent=1))  # same tokenizer, other bytes: counted again
    again, hits = _counted(spec)
    assert hits == 0 and again == changed


def test_render_date_is_in_the_key_of_a_calendar_template(tmp_path):
    template = CHATML.replace("<|im_start|>", "<|im_start|>{{ strftime_now('%d %B %Y') }} ")
    spec = _project(tmp_path, {"chat_template": "t.jinja"}, files={"t.jinja": template})
    may, _ = _counted(spec, render_date="2024-05-01")
    _, hits = _counted(spec, render_date="2024-05-01")
    assert hits >= 1
    september, hits = _counted(spec, render_date="2024-09-30")  # "September" is longer than "May"
    assert hits == 0 and september[0]["train"] == may[0]["train"] and september[2] > may[2]


def test_tool_argument_mode_and_code_version_are_in_the_key(tmp_path, monkeypatch):
    from ftspec.methods import get_method
    from ftspec.pipeline.facts import Tokenizing, file_facts
    from ftspec.pipeline.setup import load_tokenizer

    spec = _project(tmp_path)
    loaded = load_spec(spec)
    tok = load_tokenizer(loaded)
    how = Tokenizing(get_method("sft"), tok, {"assistant_only_loss": False, "max_length": 64, "bounded": False},
                     key={"test": 1})
    path = spec.parent / "train.jsonl"
    file_facts(path, "auto", ("data", "train"), how)
    assert file_facts(path, "auto", ("data", "train"), how)[0].cached
    assert not file_facts(path, "auto", ("data", "train"), how, text_arguments=True)[0].cached
    monkeypatch.setattr(cache, "_code_version", "another ftspec")
    assert not file_facts(path, "auto", ("data", "train"), how)[0].cached


def test_training_settings_do_not_invalidate(tmp_path):
    spec = _project(tmp_path, training={"learning_rate": 1e-4, "epochs": 2, "batch_size": 4})
    first, _ = _counted(spec)
    value = json.loads(spec.read_text())
    value["training"] = {"learning_rate": 3e-4, "epochs": 5, "batch_size": 2}
    value["data"]["packing"] = True  # arithmetic on the same per-sample counts
    spec.write_text(json.dumps(value))
    packed, hits = _counted(spec)
    assert hits >= 1 and packed == _counted(spec, use_cache=False)[0]


def test_a_corrupt_entry_is_ignored_with_a_note_and_rewritten(tmp_path, capsys):
    spec = _project(tmp_path)
    first, _ = _counted(spec)
    (entry,) = _facts_entries()
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    cache._notes.clear()
    again, hits = _counted(spec)
    assert again == first and hits == 0
    assert "ignored a count-cache entry (corrupt" in capsys.readouterr().err
    assert _counted(spec)[1] >= 1  # written again, and good


def test_a_foreign_or_other_format_entry_is_ignored(tmp_path, capsys, monkeypatch):
    cache.write("facts-aaaa", {"n": 1})
    cache.write("facts-bbbb", {"n": 2})
    foreign = cache._path("facts-aaaa")
    shutil.copy(cache._path("facts-bbbb"), foreign)  # an entry written for another key
    cache._notes.clear()
    assert cache.read("facts-aaaa") is None
    assert "written for another key" in capsys.readouterr().err
    monkeypatch.setattr(cache, "FORMAT_VERSION", cache.FORMAT_VERSION + 1)
    assert cache.read("facts-bbbb") is None
    assert "another cache format" in capsys.readouterr().err
    (cache.counts_dir() / "zz").mkdir(parents=True, exist_ok=True)
    cache._path("facts-zzzz").write_bytes(b"not an entry at all")
    assert cache.read("facts-zzzz") is None and not cache._path("facts-zzzz").exists()


WRITER = """
import sys
from ftspec.pipeline import cache
for i in range(150):
    cache.write("facts-shared", {"writer": sys.argv[1], "i": i}, {"blob": sys.argv[1].encode() * 50000})
    hit = cache.read("facts-shared")
    assert hit is not None, "a reader saw a torn entry"
    assert hit[1]["blob"] in (b"a" * 50000, b"b" * 50000)
"""


def test_two_processes_writing_the_same_key(tmp_path):
    env = {**os.environ, "FTSPEC_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, name], env=env, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "ignored" not in err
    meta, blobs = cache.read("facts-shared")
    assert meta["writer"] in ("a", "b") and meta["i"] == 149
    assert not [p for p in cache.counts_dir().rglob(".tmp-*")]


def test_the_folder_is_bounded_oldest_out(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSPEC_CACHE_MAX_MB", str(250_000 / 1024 / 1024))  # room for two 100 kB entries
    for i, name in enumerate(("facts-old1", "facts-old2", "facts-new3")):
        cache.write(name, {"i": i}, {"blob": b"x" * 100_000})
        past = time.time() - 100 + i
        os.utime(cache._path(name), (past, past))
    assert cache.read("facts-old1") is None
    assert cache.read("facts-new3") is not None
    time.sleep(0.05)  # file times tick coarsely
    assert cache.read("facts-old2") is not None  # used: now the newest
    time.sleep(0.05)
    cache.write("facts-new4", {"i": 4}, {"blob": b"x" * 100_000})
    assert cache.read("facts-new3") is None and cache.read("facts-old2") is not None
    total = sum(p.stat().st_size for p in cache.counts_dir().glob("*/facts-*"))
    assert total <= 250_000


def test_no_cache_flag_reads_and_writes_nothing(tmp_path):
    spec = _project(tmp_path)
    env = {"FTSPEC_CACHE_DIR": str(tmp_path / "cli-cache")}
    for command in (["plan", "--no-cache", str(spec)], ["lint", "--no-cache", str(spec)]):
        proc = run_cli(*command, env=env)
        assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cli-cache").exists() or not list((tmp_path / "cli-cache").rglob("*-*"))
    proc = run_cli("plan", "--format", "json", str(spec), env=env)
    assert proc.returncode == 0 and list((tmp_path / "cli-cache").rglob("facts-*"))
    cached = json.loads(proc.stdout)
    again = json.loads(run_cli("plan", "--format", "json", str(spec), env=env).stdout)
    uncached = json.loads(run_cli("plan", "--no-cache", "--format", "json", str(spec), env=env).stdout)
    assert cached["data"] == again["data"] == uncached["data"]
    assert cached["optimizer_steps"] == again["optimizer_steps"] == uncached["optimizer_steps"]


def test_second_lint_reads_the_cache_and_finds_the_same(tmp_path):
    rows = _rows(40) + [{"messages": [{"role": "user", "content": "long " * 80},
                                      {"role": "assistant", "content": "ok"}]}] + _rows(3) * 2
    spec = _project(tmp_path, rows=rows)
    first = [f.to_dict() for f in run_lint(load_spec(spec))]
    before = cache.counters["hits"]
    second = [f.to_dict() for f in run_lint(load_spec(spec))]
    assert cache.counters["hits"] > before and second == first
    assert {"FT302", "FT303"} <= {f["code"] for f in first}  # over-length and duplicates, counted once, read back
    _edit_spec(spec, max_length=2048)  # a scanned setting: scanned again
    before = cache.counters["hits"]
    third = [f.to_dict() for f in run_lint(load_spec(spec))]
    assert "FT302" not in {f["code"] for f in third}


def test_validation_leaks_are_found_from_cached_train_hashes(tmp_path):
    rows = _rows(40)
    spec = _project(tmp_path, {"validation": "val.jsonl"}, files={"val.jsonl": rows[:3]})
    codes = lambda: sorted(f.code for f in run_lint(load_spec(spec)))  # noqa: E731
    first = codes()
    assert "FT402" in first
    (spec.parent / "val.jsonl").write_text(json.dumps(rows[5]) + "\n" + json.dumps(
        {"messages": [{"role": "user", "content": "new"}, {"role": "assistant", "content": "one"}]}) + "\n")
    assert "FT402" in codes()  # train from the cache, validation scanned against its stored hashes
