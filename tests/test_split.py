"""data.stratify_by: the validation split keeps each scenario's share of the training file."""

from collections import Counter

from ftspec.pipeline.prepare import prepare
from ftspec.pipeline.split import split_validation
from ftspec.spec.load import load_spec
from support.project import chat_rows, write_project


def _project(tmp_path, stratify: bool):
    rows = chat_rows(200, user="q{i}", assistant="a{i}", scenario=lambda i: "rare" if i % 10 == 0 else "common")
    return load_spec(write_project(tmp_path, "name: t\ndata:\n  train: train.jsonl\n  validation: 0.25\n"
                                   + ("  stratify_by: scenario\n" if stratify else ""), {"train.jsonl": rows}))


def _scenario(record) -> str:
    return "rare" if int(record["messages"][0]["content"][1:]) % 10 == 0 else "common"


def test_stratified_split_keeps_each_share_exactly(tmp_path):
    prepared = prepare(_project(tmp_path, True))
    assert len(prepared.validation) == 50 and len(prepared.train) == 150
    assert Counter(map(_scenario, prepared.validation)) == {"common": 45, "rare": 5}
    assert Counter(map(_scenario, prepared.train)) == {"common": 135, "rare": 15}
    assert all("scenario" not in r for r in prepared.train + prepared.validation)  # the trainer never sees it
    again = prepare(_project(tmp_path, True))
    assert again.validation == prepared.validation  # seeded: the same split every time


def test_without_stratify_by_the_split_is_unchanged():
    records = [{"i": i} for i in range(20)]
    train, val = split_validation(records, 0.25, seed=42)
    train_s, val_s = split_validation(records, 0.25, seed=42, strata=["x"] * 20)
    assert (train, val) == (train_s, val_s)  # one stratum draws exactly what the plain split draws
    assert len(val) == 5


def test_largest_remainders_fill_the_validation_size():
    records = list(range(10))
    strata = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    _, val = split_validation(records, 0.3, seed=1, strata=strata)
    counts = Counter(strata[i] for i in val)
    assert counts == {"a": 1, "b": 1, "c": 1}  # quotas 1.5, 0.9, 0.6: floors 1, 0, 0, then b and c by remainder
