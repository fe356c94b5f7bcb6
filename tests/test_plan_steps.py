"""`ftspec plan`'s optimizer_steps against the real TRL trainer, over a matrix of specs (>= 20 configurations).

Each case writes a spec and its datasets, compiles the plan (no torch involved), then trains the built-in
tiny model with TRL on exactly the rows the pipeline prepared and the plan's own trainer arguments, and
asserts ``trainer.state.global_step == plan.optimizer_steps``. Only output, logging and checkpoint settings
are overridden (none of them changes the step count).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest

from support.runs import quiet_trainer_args, trainable_tiny
from ftspec.pipeline.prepare import prepare
from ftspec.spec.load import load_spec
from ftspec.plan.compile import build_plan

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
transformers = pytest.importorskip("transformers")

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()


@dataclass(frozen=True)
class Case:
    name: str
    method: str = "sft"
    n: int = 24
    overrides: dict = field(default_factory=dict)  # spec sections, merged over the base
    mix: int = 0  # rows in a general.jsonl mixed in at ratio 0.2
    long_every: int = 0  # every k-th record is long (drop / truncate / fully-masked candidates)


CASES = [
    Case("sft-basic"),
    Case("sft-ga3", overrides={"training": {"batch_size": 2, "gradient_accumulation": 3}}),
    Case("sft-frac-epochs", overrides={"training": {"epochs": 1.5, "batch_size": 3, "gradient_accumulation": 2}}),
    Case("sft-small-frac", overrides={"training": {"epochs": 0.4, "batch_size": 1, "gradient_accumulation": 3}}),
    Case("sft-validation-0.25", n=30, overrides={"data": {"validation": 0.25}}),
    Case("sft-no-validation", overrides={"data": {"validation": None}}),
    Case("sft-mix", n=30, mix=15),
    Case("sft-mix-val", n=33, mix=40, overrides={"data": {"validation": 0.15}, "training": {"batch_size": 5}}),
    Case("sft-drop-over-length", n=30, long_every=3, overrides={"data": {"max_length": 48, "over_length": "drop"}}),
    Case("sft-truncate-aol", n=30, long_every=2,
         overrides={"data": {"max_length": 40, "over_length": "truncate", "assistant_only_loss": True}}),
    Case("sft-truncate-all-loss", n=26, long_every=2,
         overrides={"data": {"max_length": 40, "over_length": "truncate", "assistant_only_loss": False}}),
    Case("sft-packing", n=40, overrides={"data": {"packing": True, "max_length": 96}}),
    Case("sft-packing-long", n=40, long_every=4,
         overrides={"data": {"packing": True, "max_length": 48, "over_length": "truncate"}}),
    Case("sft-packing-mix-ga", n=30, mix=20,
         overrides={"data": {"packing": True, "max_length": 128}, "training": {"gradient_accumulation": 2}}),
    Case("sft-system-prompt", overrides={"data": {"system_prompt": "You are terse."}}),
    Case("sft-2.5-epochs", n=18, overrides={"training": {"epochs": 2.5, "batch_size": 4}}),
    Case("cpt", method="cpt", n=30),
    Case("cpt-packing", method="cpt", n=40, overrides={"data": {"packing": True, "max_length": 64}}),
    Case("cpt-packing-long-docs", method="cpt", n=30, long_every=2,
         overrides={"data": {"packing": True, "max_length": 24}}),
    Case("cpt-truncate", method="cpt", n=30, long_every=2, overrides={"data": {"max_length": 24}}),
    Case("dpo", method="dpo", n=24),
    Case("dpo-prompt-too-long", method="dpo", n=30, long_every=3,
         overrides={"data": {"max_length": 28, "over_length": "truncate"}}),
    Case("dpo-drop-ga", method="dpo", n=26, long_every=4,
         overrides={"data": {"max_length": 40, "over_length": "drop"}, "training": {"gradient_accumulation": 2}}),
]


def _words(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def _record(method: str, rng: random.Random, long: bool) -> dict:
    prompt = _words(rng, 10, 16) if long else _words(rng, 1, 4)
    if method == "cpt":
        return {"text": prompt + " " + _words(rng, 1, 6)}
    if method == "dpo":
        return {"conversations": [{"from": "human", "value": prompt}],
                "chosen": {"from": "gpt", "value": _words(rng, 1, 4)},
                "rejected": {"from": "gpt", "value": _words(rng, 2, 6)}}
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": _words(rng, 1, 6)}]}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_case(case: Case, folder) -> object:
    rng = random.Random(case.name)
    suffix = ".txt" if case.method == "cpt" else ".jsonl"
    rows = [_record(case.method, rng, bool(case.long_every) and i % case.long_every == 0) for i in range(case.n)]
    if case.method == "cpt":
        (folder / f"train{suffix}").write_text("\n".join(r["text"] for r in rows) + "\n")
    else:
        (folder / f"train{suffix}").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spec = {"version": 1, "name": case.name.replace(".", "-"), "method": case.method,
            "adapter": {"type": "full"},
            "data": {"train": f"train{suffix}", "validation": 0.2, "max_length": 256},
            "training": {"epochs": 1, "batch_size": 2, "learning_rate": 1e-4},
            "lint": {"disable": ["FT101", "FT102", "FT103", "FT104", "FT105", "FT203", "FT204", "FT401", "FT403"]}}
    if case.mix:
        general = [_record(case.method, rng, False) for _ in range(case.mix)]
        (folder / "general.jsonl").write_text("\n".join(json.dumps(r) for r in general) + "\n")
        spec["data"]["mix"] = [{"path": "general.jsonl", "ratio": 0.2}]
    spec = _merge(spec, case.overrides)
    path = folder / "spec.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return load_spec(path)


@pytest.fixture(scope="module")
def tiny():
    return trainable_tiny()


def test_matrix_is_big_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_steps_equal_trainer_global_step(case: Case, tiny, tmp_path):
    model_dir, tokenizer = tiny
    loaded = write_case(case, tmp_path)
    plan = build_plan(loaded)
    assert plan.optimizer_steps_exact and plan.optimizer_steps >= 1
    prepared = prepare(loaded)

    args = quiet_trainer_args(plan.job.trainer_args, tmp_path / "out")
    config_cls = trl.DPOConfig if case.method == "dpo" else trl.SFTConfig
    trainer_cls = trl.DPOTrainer if case.method == "dpo" else trl.SFTTrainer
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    trainer = trainer_cls(model=model, args=config_cls(**args), processing_class=tokenizer,
                          train_dataset=datasets.Dataset.from_list(prepared.train),
                          eval_dataset=datasets.Dataset.from_list(prepared.validation) if prepared.validation else None)
    assert len(trainer.train_dataset) == plan.data.rows
    trainer.train()
    assert trainer.state.global_step == plan.optimizer_steps


def test_the_matrix_exercises_drops_truncation_packing_and_mixing(tmp_path):
    """Guard: the cases really produce the behaviours the matrix claims to cover."""
    seen = {}
    for case in CASES:
        folder = tmp_path / case.name
        folder.mkdir()
        seen[case.name] = build_plan(write_case(case, folder)).data.model_dump()
    assert seen["sft-drop-over-length"]["dropped_over_length"] > 0
    assert seen["sft-truncate-aol"]["dropped_by_trainer"] > 0
    assert seen["sft-truncate-all-loss"]["truncated"] > 0 and seen["sft-truncate-all-loss"]["dropped_by_trainer"] == 0
    assert seen["dpo-prompt-too-long"]["dropped_by_trainer"] > 0
    assert seen["dpo-drop-ga"]["dropped_over_length"] > 0
    assert seen["cpt-truncate"]["truncated"] > 0
    assert seen["sft-packing"]["rows"] < seen["sft-packing"]["train"]  # packing merged rows
    assert seen["sft-mix"]["mix"]["general.jsonl"] > 0
    long_docs = seen["cpt-packing-long-docs"]  # wrapped packing: long documents are cut, never truncated
    assert "truncated" not in long_docs and long_docs["over_max_length"] > 0
