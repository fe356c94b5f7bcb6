"""``python -m ftspec.train RUN_DIR [--resume]``, normally under ``accelerate launch``.

Reads ``RUN_DIR/plan.json`` (its ``job``), trains with the method's file and writes ``RUN_DIR/checkpoints/``,
``RUN_DIR/tensorboard/``, ``RUN_DIR/adapter/`` or ``RUN_DIR/model/`` and ``RUN_DIR/train_result.json``.

Exit codes: 0 done; 2 bad arguments or an unusable RUN_DIR; 3 the loss became NaN/inf (training stopped,
train_result.json says ``"stopped": "nan_loss"``); 4 the run completed on a different optimizer step count
than ``expected_optimizer_steps``; 5 out of device memory (also written to ``RUN_DIR/train_error.json``
as ``{"error": "out_of_memory", "message": ...}``, since ``accelerate launch`` exits 1 whatever its
workers' codes were; a NaN stop and a step mismatch can be read from train_result.json); 6 a reward function failed
(GRPO: ``{"error": "reward_failed", "message": ...}`` names the reward and the training sample).
"""

from __future__ import annotations

import argparse
import os
import importlib
import sys
from pathlib import Path

from ftspec.runfolder.contract import (BAD_JOB, CRASHED, EXIT_CRASHED, EXIT_INTERRUPTED, EXIT_NAN, EXIT_OK, EXIT_OOM,
                                      EXIT_REWARD, EXIT_STEP_MISMATCH, EXIT_USAGE, OUT_OF_MEMORY, REWARD_FAILED,
                                      TRAIN_TRACEBACK)

HANDLED = (EXIT_USAGE, EXIT_NAN, EXIT_STEP_MISMATCH, EXIT_OOM, EXIT_CRASHED, EXIT_INTERRUPTED, EXIT_REWARD)


def die_with_parent() -> None:
    """Linux: SIGTERM this process when its parent (accelerate, itself tied to `ftspec apply`) dies, so a
    killed apply never leaves a trainer writing into the run folder behind it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getppid()
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call took effect
            os.kill(os.getpid(), signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _quiet_signals() -> None:
    """Ctrl-C or SIGTERM: stop at once without a traceback; the checkpoints on disk are the resume points."""
    import signal

    def stop(signum, frame):
        # apply signals the whole launcher group and accelerate forwards it too: a second SIGTERM must not
        # raise again inside the clean-up (it would print "Exception ignored in __del__" with a traceback).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _oom_message(job) -> str:
    a = job.trainer_args
    checkpointing = a.get("activation_checkpointing", a.get("gradient_checkpointing"))
    return (f"out of memory: micro-batch {a.get('per_device_train_batch_size')} x max_length {a.get('max_length')} "
            f"(gradient_accumulation {a.get('gradient_accumulation_steps', 1)}, gradient_checkpointing "
            f"{bool(checkpointing)}) did not fit; lower training.batch_size (raise "
            "gradient_accumulation to keep the effective batch), lower data.max_length, or enable "
            "training.gradient_checkpointing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftspec.train", description="Train the job in RUN_DIR/plan.json (normally under `accelerate launch`).",
                                     epilog="exit codes: 0 done, 2 bad input, 3 NaN/inf loss, 4 step count differs "
                                            "from the plan, 5 out of memory, 6 a reward function failed")
    parser.add_argument("run_dir", type=Path, help="run folder holding plan.json and data/")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest complete checkpoint in RUN_DIR/checkpoints")
    ns = parser.parse_args(argv)
    import warnings

    # Raised inside transformers/TRL by their own deprecated call, not by anything the job chose.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

    try:
        return _run(ns)
    except KeyboardInterrupt:
        print("ftspec.train: interrupted; the newest complete checkpoint is the resume point", file=sys.stderr,
              flush=True)
        return EXIT_INTERRUPTED


def _run(ns) -> int:
    from ftspec.runfolder.locks import RunLocked, TrainerLock
    from ftspec.train.job import JobError, read_job
    from ftspec.train.results import write_error

    run_dir = ns.run_dir.resolve()
    try:
        job = read_job(run_dir)
    except JobError as exc:
        print(f"ftspec.train: {exc}", file=sys.stderr)
        if run_dir.is_dir():
            write_error(run_dir, BAD_JOB, str(exc))
        return EXIT_USAGE
    if int(os.environ.get("RANK", "0")) != 0:
        return _train(run_dir, job, ns.resume)
    try:
        with TrainerLock(run_dir):  # process zero holds it: one trainer per run folder
            return _train(run_dir, job, ns.resume)
    except RunLocked as exc:
        print(f"ftspec.train: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _train(run_dir: Path, job, resume: bool) -> int:
    import torch

    from ftspec.methods import get_method
    from ftspec.scoring.rewards import RewardError
    from ftspec.train.job import JobError
    from ftspec.train.results import write_error

    entry = importlib.import_module(get_method(job.method).training_entry)
    try:
        return entry.main(run_dir, job, resume)
    except RewardError as exc:
        print(f"ftspec.train: training stopped: {exc}", file=sys.stderr, flush=True)
        write_error(run_dir, REWARD_FAILED, str(exc))
        return EXIT_REWARD
    except JobError as exc:
        print(f"ftspec.train: {exc}", file=sys.stderr)
        write_error(run_dir, BAD_JOB, str(exc))
        return EXIT_USAGE
    except torch.OutOfMemoryError:
        message = _oom_message(job)
        print(f"ftspec.train: {message}", file=sys.stderr, flush=True)
        # `accelerate launch` turns every failing exit code into 1: this file says which failure it was.
        write_error(run_dir, OUT_OF_MEMORY, message)
        return EXIT_OOM
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a crash: one line here, the traceback in a file for whoever debugs it
        import traceback

        where = run_dir / TRAIN_TRACEBACK
        try:
            where.write_text(traceback.format_exc(), encoding="utf-8")
        except OSError:
            where = None
        first = str(exc).splitlines()[0] if str(exc) else ""
        message = f"{type(exc).__name__}: {first}"[:500]
        print(f"ftspec.train: training failed: {message}" + (f" (traceback in {where})" if where else ""),
              file=sys.stderr, flush=True)
        write_error(run_dir, CRASHED, message + (f" (traceback in {where})" if where else ""))
        return EXIT_CRASHED


if __name__ == "__main__":
    die_with_parent()
    _quiet_signals()
    code = main()
    # Under `ftspec apply` a handled failure is already recorded in train_result.json / train_error.json;
    # exiting 0 keeps `accelerate launch` from wrapping it in a CalledProcessError traceback.
    if code in HANDLED and os.environ.get("FTSPEC_HANDLED_EXIT_ZERO") == "1":
        code = EXIT_OK
    if os.environ.get("WORLD_SIZE", "1") == "1":
        # Everything is written and closed (results atomically, the lock released); the interpreter's teardown
        # of torch and transformers would take ~1.7 s more for nothing. Several processes exit normally, so the
        # process group shuts down as torch expects.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
