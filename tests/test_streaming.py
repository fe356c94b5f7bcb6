"""The streaming pipeline (ftspec/pipeline/facts.py, prepare.py): per-sample facts counted file by file, the split,
mix and drops as index arithmetic. Its numbers equal tokenizing the final list of records at once (what apply writes),
cached or not, and a bad record deep in a file is still located at its file and line."""

from __future__ import annotations

import json

import pytest

from ftspec.data.errors import PipelineError
from ftspec.methods import get_method
from ftspec.pipeline import cache
from ftspec.pipeline.facts import CHUNK
from ftspec.pipeline.prepare import prepare
from ftspec.pipeline.setup import Setup
from ftspec.pipeline.prepared import NotLoaded
from ftspec.plan.compile import build_plan
from ftspec.spec.load import load_spec
from support.project import chat_rows, write_project


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_memo", None)


def _chat(n: int, offset: int = 0, long_every: int = 7) -> list[dict]:
    rows = chat_rows(n, user="question {i} about grout", assistant="answer {i}: seal the joints", offset=offset)
    for i, r in enumerate(rows):
        if i % long_every == 0:
            r["messages"][1]["content"] += " and wait" * (20 + i % 50)  # some over max_length
        if i % 5 == 0:
            r["scenario"] = "rare" if i % 10 == 0 else "common"
    return rows


def _dpo(n: int) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"which tile for room {i}?"}],
             "chosen": [{"role": "assistant", "content": "porcelain" + " because it lasts" * (i % 30)}],
             "rejected": [{"role": "assistant", "content": f"paper {i}"}]} for i in range(n)]


def _text(n: int) -> list[dict]:
    return [{"text": f"document {i}: " + "grout sets in a day. " * (1 + i % 40)} for i in range(n)]


SPECS = {
    "sft-split-mix-system": ({"method": "sft", "data": {
        "train": "train.jsonl", "validation": 0.2, "stratify_by": "scenario", "system_prompt": "You sell tiles.",
        "mix": [{"path": "general.jsonl", "ratio": 0.3}], "max_length": 128, "packing": False}},
        {"train.jsonl": _chat(700), "general.jsonl": _chat(150, offset=5000, long_every=3)}),
    "sft-validation-file-packed": ({"method": "sft", "data": {
        "train": "train.jsonl", "validation": "val.jsonl", "max_length": 128, "packing": True,
        "over_length": "truncate"}}, {"train.jsonl": _chat(400), "val.jsonl": _chat(60, offset=900)}),
    "dpo": ({"method": "dpo", "data": {"train": "train.jsonl", "validation": 0.1, "max_length": 96}},
            {"train.jsonl": _dpo(300)}),
    "cpt-packed": ({"method": "cpt", "data": {"train": "train.txt.jsonl", "max_length": 64, "packing": True}},
                   {"train.txt.jsonl": _text(300)}),
}


def _project(tmp_path, name: str):
    spec, files = SPECS[name]
    spec = {"version": 1, "name": name.replace("-", ""), "model": {"base": "builtin:tiny"},
            "adapter": {"rank": 4, "alpha": 2}, **spec}
    return write_project(tmp_path / "p", spec, files)


def _numbers(prepared) -> tuple:
    t = prepared.tokens
    return (prepared.counts, prepared.rows, prepared.tokens_per_epoch, prepared.loss_tokens_per_epoch,
            prepared.max_seq_len, prepared.attention_seq_len,
            (t.lengths, t.first_loss, t.loss_tokens, t.prompt_lengths, t.pair_lengths))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_counted_equals_cached_equals_uncached_equals_apply(name, tmp_path):
    spec = _project(tmp_path, name)
    loaded = load_spec(spec)
    cold = prepare(loaded, records=False)
    assert isinstance(cold.train, NotLoaded) and len(cold.train) == cold.counts["train"]
    warm = prepare(load_spec(spec), records=False)
    uncached = prepare(load_spec(spec), records=False, use_cache=False)
    applied = prepare(load_spec(spec))  # what apply writes into the run folder
    assert _numbers(cold) == _numbers(warm) == _numbers(uncached) == _numbers(applied)
    assert len(applied.train) == applied.counts["train"] and len(applied.validation) == len(cold.validation)
    assert all("scenario" not in r for r in applied.train + applied.validation)  # the stratum stops at the split

    # Tokenizing apply's final list at once (what the pipeline did before it streamed) gives the same facts.
    method = get_method(loaded.spec.method)
    setup = Setup(loaded, method, None, None)
    whole = method.tokenize(list(applied.train), setup.tok, **setup.how.kwargs)
    assert (whole.lengths, whole.first_loss, whole.loss_tokens, whole.prompt_lengths, whole.pair_lengths) == \
        _numbers(applied)[-1]
    if applied.validation:
        vt = method.tokenize(list(applied.validation), setup.tok, **setup.how.kwargs)
        assert len(method.trainer_rows(loaded.spec.data, vt)[0]) == applied.counts["validation_rows"]

    plan = build_plan(load_spec(spec))
    assert plan.data.rows == applied.rows and plan.train_tokens.per_epoch == applied.tokens_per_epoch


