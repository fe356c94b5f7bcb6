"""Fine-tuning learns: on the pretrained ``builtin:tiny-chat`` (which writes ``Sikalastic - 609``), LoRA,
rsLoRA and DPO each raise the raw format alignment on quickstart holdout cases, and a resumed run ends
with the same metrics as an uninterrupted one.

Runs go through the trainer's real entry point (``ftspec.train.__main__.main``) on a RUN_DIR laid out as
``ftspec apply`` lays it out, and are scored with the evaluator ``apply`` uses. Small on purpose (a few
dozen steps, 32 holdout cases): seconds each on CPU. The learning rates are above the guide ranges, as
the quickstart's is (it disables FT202 with the measurement that shows why).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from ftspec.evaluate.generate import generate_outputs, holdout_samples  # noqa: E402
from ftspec.scoring.metrics import evaluate_outputs  # noqa: E402
from ftspec.models.resolve import model_source  # noqa: E402
from ftspec.train.__main__ import main  # noqa: E402
from support.runs import CPU_TRAINER_ARGS, lora, write_run  # noqa: E402

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"
BASE = "builtin:tiny-chat"
GUARD = [{"regex": r"\s*([-/])\s*", "replace": r"\1"}]


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (QUICKSTART / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def _spaced(text: str) -> str:
    return re.sub(r"\s*([-/])\s*", r" \1 ", text)


def make_run(run_dir: Path, method: str = "sft", *, n: int = 96, peft: str = "lora", lr: float = 5e-3,
             epochs: float = 3, batch: int = 8, **extra) -> Path:
    rows = _rows("train")[:n]
    if method == "dpo":  # the blog's contrast pairs: chosen as written, rejected with the spaces
        rows = [{"prompt": r["messages"][:-1], "chosen": [r["messages"][-1]],
                 "rejected": [{"role": "assistant", "content": _spaced(r["messages"][-1]["content"])}]}
                for r in rows if re.search("[-/]", r["messages"][-1]["content"])]
    args = {**CPU_TRAINER_ARGS, "num_train_epochs": epochs, "per_device_train_batch_size": batch,
            "per_device_eval_batch_size": batch, "learning_rate": lr, "warmup_steps": 0.05,
            "lr_scheduler_type": "constant_with_warmup", "max_length": 256}
    args.update({"packing": False, "assistant_only_loss": True} if method == "sft" else {"beta": 0.1})
    args.update(extra)
    steps = -(-len(rows) // batch) * epochs
    return write_run(run_dir, rows, method=method, trainer_args=args, expected_steps=int(steps), base=BASE,
                     peft=lora(rank=4, alpha=2.0, dropout=0.0, rslora=peft == "rslora"))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # A 1M-parameter model trains faster on one thread, and much faster on a busy machine.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def holdout():
    rows = [r for r in _rows("holdout") if r["scenario"] in ("trained", "untrained")]
    return holdout_samples(rows[::4])  # 32 cases, both scenarios


def score(holdout, adapter: Path | None = None) -> dict:
    model_dir, _ = model_source(BASE)
    outputs = generate_outputs(model_dir, [s["prompt"] for s in holdout], adapter_dir=str(adapter) if adapter else None,
                               max_new_tokens=24, batch_size=32)
    scored = evaluate_outputs([{**s, "output": o} for s, o in zip(holdout, outputs)], ["format_alignment"], GUARD)
    return {"raw": scored["metrics"]["format_alignment"], "guard": scored["metrics_postprocessed"]["format_alignment"]}


@pytest.fixture(scope="module")
def base_scores(holdout):
    return score(holdout)


def test_the_base_writes_the_right_codes_with_spaces(base_scores):
    assert base_scores["raw"] <= 0.2  # the blog's habit
    assert base_scores["guard"] >= 0.5  # the right code underneath


@pytest.mark.parametrize("peft, lr", [("lora", 5e-3), ("rslora", 2e-3)])
def test_sft_removes_the_spaces(tmp_path, holdout, base_scores, peft, lr):
    run = make_run(tmp_path / peft, peft=peft, lr=lr)
    assert main([str(run)]) == 0
    tuned = score(holdout, run / "adapter")
    assert tuned["raw"] >= base_scores["raw"] + 0.3, (base_scores, tuned)


def test_dpo_prefers_the_unspaced_code(tmp_path, holdout, base_scores):
    run = make_run(tmp_path / "dpo", "dpo", lr=5e-3)
    assert main([str(run)]) == 0
    tuned = score(holdout, run / "adapter")
    # Measured 0.000 -> 0.219 raw: DPO on 36 steps moves the format, less far than SFT does.
    assert tuned["raw"] >= base_scores["raw"] + 0.15, (base_scores, tuned)


def test_resumed_run_ends_with_the_same_metrics(tmp_path, holdout, base_scores):
    reference = make_run(tmp_path / "reference", epochs=2)
    assert main([str(reference)]) == 0
    resumed = make_run(tmp_path / "resumed", epochs=2)
    assert main([str(resumed)]) == 0
    # As if it had been killed after the first epoch: keep only that checkpoint, then resume.
    checkpoints = sorted((resumed / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    assert len(checkpoints) >= 2
    for later in checkpoints[1:]:
        shutil.rmtree(later)
    shutil.rmtree(resumed / "adapter")
    (resumed / "train_result.json").unlink()
    assert main([str(resumed), "--resume"]) == 0
    result = json.loads((resumed / "train_result.json").read_text())
    assert result["resumed_from"] == f"checkpoints/{checkpoints[0].name}"
    a, b = score(holdout, reference / "adapter"), score(holdout, resumed / "adapter")
    assert a == b and a["raw"] > base_scores["raw"]
