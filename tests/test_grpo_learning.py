"""GRPO learns: builtin:tiny-chat, shown only the blog's questions (no answers to copy), is rewarded for keeping the
reference's symbol format and for writing no space beside "-" or "/". The mean reward rises during the one epoch and
the holdout's format alignment rises from the base's 0.00; the run's report carries the reward curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from support import run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = """version: 1
name: learn
method: grpo
model: {base: builtin:tiny-chat}
adapter: {type: lora, rank: 4, alpha: 2, dropout: 0.0}
data: {train: p.jsonl, max_length: 256}
rewards:
  - {metric: format_alignment, reference: answer}
  - {regex: '^(?![\\s\\S]*(?:\\s[-/]|[-/]\\s))', name: no-spaced-symbols, weight: 0.5}
grpo: {num_generations: 4, max_completion_length: 24}
training: {epochs: 1, batch_size: 4, learning_rate: 2.0e-3, lr_scheduler: constant_with_warmup, seed: 42}
eval: {holdout: h.jsonl, metrics: [format_alignment], max_new_tokens: 24}
compute: {accelerator: cpu, cpu_threads: 1}
lint: {disable: [FT120, FT202, FT105]}
"""


@pytest.fixture(scope="module")
def learned(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("grpo-learn")
    prompts = (ROOT / "examples" / "grpo" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()[:64]
    (folder / "p.jsonl").write_text("\n".join(prompts) + "\n", encoding="utf-8")
    holdout = [json.loads(line) for line in (ROOT / "examples" / "quickstart" / "holdout.jsonl").read_text(
        encoding="utf-8").splitlines()]
    trained = [r for r in holdout if r.get("scenario") == "trained"][:24]
    (folder / "h.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in trained), encoding="utf-8")
    (folder / "s.yaml").write_text(SPEC)
    done = run_cli("apply", folder / "s.yaml", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (folder / "runs" / "learn").iterdir()
    return {"dir": run_dir, "report": json.loads((run_dir / "report.json").read_text(encoding="utf-8"))}


def test_the_mean_reward_rises(learned):
    rewards = [v for _, v in learned["report"]["loss"]["reward"]]
    assert len(rewards) == 64  # one logged value per optimizer step
    quarter = len(rewards) // 4
    first, last = sum(rewards[:quarter]) / quarter, sum(rewards[-quarter:]) / quarter
    assert last >= first + 0.3, (first, last)


def test_the_holdout_metric_the_reward_was_built_from_rises(learned):
    ev = learned["report"]["eval"]
    assert ev["base"]["format_alignment"] == 0.0
    assert ev["finetuned"]["format_alignment"] >= 0.4


def test_the_report_carries_one_curve_per_reward_and_the_completion_lengths(learned):
    loss = learned["report"]["loss"]
    assert set(loss["rewards"]) == {"format_alignment", "no-spaced-symbols"}
    assert all(len(curve) == 64 for curve in loss["rewards"].values())
    assert len(loss["completion_length"]) == 64 and all(0 < v <= 24 for _, v in loss["completion_length"])
    assert loss["validation"] == []  # GRPO has no validation loss
    html = (learned["dir"] / "report.html").read_text(encoding="utf-8")
    assert 'aria-label="Rewards by optimizer step"' in html and "no-spaced-symbols" in html
    assert 'aria-label="Mean completion length (tokens) by optimizer step"' in html
    actual = learned["report"]["actual"]
    assert actual["optimizer_steps"] == learned["report"]["plan"]["optimizer_steps"] == 64
    # GRPOTrainer's own token count (prompt + generated tokens) is at most the plan's bound (completions at 24).
    assert 0 < actual["train_tokens_seen"] <= learned["report"]["plan"]["train_tokens"]["total"]