def _deep(tmp_path, rows: list[dict], bad_line: int, bad: str | dict, extra: dict | None = None) -> object:
    lines = [json.dumps(r) for r in rows]
    lines.insert(bad_line - 1, bad if isinstance(bad, str) else json.dumps(bad))
    spec = {"version": 1, "name": "deep", "model": {"base": "builtin:tiny"},
            "data": {"train": "train.jsonl", "max_length": 256, **(extra or {})}}
    return load_spec(write_project(tmp_path / "p", spec, {"train.jsonl": "\n".join(lines) + "\n"}))


def test_a_broken_record_deep_in_a_file_is_located(tmp_path):
    line = 3 * CHUNK + 17
    loaded = _deep(tmp_path, chat_rows(4000), line, '{"messages": [}')
    with pytest.raises(PipelineError) as exc:
        prepare(loaded, records=False)
    assert exc.value.line == line and exc.value.file.endswith("train.jsonl") and "invalid JSON" in exc.value.message


def test_a_record_the_template_refuses_deep_in_a_file_is_located(tmp_path):
    template = ("{% for m in messages %}{% if m.content == 'BOOM' %}{{ raise_exception('no booms here') }}{% endif %}"
                "<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>"
                "{% endgeneration %}{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}")
    line = 2 * CHUNK + 5
    loaded = _deep(tmp_path, chat_rows(3000), line,
                   {"messages": [{"role": "user", "content": "BOOM"}, {"role": "assistant", "content": "x"}]},
                   {"chat_template": "t.jinja"})
    (loaded.dir / "t.jinja").write_text(template)
    for _ in range(2):  # counted, then from the cache: the same located error
        with pytest.raises(PipelineError) as exc:
            prepare(load_spec(loaded.path), records=False)
        assert (exc.value.code, exc.value.line, exc.value.message) == (
            "FT314", line, "the chat template raised on this record: no booms here")


def test_a_format_error_in_a_mix_source_comes_before_a_render_error_in_train(tmp_path):
    template = ("{% for m in messages %}{% if m.content == 'BOOM' %}{{ raise_exception('no') }}{% endif %}"
                "<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    rows = chat_rows(50)
    rows[10]["messages"][0]["content"] = "BOOM"
    mix = chat_rows(2000)
    mix[1500] = {"messages": [{"role": "user", "content": "no answer"}]}
    spec = {"version": 1, "name": "order", "model": {"base": "builtin:tiny"},
            "data": {"train": "train.jsonl", "max_length": 256, "chat_template": "t.jinja",
                     "assistant_only_loss": False, "mix": [{"path": "mix.jsonl", "ratio": 0.5}]}}
    loaded = load_spec(write_project(tmp_path / "p", spec, {"train.jsonl": rows, "mix.jsonl": mix,
                                                            "t.jinja": template}))
    with pytest.raises(PipelineError) as exc:
        prepare(loaded, records=False)
    assert exc.value.file.endswith("mix.jsonl") and exc.value.line == 1501


def test_a_per_sample_error_names_its_place_in_the_final_list(tmp_path):
    rows = chat_rows(3000)
    rows[1500]["messages"][1]["loss_weight"] = 0.0
    rows[1500]["messages"] += [{"role": "user", "content": "again"}, {"role": "assistant", "content": "ok"}]
    spec = {"version": 1, "name": "weights", "model": {"base": "builtin:tiny"},
            "data": {"train": "train.jsonl", "max_length": 256, "assistant_only_loss": False}}
    loaded = load_spec(write_project(tmp_path / "p", spec, {"train.jsonl": rows}))
    for _ in range(2):
        with pytest.raises(PipelineError) as exc:
            prepare(load_spec(loaded.path), records=False)
        assert exc.value.message.startswith("training sample 1501 weights an assistant turn 0")
        assert exc.value.code == "FT603"


def test_not_loaded_rows_cannot_be_iterated():
    rows = NotLoaded(3)
    assert len(rows) == 3 and rows
    with pytest.raises(TypeError):
        list(rows)
