"""Kernels a spec chooses (training.loss_kernel, training.attention, training.optimizer): lint refuses what cannot run
here (FT017), the plan hands the trainer the real transformers/TRL arguments and prices their memory, and the trainer
runs what the plan says (train_result.json records the attention, loss path and optimizer it really used)."""

from __future__ import annotations

import json

import pytest

from ftspec.lint.engine import run_lint
from ftspec.lint.rules import ft017_kernels
from ftspec.plan.planning import NoPlan, plan_spec
from ftspec.spec.load import load_spec
from support.project import chat_rows, write_project

QUIET = "lint: {disable: [FT101, FT102, FT105, FT403, FT001]}\n"


def _spec(tmp_path, training: str = "", compute: str = "accelerator: h100", method: str = "sft",
          model: str = "Qwen/Qwen2.5-7B-Instruct") -> str:
    rows = chat_rows(40) if method == "sft" else [
        {"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(40)]
    return str(write_project(tmp_path, f"version: 1\nname: t\nmethod: {method}\nmodel: {{base: {model}}}\n"
                             "data: {train: train.jsonl, validation: 0.2}\n" + QUIET +
                             f"training: {{{training}}}\ncompute: {{{compute}}}\n", {"train.jsonl": rows}))


def _ft017(path: str) -> list:
    return [f for f in run_lint(load_spec(path), count_tokens=False) if f.code == "FT017"]


@pytest.mark.parametrize("training, method, words", [
    ("loss_kernel: liger", "sft", "liger_kernel package"),
    ("attention: flash_attention_2", "sft", "flash_attn package"),
    ("optimizer: paged_adamw_8bit", "sft", "bitsandbytes package"),
    ("loss_kernel: plain", "dpo", "fused LM head"),
])
def test_ft017_refuses_a_kernel_that_cannot_run(tmp_path, monkeypatch, training, method, words):
    monkeypatch.setattr(ft017_kernels, "installed", lambda module: "package" not in words)
    (found,) = _ft017(_spec(tmp_path, training, "accelerator: h100", method))
    assert found.severity == "error" and words in found.message
    assert found.line == 7 and found.column is not None  # at the training key


@pytest.mark.parametrize("training, compute, words", [
    ("optimizer: adamw_8bit", "accelerator: cpu", "CUDA kernels only"),
    ("loss_kernel: liger", "accelerator: cpu", "CUDA kernels only"),
    ("attention: flash_attention_2", "accelerator: v100-32gb", "Ampere or newer"),
    ("attention: flash_attention_2, precision: fp32", "accelerator: h100", "bf16 or fp16 only"),
])
def test_the_layout_refuses_a_kernel_the_hardware_cannot_run(tmp_path, monkeypatch, training, compute, words):
    monkeypatch.setattr(ft017_kernels, "installed", lambda module: True)
    with pytest.raises(NoPlan) as info:
        plan_spec(_spec(tmp_path, training, compute, model="builtin:tiny" if "cpu" in compute else
                        "Qwen/Qwen2.5-7B-Instruct"))
    (found,) = info.value.findings
    assert found.severity == "error" and words in found.message and found.line == 7  # at the training key


def test_ft017_is_silent_when_installed_and_supported(tmp_path, monkeypatch):
    monkeypatch.setattr(ft017_kernels, "installed", lambda module: True)
    assert _ft017(_spec(tmp_path, "loss_kernel: liger, attention: flash_attention_2, optimizer: paged_adamw_8bit")) == []
    assert _ft017(_spec(tmp_path, "loss_kernel: plain, attention: eager", "accelerator: cpu",
                        model="builtin:tiny")) == []


def test_ft017_checks_what_is_really_installed(tmp_path):
    # The check looks the package up without importing it: the answer is this environment's.
    import importlib.util

    found = _ft017(_spec(tmp_path, "attention: flash_attention_2"))
    assert bool(found) == (importlib.util.find_spec("flash_attn") is None)


def test_the_plan_hands_the_trainer_the_real_arguments(tmp_path, monkeypatch):
    monkeypatch.setattr(ft017_kernels, "installed", lambda module: True)
    plan = plan_spec(_spec(tmp_path, "loss_kernel: liger, attention: flash_attention_2, "
                                     "optimizer: paged_adamw_8bit")).plan
    job = plan.job.model_dump(mode="json")
    assert job["model"]["attn_implementation"] == "flash_attention_2"  # AutoModel.from_pretrained's argument
    assert job["trainer_args"]["use_liger_kernel"] is True and job["trainer_args"]["optim"] == "paged_adamw_8bit"
    assert "loss_kernel" not in job  # TRL's own loss (its fused LM head) stays
    est = plan.estimate
    assert (est["loss_impl"], est["attention_impl"], est["optimizer"]) == ("fused", "flash", "paged_adamw8bit")


def test_defaults_leave_the_job_and_the_run_id_as_before(tmp_path):
    from ftspec.plan.identity import training_inputs

    plan = plan_spec(_spec(tmp_path)).plan
    job = plan.job.model_dump(mode="json")
    assert "attn_implementation" not in job["model"] and "loss_kernel" not in job
    assert "use_liger_kernel" not in job["trainer_args"] and job["trainer_args"]["optim"] == "adamw_torch"
    spec = training_inputs(plan)["spec"]["training"]
    assert "loss_kernel" not in spec and "attention" not in spec  # settings at their default: earlier run ids hold


def test_each_kernel_changes_the_memory_it_should(tmp_path, monkeypatch):
    monkeypatch.setattr(ft017_kernels, "installed", lambda module: True)

    def memory(tag, training):
        return plan_spec(_spec(tmp_path / tag, training + ", batch_size: 1, gradient_checkpointing: false",
                               "accelerator: h200", model="Qwen/Qwen2.5-7B-Instruct")).plan.estimate["memory"]

    fused, plain = memory("fused", "loss_kernel: fused"), memory("plain", "loss_kernel: plain")
    assert plain["logits"] > 10 * fused["logits"] and plain["activations"] == fused["activations"]
    sdpa, eager = memory("sdpa", "attention: sdpa"), memory("eager", "attention: eager")
    assert eager["activations"] > sdpa["activations"] and eager["weights"] == sdpa["weights"]
    liger = memory("liger", "loss_kernel: liger")
    assert liger["activations"] < fused["activations"] and liger["logits"] == fused["logits"]


def test_eight_bit_moments_and_sharded_layouts_price_the_optimizer_states(tmp_path, monkeypatch):
    monkeypatch.setattr(ft017_kernels, "installed", lambda module: True)

    def est(tag, training, compute="accelerator: h200"):
        path = _spec(tmp_path / tag, training, compute, model="Qwen/Qwen2.5-1.5B-Instruct")
        text = open(path).read().replace("training:", "adapter: {type: full}\ntraining:")
        open(path, "w").write(text)
        return plan_spec(path).plan.estimate

    adamw, eight = est("adamw", ""), est("8bit", "optimizer: adamw_8bit")
    n = adamw["trainable_parameters"]
    # One process trains the bf16 weights it loads: torch AdamW's two moments in bf16 (4 B), 8-bit: 2 B.
    assert adamw["precision"] == "bf16" and adamw["memory"]["optimizer"] * 2**30 == pytest.approx(4 * n)
    assert eight["memory"]["optimizer"] * 2**30 == pytest.approx(2 * n)
    # ZeRO-2 keeps fp32 master weights and fp32 moments (12 B), sharded over the 4 processes; the bf16 weights stay.
    zero2 = est("zero2", "", "accelerator: h200, gpus_per_node: 4, distributed: zero2")
    assert zero2["precision"] == "bf16-mixed"
    assert zero2["memory"]["optimizer"] * 2**30 == pytest.approx(12 * n / 4)
    assert zero2["memory"]["weights"] == adamw["memory"]["weights"]
    fsdp = est("fsdp", "", "accelerator: h200, gpus_per_node: 4, distributed: fsdp")
    assert fsdp["precision"] == "bf16-mixed" and fsdp["communication_hours"] > 0 == zero2["communication_hours"]


def test_plain_loss_refused_for_dpo_gets_no_plan(tmp_path):
    with pytest.raises(NoPlan) as info:
        plan_spec(_spec(tmp_path, "loss_kernel: plain", method="dpo"))
    assert any(f.code == "FT017" for f in info.value.findings)


# ------------------------------------------------------------------ the trainer honours them (builtin:tiny, CPU)

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)


def _train(run_dir, **job_changes) -> dict:
    from ftspec.train.__main__ import main
    from support.runs import result, tiny_run

    run = tiny_run(run_dir, "sft", n=8, save_strategy="no")
    plan = json.loads((run / "plan.json").read_text())
    for key, value in job_changes.items():
        if key == "attn_implementation":
            plan["job"]["model"][key] = value
        elif key == "optim":
            plan["job"]["trainer_args"][key] = value
        else:
            plan["job"][key] = value
    (run / "plan.json").write_text(json.dumps(plan))
    assert main([str(run)]) == 0
    return result(run)


@pytest.mark.slow
def test_the_trainer_runs_the_plain_loss_and_eager_attention_it_was_given(tmp_path):
    fused = _train(tmp_path / "fused")
    plain = _train(tmp_path / "plain", loss_kernel="plain", attn_implementation="eager")
    assert fused["kernels"] == {"attention": "sdpa", "loss": "fused", "optimizer": "adamw_torch"}
    assert plain["kernels"] == {"attention": "eager", "loss": "plain", "optimizer": "adamw_torch"}
    # The same mean negative log-likelihood over the same label tokens, whichever way the logits are met.
    (step, first_fused), (_, first_plain) = fused["loss"]["train"][0], plain["loss"]["train"][0]
    assert step == 1 and first_plain == pytest.approx(first_fused, rel=1e-4)
    assert plain["global_step"] == fused["global_step"]


# ------------------------------------------------------------------ the optimizer's implementation

def test_fused_adamw_maps_to_transformers_and_drops_the_step_buffer(tmp_path):
    from ftspec.models.architectures import get_architecture
    from ftspec.plan.estimate import estimate

    path = _spec(tmp_path, "optimizer: adamw_fused")
    plan = plan_spec(path).plan
    assert plan.job.model_dump(mode="json")["trainer_args"]["optim"] == "adamw_torch_fused"
    assert plan.estimate["optimizer"] == "adamw-fused"
    assert not _ft017(path)  # torch's own kernel: nothing to install, and it runs on the CPU too
    # torch's multi-tensor AdamW takes sqrt(v) of every moment at once: one more moment-sized buffer at the step, which
    # sets the peak of a short-sequence full fine-tune (bf16 moments: 2 B a parameter).
    common = dict(adapter="full", accelerator="h100", train_tokens=0, micro_batch_size=1, seq_len=256)
    arch = get_architecture("Qwen/Qwen2.5-7B-Instruct")
    foreach, fused = (estimate(arch, optimizer=o, **common) for o in ("adamw", "adamw-fused"))
    n, m = foreach.trainable_parameters, fused.memory
    assert (foreach.memory.allocated - m.allocated) * 2**30 == pytest.approx(
        2 * n - (m.activations + m.logits) * 2**30, rel=1e-6)
    # Under ZeRO-3 the step works one 1e9-parameter sub-group at a time: an fp32 gradient copy and the fp32 sqrt(v).
    z_foreach, z_fused = (estimate(arch, optimizer=o, num_processes=2, distributed="zero3", precision="bf16-mixed",
                                   **common).memory for o in ("adamw", "adamw-fused"))
    assert (z_foreach.allocated - z_fused.allocated) * 2**30 == pytest.approx(4e9, rel=1e-6)
    # A 7B full fine-tune on one 80 GB card fits only without that buffer: the plan offers the fused kernel first.
    assert not foreach.fit.fits and fused.fit.fits
    assert foreach.fit.remedies[0].change == {"optimizer": "adamw-fused"} and foreach.fit.remedies[0].fits


@pytest.mark.slow
def test_the_trainer_runs_fused_adamw_to_the_same_weights(tmp_path):
    foreach = _train(tmp_path / "foreach")
    fused = _train(tmp_path / "fused", optim="adamw_torch_fused")
    assert fused["kernels"]["optimizer"] == "adamw_torch_fused" and foreach["kernels"]["optimizer"] == "adamw_torch"
    # The same AdamW update, in one kernel: the losses of every step agree.
    assert [step for step, _ in fused["loss"]["train"]] == [step for step, _ in foreach["loss"]["train"]]
    for (_, a), (_, b) in zip(fused["loss"]["train"], foreach["loss"]["train"]):
        assert a == pytest.approx(b, rel=1e-3)
