"""The training entry point (``python -m ftspec.train RUN_DIR``) on the built-in tiny model, for real, on CPU.

Each run builds a RUN_DIR the way the orchestrator does (plan.json with a ``job``, data/*.jsonl), trains in
this process through ``ftspec.train.__main__.main`` (no interpreter start-up per run), and checks the output
contract: global_step against transformers' step formula worked by hand, train_result.json, the final
adapter/ or model/ folder. The 2-process DDP run goes through ``accelerate launch`` in a subprocess.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from ftspec.runfolder.contract import EXIT_NAN, EXIT_OK, EXIT_OOM, EXIT_STEP_MISMATCH, EXIT_USAGE  # noqa: E402
from ftspec.train.__main__ import main  # noqa: E402
from support.runs import result, steps_formula, tiny_run as make_run  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RESULT_KEYS = {"global_step", "expected_optimizer_steps", "loss", "best_checkpoint", "overfitting",
               "train_runtime_s", "train_tokens_seen", "tokens_per_second", "stopped", "resumed_from", "world_size"}


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):
    # The entry point points the TensorBoard callback at RUN_DIR through this variable: undo it after each test.
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)


def check_completed(run_dir: Path, weights: str) -> dict:
    res = result(run_dir)
    assert RESULT_KEYS <= res.keys()
    assert res["stopped"] == "completed"
    assert res["global_step"] == res["expected_optimizer_steps"]
    assert res["loss"]["train"] and all(math.isfinite(v) for _, v in res["loss"]["train"])
    assert res["world_size"] == 1 and res["resumed_from"] is None
    assert res["train_tokens_seen"] > 0 and res["tokens_per_second"] > 0
    folder = run_dir / weights
    assert folder.is_dir() and (folder / "tokenizer.json").is_file()
    assert not (run_dir / f".{weights}.partial").exists()
    return res


def test_sft_lora_with_validation_and_tensorboard(tmp_path):
    run = make_run(tmp_path / "run", "sft", n=16, n_val=4, num_train_epochs=2, report_to=["tensorboard"])
    assert main([str(run)]) == EXIT_OK
    res = check_completed(run, "adapter")
    assert res["global_step"] == steps_formula(16, epochs=2, batch=4) == 8
    assert [s for s, _ in res["loss"]["validation"]] == [4, 8]  # once per epoch
    best = min(res["loss"]["validation"], key=lambda x: x[1])[0]
    assert res["best_checkpoint"] == f"checkpoints/checkpoint-{best}"
    assert isinstance(res["overfitting"], bool)
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "checkpoints" / "checkpoint-8" / "trainer_state.json").is_file()
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))


def test_sft_rslora_assistant_only_loss(tmp_path):
    run = make_run(tmp_path / "run", "sft", n=16, peft="rslora", assistant_only_loss=True, gradient_accumulation_steps=2)
    assert main([str(run)]) == EXIT_OK
    res = check_completed(run, "adapter")
    assert res["global_step"] == steps_formula(16, epochs=1, batch=4, grad_accum=2) == 2
    config = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert config["use_rslora"] is True


def test_sft_full_fine_tuning(tmp_path):
    run = make_run(tmp_path / "run", "sft", n=8, peft=None, learning_rate=1e-4)
    assert main([str(run)]) == EXIT_OK
    check_completed(run, "model")
    assert (run / "model" / "model.safetensors").is_file() and (run / "model" / "config.json").is_file()
    assert not (run / "adapter").exists()


def test_dpo_lora(tmp_path):
    run = make_run(tmp_path / "run", "dpo", n=8, n_val=2)
    assert main([str(run)]) == EXIT_OK
    res = check_completed(run, "adapter")
    assert res["global_step"] == 2 and len(res["loss"]["validation"]) == 1


def test_cpt_lora_packing(tmp_path):
    run = make_run(tmp_path / "run", "cpt", n=16)
    assert main([str(run)]) == EXIT_OK
    res = check_completed(run, "adapter")
    # 16 texts of 64 tokens pack two to a 128-token row: 8 rows, 2 steps at batch 4
    assert res["global_step"] == 2
    assert res["train_tokens_seen"] == 16 * 64  # padding-free packing: every token counts once


def test_same_inputs_same_losses(tmp_path):
    losses = []
    for name in ("a", "b"):
        run = make_run(tmp_path / name, "sft", n=12, n_val=4, save_strategy="no")
        assert main([str(run)]) == EXIT_OK
        res = result(run)
        losses.append((res["loss"], res["train_tokens_seen"]))
    assert losses[0] == losses[1]  # bit-identical on one CPU process


def test_nan_loss_stops_with_exit_3(tmp_path, capsys):
    # A learning rate of 1e30 (clipping off) blows the weights up on the first update: the second loss is NaN/inf.
    run = make_run(tmp_path / "run", "sft", n=16, learning_rate=1e30, max_grad_norm=0.0, warmup_steps=0,
                   lr_scheduler_type="constant", save_strategy="steps", save_steps=1)
    assert main([str(run)]) == EXIT_NAN
    res = result(run)
    assert res["stopped"] == "nan_loss"
    assert res["global_step"] < res["expected_optimizer_steps"]
    assert res["loss"]["train"][-1][1] is None  # NaN is written as null: train_result.json stays valid JSON
    err = [line for line in capsys.readouterr().err.splitlines() if "NaN" in line]
    assert len(err) == 1 and f"step {res['global_step']}" in err[0]
    assert not (run / "adapter").exists()  # no final weights from a broken run
    assert not (run / "checkpoints" / f"checkpoint-{res['global_step']}").exists()


def test_step_mismatch_is_exit_4(tmp_path, capsys):
    run = make_run(tmp_path / "run", "sft", n=8, expected=99, save_strategy="no")
    assert main([str(run)]) == EXIT_STEP_MISMATCH
    err = capsys.readouterr().err
    assert "optimizer step 2" in err and "expected 99" in err
    assert result(run)["global_step"] == 2


def test_out_of_memory_is_one_line_and_exit_5(tmp_path, capsys, monkeypatch):
    import ftspec.train.sft as sft

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(sft, "main", oom)
    run = make_run(tmp_path / "run", "sft", n=8, per_device_train_batch_size=8, activation_checkpointing=True)
    assert main([str(run)]) == EXIT_OOM
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "micro-batch 8" in err[0] and "max_length 128" in err[0]
    assert "gradient_checkpointing True" in err[0] and "Traceback" not in err[0]
    assert json.loads((run / "train_error.json").read_text()) == {"error": "out_of_memory", "message": err[0][14:]}


def test_bad_run_dir_is_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == EXIT_USAGE
    assert "plan.json" in capsys.readouterr().err
    run = make_run(tmp_path / "run", "sft", n=8, not_a_trainer_arg=1)
    assert main([str(run)]) == EXIT_USAGE
    assert "not_a_trainer_arg" in capsys.readouterr().err


def test_two_process_cpu_ddp(tmp_path):
    run = make_run(tmp_path / "run", "sft", n=16, n_val=4, world=2)
    import socket

    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "accelerate.yaml"
    # As ftspec plan writes it for cpu ddp: MULTI_GPU + use_cpu starts torchrun with 2 workers on gloo.
    config.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nmixed_precision: 'no'\n"
                      "use_cpu: true\nnum_machines: 1\nmachine_rank: 0\nnum_processes: 2\n"
                      f"main_process_port: {port}\n"
                      "rdzv_backend: static\nsame_network: true\nenable_cpu_affinity: false\n")
    proc = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
                           "-m", "ftspec.train", str(run)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = result(run)
    assert res["world_size"] == 2 and res["stopped"] == "completed"
    assert res["global_step"] == steps_formula(16, epochs=1, batch=4, world=2) == 2
    assert (run / "adapter" / "adapter_model.safetensors").is_file()


def test_overfitting_and_best_checkpoint_rules(tmp_path):
    from ftspec.train.results import best_checkpoint, overfitting

    train = [[s, 3.0 - 0.1 * s] for s in range(1, 13)]  # train loss keeps falling
    assert overfitting(train, [[4, 2.0], [8, 1.8], [12, 1.9]])  # validation rose over the last epoch
    assert not overfitting(train, [[4, 2.0], [8, 1.8], [12, 1.7]])
    assert not overfitting(train, [[12, 1.9]])  # one evaluation says nothing
    rising = [[s, 1.0 + 0.1 * s] for s in range(1, 13)]
    assert not overfitting(rising, [[4, 2.0], [8, 1.8], [12, 1.9]])  # train loss rose too: not overfitting
    for step in (4, 8):
        (tmp_path / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        (tmp_path / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert best_checkpoint(tmp_path, [[4, 2.0], [8, 1.8], [12, 1.5]]) == "checkpoints/checkpoint-8"  # 12 is gone
    assert best_checkpoint(tmp_path, []) is None
