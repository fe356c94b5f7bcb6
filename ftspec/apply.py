"""`ftspec apply`: execute exactly a plan, in its run folder, then evaluate and report.

Stages, each leaving the folder consistent if the process dies between them:
  1. inputs: spec copy, plan.json, accelerate config, prepared data (atomic writes);
  2. training: the plan's own `accelerate launch` line (resumes from the newest complete checkpoint);
  3. evaluation: base vs fine-tuned on the holdout, per-sample outputs saved;
  4. report.json, report.html and the model card; report.json last, as the "done" marker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ftspec import runs
from ftspec.core.atomic import write_text_atomic
from ftspec.plan.compile import Plan
from ftspec.report.contract import REPORT_FORMAT, eval_section

EXIT_NAN, EXIT_STEPS, EXIT_OOM = 3, 4, 5


class ApplyError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message, self.code = message, code


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _write_jsonl(path: Path, records: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _launch_for(plan: Plan, run_dir: Path):
    from ftspec.plan.launch import Layout, render_launch

    return render_launch(Layout(**plan.layout), run_dir=str(run_dir), job_name=plan.name)


def write_inputs(loaded, plan: Plan, run_dir: Path) -> None:
    """Everything the trainer reads, recomputed from the same inputs the plan fingerprinted."""
    from ftspec.data.pipeline import prepare, read_chat_template

    prepared = prepare(loaded)
    if prepared.rows != plan.data["rows"]:
        raise ApplyError(f"the data pipeline produced {prepared.rows} rows but the plan counted {plan.data['rows']}")
    launch = _launch_for(plan, run_dir)
    run_plan = plan.model_copy(update={"launch": launch.to_dict()})
    write_text_atomic(run_dir / "spec.yaml", Path(plan.spec_file).read_text(encoding="utf-8"))
    write_text_atomic(run_dir / "plan.json", _dump(run_plan.model_dump(mode="json")))
    write_text_atomic(run_dir / "accelerate_config.yaml", launch.accelerate_config)
    _write_jsonl(run_dir / "data" / "train.jsonl", prepared.train)
    if prepared.validation:
        _write_jsonl(run_dir / "data" / "validation.jsonl", prepared.validation)
    if prepared.holdout:
        _write_jsonl(run_dir / "data" / "holdout.jsonl", prepared.holdout)
    if plan.job.get("chat_template"):  # data.chat_template, for the trainer, evaluation and export
        write_text_atomic(run_dir / plan.job["chat_template"], read_chat_template(loaded))


def emit_run_folder(loaded, plan: Plan, folder: Path) -> Path:
    """A run folder with everything a launcher needs, for Slurm, SkyPilot or a shell (no training here)."""
    import shlex

    folder = folder.resolve()
    write_inputs(loaded, plan, folder)
    launch = _launch_for(plan, folder)
    env = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in launch.env.items())
    write_text_atomic(folder / "launch.sh", f"#!/usr/bin/env bash\nset -euo pipefail\n{env}{launch.launch_line}\n")
    write_text_atomic(folder / "job.sbatch", launch.sbatch)
    # SkyPilot syncs the working directory to each node: there the run folder must be a relative path.
    relative = os.path.relpath(folder)
    sky = launch.skypilot if relative.startswith("..") else _launch_for(plan, Path(relative)).skypilot
    write_text_atomic(folder / "sky.yaml", sky)
    return folder


def _accelerate_argv(argv: list[str]) -> list[str]:
    """The plan's launch argv, with `accelerate` taken from this interpreter's environment. Under apply the
    launcher also gets --quiet: a trainer that dies (say, killed by the OOM killer) is then apply's one line,
    not accelerate's CalledProcessError traceback; nothing else about the launch changes."""
    if argv and argv[0] == "accelerate":
        if argv[1:2] == ["launch"] and "--quiet" not in argv:
            argv = [argv[0], "launch", "--quiet", *argv[2:]]
        exe = Path(sys.executable).with_name("accelerate")
        if exe.exists():
            return [str(exe), *argv[1:]]
        if shutil.which("accelerate"):
            return argv
        raise ApplyError("accelerate is not installed: pip install 'ftspec[train]'", 2)
    return argv


