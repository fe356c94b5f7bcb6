"""Lint's fast token count (ftspec/lint/calibrated.py): the over-length verdict of every sample equals the pipeline's
exact one, on the real-model fixtures' templates and on builtin:tiny, while most samples are counted without a
template render."""

from __future__ import annotations

import random

import pytest

from ftspec.lint.counting import TokenCounter
from ftspec.methods import get_method
from ftspec.lint.engine import run_lint
from ftspec.spec.load import load_spec
from ftspec.pipeline.prepare import prepare
from ftspec.plan.compile import build_plan
from support.project import write_project

WORDS = ["tile", "grout", "Sikalastic-609", "水吧台/岛台区域", "price", "stock", "厨房", "K11-Pro", "adhesive", "m²"]


def _records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        turns = [{"role": "system", "content": "You sell building materials."}] if i % 3 == 0 else []
        for _ in range(1 + i % 2):  # one or two exchanges
            turns.append({"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30)))})
            turns.append({"role": "assistant", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))})
        out.append({"messages": turns})
    return out


def _spec(tmp_path, base: str, max_length: int, n: int = 600):
    spec = {"version": 1, "name": "count", "model": {"base": base}, "adapter": {"rank": 4, "alpha": 2},
            "data": {"train": "train.jsonl", "max_length": max_length}}
    return load_spec(write_project(tmp_path, spec, {"train.jsonl": _records(n, 1)}))


@pytest.mark.parametrize("family", ["qwen25_dir", "qwen3_dir", "builtin:tiny"])
def test_over_length_verdicts_equal_the_pipelines(family, request, tmp_path):
    base = family if family.startswith("builtin:") else str(request.getfixturevalue(family))
    max_length = 600 if family.startswith("builtin:") else 200  # the middle of the length spread: many near it
    loaded = _spec(tmp_path, base, max_length)
    plan = build_plan(loaded)
    over = plan.data.over_max_length
    assert 100 < over < 500, over  # the limit cuts through the data

    counter = TokenCounter(loaded.spec, loaded.dir, loaded)
    from ftspec.data.formats import as_conversation

    records = [as_conversation(r, "messages") for r in _records(600, 1)]
    counts = counter.count(records, get_method("sft"))
    assert sum(n > max_length for n in counts) == over
    calibrated = counter._calibrated_counter
    assert calibrated.counted > 60 and calibrated.rendered + calibrated.counted == 600  # the fast path ran

    (found,) = [f for f in run_lint(loaded) if f.code == "FT302"]
    assert found.message.startswith(f"{over} of 600 samples") and "measured overhead" in found.message


def test_byte_level_count_without_merges_equals_encoding():
    from ftspec.models.resolve import resolve_model
    from ftspec.tokenizer.chat import ChatTokenizer, bytes_only_added_tokens

    tok = ChatTokenizer.from_model(resolve_model("builtin:tiny", None))
    assert bytes_only_added_tokens(tok.tokenizer) is not None  # the shortcut applies to builtin:tiny
    rng = random.Random(0)
    pieces = WORDS + ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "\n", " ", "😀", "<|im_", "é"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 20))) for _ in range(500)]
    assert tok.count_tokens(texts) == [len(tok.encode(t)) for t in texts]


def test_real_vocabularies_are_encoded_not_shortcut(qwen25_dir):
    from ftspec.tokenizer.chat import ChatTokenizer, bytes_only_added_tokens

    tok = ChatTokenizer.from_files(qwen25_dir / "tokenizer.json")
    assert bytes_only_added_tokens(tok.tokenizer) is None
    assert tok.count_tokens(["Hello world", "你好"]) == [2, 1]


@pytest.mark.parametrize("family", ["qwen25_dir", "qwen3_dir"])
def test_message_weights_are_counted_not_refused(family, request, tmp_path):
    """Lint counts a weighted conversation's tokens like any other: the weights are the pipeline's and FT603's
    concern. (Lint used to count with the loss switched off, where a weight-0 turn raised, so every weighted dataset
    on a real tokenizer got a false FT313 error and estimated counts.)"""
    rows = [{"messages": [{"role": "user", "content": f"question {i}"},
                          {"role": "assistant", "content": f"draft {i}", "loss_weight": 0},
                          {"role": "user", "content": "again, please"},
                          {"role": "assistant", "content": f"final answer {i}"}]} for i in range(40)]
    spec = {"version": 1, "name": "weights", "model": {"base": str(request.getfixturevalue(family))},
            "adapter": {"rank": 4, "alpha": 2}, "data": {"train": "train.jsonl", "max_length": 256}}
    loaded = load_spec(write_project(tmp_path, spec, {"train.jsonl": rows}))
    findings = run_lint(loaded)
    assert not [f for f in findings if f.severity == "error"], findings
    counter = TokenCounter(loaded.spec, loaded.dir, loaded)
    records = [get_method("sft").convert(r, "messages")[1] for r in rows]
    counts = counter.count(records, get_method("sft"))
    assert counter.exact and counter.template_error is None
    assert counts == prepare(loaded).tokens.lengths  # the plan's exact lengths, weights and all
