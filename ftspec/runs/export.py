"""`ftspec export RUN [--merge]`: a standalone model folder from a finished run, written atomically."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ftspec.models.adapters import merge_adapters
from ftspec.models.resolve import model_source
from ftspec.plan.model import Plan
from ftspec.runfolder import contract


class ExportError(Exception):
    pass


def export_run(run_dir: Path, *, merge: bool, out: Path | None = None) -> Path:
    report_file = run_dir / contract.REPORT
    if not report_file.is_file():
        raise ExportError(f"{run_dir}: no report.json; only finished runs can be exported")
    try:
        plan = Plan.model_validate(json.loads((run_dir / contract.PLAN).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{run_dir}: plan.json is unreadable ({exc}); run `ftspec apply` again") from None
    adapter, full = run_dir / contract.ADAPTER, run_dir / contract.MODEL
    if not (full.is_dir() or adapter.is_dir()):
        raise ExportError(f"{run_dir}: the run has no adapter/ or model/ folder (its weights are gone); run "
                          "`ftspec apply` again to retrain them")
    dest = out or run_dir / ("merged" if merge else "export")
    if dest.exists():
        raise ExportError(f"{dest} exists; remove it or pass -o elsewhere")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if full.is_dir():
            shutil.copytree(full, tmp, dirs_exist_ok=True)
        elif not merge:
            if plan.job.model.merge_adapters:
                raise ExportError(f"{run_dir}: its adapter sits on the base with an earlier version's adapter merged "
                                  "in, so it is not usable on the base alone: export with --merge")
            shutil.copytree(adapter, tmp, dirs_exist_ok=True)
        else:
            _merge(plan, adapter, tmp)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def base_dtype(base_dir: str, revision: str | None, trust: bool):
    """The dtype the base checkpoint is stored in (config.json's dtype / torch_dtype); fp32 when it says none."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(base_dir, revision=revision, trust_remote_code=trust)
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def _merge(plan: Plan, adapter: Path, dest: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if plan.job.quantization:
        raise ExportError("a QLoRA adapter is merged into the 16-bit base: load the base in bf16 on a GPU machine")
    base_dir, revision = model_source(plan.job.model.base, plan.job.model.revision)
    trust = plan.job.model.trust_remote_code
    # Merge in fp32 (no rounding of W + BA before the end), then write the base checkpoint's own dtype: a bf16 base
    # stays bf16 (the same size on disk), whatever dtype training loaded it in.
    model = AutoModelForCausalLM.from_pretrained(base_dir, revision=revision, dtype=torch.float32, trust_remote_code=trust)
    model = merge_adapters(model, plan.job.model.merge_adapters)  # the earlier versions', as training merged them
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.to(base_dtype(base_dir, revision, trust)).save_pretrained(dest)
    tokenizer_source = adapter if (adapter / "tokenizer_config.json").is_file() else base_dir
    AutoTokenizer.from_pretrained(tokenizer_source, revision=None if tokenizer_source == adapter else revision
                                  ).save_pretrained(dest)
    card = adapter / contract.MODEL_CARD
    if card.is_file():
        shutil.copy(card, dest / contract.MODEL_CARD)