def _cpu_threads(processes_per_node: int, chosen: int | None = None) -> int:
    """Threads per CPU worker: the spec's compute.cpu_threads, else what accelerate would pick
    (OMP_NUM_THREADS, else physical cores per process). Passed explicitly so that accelerate does not
    print its "values were not passed" warning."""
    if chosen:
        return chosen
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    import psutil

    return max(1, int((psutil.cpu_count(logical=False) or 1) / max(1, processes_per_node)))


def _die_with_parent() -> None:  # runs in the forked child, before exec
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _run_trainer(argv: list[str], env: dict) -> int:
    """Run the launcher in its own process group, tied to this process: Ctrl-C or SIGTERM here stops the
    whole group cleanly (no tracebacks from the trainer or accelerate) and raises ApplyError; if this process
    is killed outright, the launcher gets SIGTERM from the kernel and the trainer follows its launcher."""
    import signal

    proc = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_die_with_parent)
    stopping: list[int] = []

    def forward(signum, frame):
        stopping.append(signum)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = proc.wait(timeout=60 if stopping else None)
                break
            except subprocess.TimeoutExpired:  # the group did not stop within a minute of SIGTERM
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping:
        name = "Ctrl-C" if stopping[0] == signal.SIGINT else "SIGTERM"
        raise ApplyError(f"interrupted ({name}): training stopped; rerun `ftspec apply` to resume from the newest "
                         "complete checkpoint", 130)
    return code


def _import_evaluation_stack():
    """Import what evaluation needs (torch, transformers, peft: ~5-8 s) in a thread while this process waits for
    the trainer, whose own start-up runs on another core; evaluation then starts at once."""
    import threading

    def load() -> None:
        try:
            import peft  # noqa: F401  (imports torch and transformers)
            from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
        except Exception:  # evaluation reports its own import problems
            pass

    thread = threading.Thread(target=load, name="ftspec-import-eval", daemon=True)
    thread.start()
    return thread


def train(plan: Plan, run_dir: Path, *, resume: bool) -> dict:
    launch = _launch_for(plan, run_dir)
    argv = _accelerate_argv(launch.launch_argv) + (["--resume"] if resume else [])
    if plan.layout["accelerator"] == "cpu" and argv[1:2] == ["launch"]:
        threads = _cpu_threads(plan.layout["processes_per_node"], plan.spec["compute"].get("cpu_threads"))
        argv[2:2] = ["--num_cpu_threads_per_process", str(threads)]
    env = {**os.environ, **launch.env, "PYTHONUNBUFFERED": "1", "FTSPEC_HANDLED_EXIT_ZERO": "1"}
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    error_path, result_path = run_dir / "train_error.json", run_dir / runs.TRAIN_RESULT
    error_path.unlink(missing_ok=True)  # from an earlier attempt
    warm = _import_evaluation_stack() if plan.spec["eval"].get("holdout") else None
    try:
        returncode = _run_trainer(argv, env)
    finally:
        if warm is not None:
            warm.join()
    result = runs.read_json(result_path) if result_path.is_file() else None
    error = runs.read_json(error_path) if error_path.is_file() else None
    error = error if isinstance(error, dict) else {}
    if error.get("error") == "crashed":
        raise ApplyError(f"training failed: {error.get('message')}; fix the cause, then rerun `ftspec apply` to "
                         "resume from the newest complete checkpoint")
    if error.get("error") == "bad_job":
        raise ApplyError(f"the trainer refused the job: {error.get('message')}", 2)
    if error.get("error") == "out_of_memory":
        raise ApplyError(f"{error.get('message')} (the plan estimated {plan.peak_memory_gib_per_device} GiB per "
                         "device; `ftspec plan` lists remedies with their own memory)", EXIT_OOM)
    if returncode == EXIT_NAN or (result and result.get("stopped") == "nan_loss"):
        raise ApplyError(f"training stopped: the loss became NaN/inf at step {result and result.get('global_step')}; "
                         "lower training.learning_rate", EXIT_NAN)
    if returncode != 0 or not isinstance(result, dict):
        how = f"killed by signal {-returncode}" if returncode < 0 else f"exit {returncode}"
        raise ApplyError(f"training failed ({how}); rerun `ftspec apply` to resume from the last checkpoint",
                         1 if returncode <= 0 else returncode)
    return result


def base_model_source(plan: Plan) -> tuple[str, str | None]:
    """(folder or hub id, revision) of the base model, exactly as the trainer loaded it."""
    from ftspec.models.resolve import model_source

    return model_source(plan.job["model"]["base"], plan.job["model"]["revision"])


