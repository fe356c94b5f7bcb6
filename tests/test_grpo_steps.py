"""`ftspec plan`'s optimizer_steps for method grpo against TRL's GRPOTrainer, over a matrix of configurations:
prompt count N (with prompts left over by the RepeatSampler), num_generations G, per-device batch, gradient
accumulation, processes, num_iterations, fractional and several epochs, and an explicit generation_batch_size.

One-process cases train the built-in tiny model in this process with the plan's own trainer arguments and the
spec's rewards built by ftspec; the two-process cases run `ftspec apply` (accelerate launch, two CPU processes, gloo),
whose trainer exits 4 when global_step differs from the plan's count, and report.json records the step reached.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest

from support import free_port, run_cli
from support.runs import quiet_trainer_args, trainable_tiny
from ftspec.pipeline.prepare import prepare
from ftspec.plan.compile import build_plan
from ftspec.scoring.rewards import build_rewards
from ftspec.spec.load import load_spec

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
transformers = pytest.importorskip("transformers")

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


@dataclass(frozen=True)
class Case:
    name: str
    n: int
    g: int
    batch: int
    ga: int = 1
    iters: int = 1
    epochs: float = 1
    generation_batch: int | None = None
    processes: int = 1
    expected: int = 0  # the count worked out by hand from TRL's sampler (a check on the check)
    extra: dict = field(default_factory=dict)


CASES = [
    Case("basic", n=24, g=2, batch=4, expected=12),
    Case("leftover-prompts-ga2", n=25, g=4, batch=4, ga=2, expected=12),  # P = 2: 12 blocks, 1 prompt left over
    Case("iterations-2", n=30, g=3, batch=6, iters=2, expected=30),
    Case("ga3-2-epochs", n=20, g=2, batch=2, ga=3, epochs=2, expected=12),
    Case("fractional-epochs", n=17, g=4, batch=4, epochs=1.5, expected=26),
    Case("explicit-generation-batch", n=24, g=4, batch=2, generation_batch=8, expected=48),
    Case("explicit-generation-batch-ga3", n=20, g=2, batch=2, ga=3, generation_batch=8, expected=7),
    Case("iterations-3-ga2", n=16, g=2, batch=2, ga=2, iters=3, expected=24),
    Case("g8-one-prompt-a-block", n=10, g=8, batch=8, expected=10),
    Case("explicit-generation-batch-2-epochs", n=15, g=3, batch=3, ga=2, epochs=2, generation_batch=12, expected=12),
    Case("beta-dr-grpo", n=12, g=2, batch=2, expected=12, extra={"beta": 0.04, "loss_type": "dr_grpo"}),
]
TWO_PROCESS = [
    Case("two-processes", n=16, g=2, batch=2, processes=2, expected=8),
    Case("two-processes-ga2-iterations-2", n=13, g=4, batch=2, ga=2, iters=2, processes=2, expected=12),
]


def write_case(case: Case, folder) -> object:
    rng = random.Random(case.name)
    rows = [{"prompt": [{"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))}],
             "answer": rng.choice(WORDS)} for _ in range(case.n)]
    (folder / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    grpo = {"num_generations": case.g, "max_completion_length": 4, "num_iterations": case.iters, **case.extra}
    if case.generation_batch:
        grpo["generation_batch_size"] = case.generation_batch
    spec = {"version": 1, "name": case.name, "method": "grpo", "adapter": {"type": "lora", "rank": 2, "alpha": 2},
            "data": {"train": "p.jsonl", "max_length": 64},
            "rewards": [{"metric": "contains", "reference": "answer"}, {"length_penalty": 2, "weight": 0.1}],
            "grpo": grpo,
            "training": {"epochs": case.epochs, "batch_size": case.batch, "gradient_accumulation": case.ga,
                         "learning_rate": 1e-3, "save_per_epoch": False},
            "compute": {"accelerator": "cpu", "processes_per_node": case.processes, "cpu_threads": 1,
                        "main_process_port": free_port()},  # not the default 29500 another test may hold
            "lint": {"disable": ["FT120", "FT105", "FT403"]}}
    path = folder / "spec.yaml"
    path.write_text(json.dumps(spec))
    return load_spec(path)


@pytest.fixture(scope="module")
def tiny():
    return trainable_tiny()


def test_matrix_is_big_enough():
    assert len(CASES) + len(TWO_PROCESS) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_steps_equal_grpo_trainer_global_step(case: Case, tiny, tmp_path):
    model_dir, tokenizer = tiny
    loaded = write_case(case, tmp_path)
    plan = build_plan(loaded)
    assert plan.optimizer_steps_exact and plan.optimizer_steps == case.expected
    # On the CPU bf16 is off (TRL's base config would turn it on and fail there).
    assert plan.job.trainer_args["bf16"] is False and plan.job.trainer_args["use_cpu"] is True
    prepared = prepare(loaded)
    args = quiet_trainer_args(plan.job.trainer_args, tmp_path / "out")
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    trainer = trl.GRPOTrainer(model=model, args=trl.GRPOConfig(**args), processing_class=tokenizer,
                              train_dataset=datasets.Dataset.from_list(prepared.train),
                              reward_funcs=build_rewards(plan.job.rewards, loaded.dir),
                              peft_config=__import__("peft").LoraConfig(r=2, lora_alpha=2, task_type="CAUSAL_LM"))
    trainer.train()
    assert trainer.state.global_step == plan.optimizer_steps


@pytest.mark.parametrize("case", TWO_PROCESS, ids=[c.name for c in TWO_PROCESS])
def test_two_process_grpo_apply_reaches_the_planned_step(case: Case, tmp_path):
    loaded = write_case(case, tmp_path)
    plan = build_plan(loaded)
    assert plan.optimizer_steps == case.expected and plan.layout.num_processes == 2
    result = run_cli("apply", loaded.path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (report,) = (tmp_path / "runs" / case.name).glob("*/report.json")
    actual = json.loads(report.read_text())["actual"]
    assert actual["optimizer_steps"] == plan.optimizer_steps and actual["world_size"] == 2
