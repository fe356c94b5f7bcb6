"""The real public datasets in ../shared/data/ all train, in the formats people bring, and a model folder
saved with save_pretrained fine-tunes by path.

Each case plans a spec on the first records of a real file (format conversion through the shared
pipeline), writes the run folder as apply does, and runs the training entry point in-process for a few
optimizer steps on the built-in tiny model; the step count must equal the plan's.
"""

from __future__ import annotations

import json

import pytest

from support import SHARED_DATA

pytest.importorskip("trl")

from ftspec.runs.inputs import write_inputs  # noqa: E402
from ftspec.spec.load import load_spec  # noqa: E402
from ftspec.plan.compile import build_plan  # noqa: E402

# (file, method, records to keep)
CASES = [
    ("alpaca_en_demo.json", "sft", 24),
    ("alpaca_zh_demo.json", "sft", 24),
    ("identity.json", "sft", 24),
    ("glaive_toolcall_en_demo.json", "sft", 16),
    ("dpo_en_demo.json", "dpo", 16),
    ("dpo_zh_demo.json", "dpo", 16),
    ("c4_demo.jsonl", "cpt", 24),
    ("wiki_demo.txt", "cpt", 24),
]
LINT_OFF = ["FT101", "FT102", "FT103", "FT104", "FT105", "FT203", "FT302", "FT303", "FT305", "FT401", "FT403"]


# Byte-level tiny tokenizer: a whole wiki article is tens of thousands of tokens; a prefix keeps it seconds.
TEXT_CHARS = 600


def _subset(src, dest, n: int) -> None:
    if src.suffix == ".txt":
        lines = [line[:TEXT_CHARS] for line in src.read_text(encoding="utf-8").splitlines()[:n]]
        dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif src.suffix == ".jsonl":
        rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()[:n]]
        for row in rows:
            if isinstance(row.get("text"), str):
                row["text"] = row["text"][:TEXT_CHARS]
        dest.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    else:
        dest.write_text(json.dumps(json.loads(src.read_text(encoding="utf-8"))[:n], ensure_ascii=False), encoding="utf-8")


def _train(spec_path, tmp_path) -> tuple[dict, dict]:
    from ftspec.train.__main__ import main

    loaded = load_spec(spec_path)
    plan = build_plan(loaded)
    run_dir = tmp_path / "run"
    write_inputs(loaded, plan, run_dir)
    assert main([str(run_dir)]) == 0
    return plan.model_dump(mode="json"), json.loads((run_dir / "train_result.json").read_text())


@pytest.mark.parametrize("name, method, n", CASES, ids=[c[0] for c in CASES])
def test_real_dataset_trains(name, method, n, tmp_path):
    src = SHARED_DATA / name
    if not src.is_file():
        pytest.skip(f"{src} not available")
    data = tmp_path / name
    _subset(src, data, n)
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({
        "version": 1, "name": "real", "method": method,
        "adapter": {"type": "lora", "rank": 4, "alpha": 2},
        "data": {"train": name, "validation": None, "max_length": 256, "over_length": "truncate",
                 "packing": method == "cpt"},
        "training": {"epochs": 1, "batch_size": 8},
        "lint": {"disable": LINT_OFF},
    }))
    plan, result = _train(spec, tmp_path)
    assert result["global_step"] == plan["optimizer_steps"] >= 1
    assert result["stopped"] == "completed" and result["loss"]["train"]


def test_model_folder_saved_with_save_pretrained_fine_tunes_by_path(tmp_path):
    """A user with a downloaded model points model.base at its folder: same code path as a hub id."""
    import transformers

    from ftspec.models.tiny import tiny_model_dir

    src = tiny_model_dir(with_weights=True)
    folder = tmp_path / "my-model"
    transformers.AutoModelForCausalLM.from_pretrained(src).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(16)]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({
        "version": 1, "name": "local", "model": {"base": "./my-model"},
        "adapter": {"type": "lora", "rank": 4, "alpha": 2},
        "data": {"train": "train.jsonl", "validation": None},
        "training": {"epochs": 1, "batch_size": 4},
        "lint": {"disable": LINT_OFF},
    }))
    plan, result = _train(spec, tmp_path)
    assert plan["optimizer_steps_exact"] and "model shape from config.json of local model" in plan["notes"]
    assert result["global_step"] == plan["optimizer_steps"] == 4
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
