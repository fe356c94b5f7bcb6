"""Training a run: the bound plan's own launch line, run by its launch backend, and its outcome read back from the
run folder's contract (train_result.json, train_error.json, the exit code)."""

from __future__ import annotations

import os
from pathlib import Path

from ftspec.launch import local, slurm
from ftspec.plan.model import Plan
from ftspec.runfolder import contract
from ftspec.runs.errors import ApplyError


def run_training(plan: Plan, run_dir: Path, *, resume: bool, while_training=None) -> dict:
    """Run the launch of ``plan`` (bound to ``run_dir``) to its end; train_result.json's content, or ApplyError saying
    what went wrong. ``while_training``: started before the trainer and joined after it (evaluation's imports)."""
    threads = None
    if plan.layout.on_cpu:
        threads = local.cpu_threads(plan.layout.processes_per_node, plan.spec.compute.cpu_threads)
    try:
        if plan.layout.nodes > 1 and os.environ.get("SLURM_JOB_ID"):  # a cluster job: one launcher per node
            argv = slurm.training_argv(plan.layout, str(run_dir), cpu_threads=threads)
            argv[-1] += " --resume" if resume else ""
        else:
            argv = local.runnable_argv(plan.launch.launch_argv, cpu_threads=threads) + (["--resume"] if resume else [])
    except local.LaunchError as exc:
        raise ApplyError(exc.message, exc.code) from None
    env = {**os.environ, **plan.launch.env, "PYTHONUNBUFFERED": "1", "FTSPEC_HANDLED_EXIT_ZERO": "1"}
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    error_path, result_path = run_dir / contract.TRAIN_ERROR, run_dir / contract.TRAIN_RESULT
    error_path.unlink(missing_ok=True)  # from an earlier attempt
    side = while_training() if while_training else None
    try:
        returncode = local.run(argv, env)
    except local.LaunchError as exc:
        raise ApplyError(exc.message, exc.code) from None
    finally:
        if side is not None:
            side.join()
    result = contract.read_json(result_path) if result_path.is_file() else None
    error = contract.read_json(error_path) if error_path.is_file() else None
    error = error if isinstance(error, dict) else {}
    if error.get("error") == contract.CRASHED:
        raise ApplyError(f"training failed: {error.get('message')}; fix the cause, then rerun `ftspec apply` to "
                         "resume from the newest complete checkpoint")
    if error.get("error") == contract.REWARD_FAILED:
        raise ApplyError(f"training stopped: {error.get('message')}; fix the reward, then rerun `ftspec apply` to "
                         "resume from the newest complete checkpoint", contract.EXIT_REWARD)
    if error.get("error") == contract.BAD_JOB:
        raise ApplyError(f"the trainer refused the job: {error.get('message')}", contract.EXIT_USAGE)
    if error.get("error") == contract.OUT_OF_MEMORY:
        raise ApplyError(f"{error.get('message')} (the plan estimated {plan.peak_memory_gib_per_device} GiB per "
                         "device; `ftspec plan` lists remedies with their own memory)", contract.EXIT_OOM)
    if returncode == contract.EXIT_NAN or (result and result.get("stopped") == "nan_loss"):
        raise ApplyError(f"training stopped: the loss became NaN/inf at step {result and result.get('global_step')}; "
                         "lower training.learning_rate", contract.EXIT_NAN)
    if returncode != 0 or not isinstance(result, dict):
        how = f"killed by signal {-returncode}" if returncode < 0 else f"exit {returncode}"
        raise ApplyError(f"training failed ({how}); rerun `ftspec apply` to resume from the last checkpoint",
                         1 if returncode <= 0 else returncode)
    return result