def weights_dir(plan: Plan, run_dir: Path) -> Path:
    """Where the final weights are: the PEFT adapter, or the whole model for full fine-tuning."""
    return run_dir / ("model" if plan.job["peft"] is None else "adapter")


def evaluate(plan: Plan, run_dir: Path) -> dict | None:
    """Base and fine-tuned outputs on the holdout, scored; per-sample outputs go to eval/*.jsonl."""
    holdout_file = run_dir / "data" / "holdout.jsonl"
    if not holdout_file.is_file():
        return None
    from ftspec.evaluate.generate import generate_outputs, holdout_samples
    from ftspec.scoring.metrics import evaluate_outputs

    ev = plan.spec["eval"]
    import warnings

    # peft calls transformers' deprecated is_gradient_checkpointing when it loads an adapter: not the user's doing.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if plan.layout["accelerator"] == "cpu" and plan.spec["compute"].get("cpu_threads"):
        import torch

        torch.set_num_threads(plan.spec["compute"]["cpu_threads"])  # generation runs in this process
    records = [json.loads(line) for line in holdout_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    samples = holdout_samples(records)
    prompts = [s["prompt"] for s in samples]
    tools = [s["tools"] for s in samples]
    template_file = run_dir / plan.job["chat_template"] if plan.job.get("chat_template") else None
    template = template_file.read_text(encoding="utf-8") if template_file else None
    base_dir, revision = base_model_source(plan)
    base = {"model_dir": base_dir, "revision": revision}
    final = weights_dir(plan, run_dir)
    tuned = {"model_dir": str(final)} if plan.job["peft"] is None else {**base, "adapter_dir": str(final)}
    out: dict = {"holdout": plan.spec["eval"]["holdout"], "timing_s": {}}
    runs_to_do = [("base", base)] if ev["baseline"] else []
    runs_to_do.append(("finetuned", tuned))
    for label, where in runs_to_do:
        started = time.perf_counter()
        outputs = generate_outputs(where["model_dir"], prompts, tools=tools, chat_template=template,
                                   adapter_dir=where.get("adapter_dir"),
                                   revision=where.get("revision"), max_new_tokens=ev["max_new_tokens"],
                                   seed=plan.spec["training"]["seed"])
        generated = time.perf_counter()
        scored = evaluate_outputs([{**s, "output": o} for s, o in zip(samples, outputs)], ev["metrics"],
                                  ev["postprocess"])
        out["timing_s"][label] = {"generate": round(generated - started, 3),
                                  "score": round(time.perf_counter() - generated, 3)}
        _write_jsonl(run_dir / "eval" / f"{label}.jsonl", scored["samples"])
        out[label] = scored
    out.setdefault("base", None)
    return out


def _hardware() -> dict:
    import platform

    out = {"machine": platform.machine(), "processor": platform.processor() or None, "cpu_count": os.cpu_count(),
           "python": platform.python_version(), "gpus": []}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return out


def _weights_hashes(folder: Path) -> dict[str, str]:
    from ftspec.plan.fingerprint import sha256_file

    return {p.name: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}


def checkpoints(run_dir: Path) -> list[dict]:
    """Every complete checkpoint with the sha256 of its weights, so a later reader can trust it."""
    return [{"path": f"checkpoints/{c.name}", "step": int(c.name.rsplit("-", 1)[-1]), "weights": _weights_hashes(c)}
            for c in runs.complete_checkpoints(run_dir)]


def build_report(plan: Plan, run_dir: Path, result: dict, evaluation: dict | None, lint: list | None = None) -> dict:
    final = weights_dir(plan, run_dir)
    return {
        "format": REPORT_FORMAT,
        "name": plan.name,
        "run_id": run_dir.name,
        "spec_name": plan.name,
        "method": plan.method,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": result.get("stopped", "completed"),
        "plan": {"optimizer_steps": plan.optimizer_steps, "train_tokens": plan.train_tokens.model_dump(),
                 "flops": plan.flops, "peak_memory_gib_per_device": plan.peak_memory_gib_per_device,
                 "wall_time_hours": plan.wall_time_hours, "cost_usd": plan.cost_usd, "fits": plan.fits},
        "actual": {"optimizer_steps": result["global_step"], "train_runtime_s": result.get("train_runtime_s"),
                   "tokens_per_second": result.get("tokens_per_second"),
                   "train_tokens_seen": result.get("train_tokens_seen"), "world_size": result.get("world_size"),
                   "peak_memory_gib": result.get("peak_memory_gib"), "resumed_from": result.get("resumed_from")},
        "loss": {"train": result["loss"]["train"], "validation": result["loss"]["validation"]},
        "overfitting": result.get("overfitting"),
        "best_checkpoint": result.get("best_checkpoint"),
        "eval": eval_section(evaluation),
        "data": plan.data,
        "fingerprint": plan.fingerprint,
        "versions": plan.fingerprint["versions"],
        "seed": plan.spec["training"]["seed"],
        "hardware": _hardware(),
        "lint": [f.to_dict() for f in lint or []],
        "checkpoints": checkpoints(run_dir),
        "eval_settings_sha256": runs.eval_digest(plan),
        # Every file of the weights folder but the model card (rewritten with each report): what a later apply
        # checks before it trusts the run as finished.
        "final_weights": {"path": final.name, "sha256": runs.weights_hashes(final)} if final.is_dir() else None,
        "artifacts": {"adapter": final.name if final.name == "adapter" else None,
                      "model": final.name if final.name == "model" else None,
                      "tensorboard": "tensorboard", "checkpoints": "checkpoints",
                      "eval_outputs": "eval" if evaluation else None},
    }


def model_card(report: dict, plan: Plan, chat_template: str | None = None) -> str:
    spec = plan.spec
    lines = [f"# {plan.name}", "", spec.get("description") or "", "",
             f"Fine-tuned from `{spec['model']['base']}` by ftspec ({plan.method.upper()}, "
             f"{spec['adapter']['type']}).", "", "## Training", "",
             f"- optimizer steps: {report['actual']['optimizer_steps']} (planned {report['plan']['optimizer_steps']})",
             f"- epochs {spec['training']['epochs']}, micro-batch {spec['training']['batch_size']}, "
             f"learning rate {plan.job['trainer_args']['learning_rate']}, seed {spec['training']['seed']}",
             f"- data: {spec['data']['train']} (sha256 {plan.fingerprint['data'].get(spec['data']['train'], '')[:12]})",
             "", "## Evaluation (holdout)", ""]
    ev = report["eval"]
    if ev["finetuned"]:
        lines.append("| metric | base | fine-tuned |")
        lines.append("|---|---|---|")
        for name, value in ev["finetuned"].items():
            base = ev["base"].get(name) if ev["base"] else None
            lines.append(f"| {name} | {'—' if base is None else f'{base:.3f}'} | {value:.3f} |")
    else:
        lines.append("No holdout was configured.")
    if chat_template:
        source = "data.chat_template of the spec" if plan.spec["data"].get("chat_template") else "the base model's own"
        lines += ["", "## Prompt format", "",
                  f"Prompt it with this chat template ({source}; it is also in this folder's tokenizer files):", "",
                  "```jinja", chat_template.rstrip("\n"), "```"]
    lines += ["", f"Reproduce: `ftspec apply {Path(plan.spec_file).name}` with the same data and library versions "
              "(see report.json).", ""]
    return "\n".join(lines)


def saved_chat_template(folder: Path) -> str | None:
    """The default chat template of a saved tokenizer folder (what the trainer saved with the weights)."""
    from ftspec.tokenizer.files import load_chat_template, read_json

    template = load_chat_template(folder, read_json(folder / "tokenizer_config.json"))
    return template.get("default") if isinstance(template, dict) else template


def write_report(plan: Plan, run_dir: Path, report: dict) -> None:
    from ftspec.report.html import render_report_html

    artifact = weights_dir(plan, run_dir)
    if artifact.is_dir():
        write_text_atomic(artifact / "README.md", model_card(report, plan, saved_chat_template(artifact)))
    write_text_atomic(run_dir / "report.html", render_report_html(report))
    write_text_atomic(run_dir / runs.REPORT, _dump(report))  # last: it marks the run complete


def report_problem(plan: Plan, run_dir: Path) -> str | None:
    """None when ``run_dir`` holds a finished run of ``plan`` that can be trusted: a report.json that parses,
    whose recorded final-weight hashes match the files and whose evaluation settings are the plan's."""
    report = runs.read_json(run_dir / runs.REPORT)
    if not isinstance(report, dict):
        return "its report.json is unreadable"
    weights = report.get("final_weights")
    if not isinstance(weights, dict):
        return "its report.json records no final weights"
    problem = runs.hashes_problem(run_dir / str(weights.get("path")), weights.get("sha256"))
    if problem:
        return f"its final weights do not match report.json: {problem}"
    if report.get("eval_settings_sha256") != runs.eval_digest(plan):
        return "the evaluation settings or holdout changed since it was evaluated"
    return None


def trained_result(run_dir: Path, echo) -> dict | None:
    """train_result.json of a finished training whose final weights still match their recorded hashes."""
    result = runs.read_json(run_dir / runs.TRAIN_RESULT)
    if not (isinstance(result, dict) and result.get("stopped") == "completed"):
        return None
    problem = runs.hashes_problem(run_dir / str(result.get("weights")), result.get("weights_sha256"))
    if problem:
        echo(f"the final weights cannot be trusted ({problem}): training them again")
        (run_dir / runs.TRAIN_RESULT).unlink()
        return None
    return result


def output_problem(loaded, root: Path) -> str | None:
    """Why runs cannot be written under ``root`` (output.dir is a file, /dev/null, ...), located in the spec."""
    existing = root
    try:
        while not existing.exists():
            existing = existing.parent
        if existing.is_dir():
            return None
    except OSError as exc:
        return f"{exc.strerror}: {existing}"
    loc = loaded.locate("output", "dir")
    return f"{loc}: output.dir: {existing} is not a folder; runs are written to <output.dir>/<name>/<run-id>/"


def apply_plan(loaded, plan: Plan, *, force: bool = False, echo=print, lint: list | None = None) -> Path:
    """Run ``plan`` to completion (or pick up where an interrupted run stopped); returns the run folder."""
    root = runs.run_root(plan)
    problem = output_problem(loaded, root)
    if problem:
        raise ApplyError(problem)
    run_dir = root / runs.run_id(plan)
    try:
        return _apply_in(loaded, plan, run_dir, root, force=force, echo=echo, lint=lint)
    except OSError as exc:  # a full disk, a read-only folder: one line; what was written atomically stays good
        import errno

        what = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        where = f" ({exc.filename})" if exc.filename else ""
        raise ApplyError(f"cannot write the run folder {run_dir}: {what}{where}; fix that and rerun "
                         "`ftspec apply` (finished stages are kept, half-written files are not used)") from None


def _apply_in(loaded, plan: Plan, run_dir: Path, root: Path, *, force: bool, echo, lint) -> Path:
    from ftspec.core.atomic import clean_temp_files

    if force and (run_dir / runs.REPORT).exists():
        run_dir = runs.fresh_run_dir(root, run_dir.name)
    elif not force and report_problem(plan, run_dir) is None:
        echo(f"nothing to do: {run_dir} is complete for these inputs (use --force to train again)")
        return run_dir
    with runs.RunLock(run_dir):
        alive = runs.trainer_alive(run_dir)
        if alive:
            raise ApplyError(alive)
        clean_temp_files(run_dir)
        if (run_dir / runs.REPORT).exists():
            why = report_problem(plan, run_dir)
            if why is None and not force:
                echo(f"nothing to do: {run_dir} is complete for these inputs (use --force to train again)")
                return run_dir
            echo(f"{run_dir} is not complete: {why}")
            os.replace(run_dir / runs.REPORT, run_dir / "report.json.stale")
        result = trained_result(run_dir, echo)
        write_inputs(loaded, plan, run_dir)
        if result is None:
            checkpoint = runs.trusted_checkpoint(run_dir, echo)
            echo(f"resuming {run_dir} from {checkpoint.name}" if checkpoint else f"run folder: {run_dir}")
            train(plan, run_dir, resume=checkpoint is not None)
            result = runs.read_json(run_dir / runs.TRAIN_RESULT)
        else:
            echo(f"re-evaluating the finished weights in {run_dir}")
        if result["global_step"] != plan.optimizer_steps:
            raise ApplyError(f"the trainer ran {result['global_step']} optimizer steps but the plan says "
                             f"{plan.optimizer_steps}", EXIT_STEPS)
        evaluation = evaluate(plan, run_dir)
        report = build_report(plan, run_dir, result, evaluation, lint)
        write_report(plan, run_dir, report)
    return run_dir
