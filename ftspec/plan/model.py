"""The plan, as a typed data object (Terraform style): ``compile.build_plan`` makes it, ``views`` renders it as text or
JSON, ``planfile`` saves and reloads it, and ``ftspec apply`` executes exactly what it holds.

Its JSON form is ``plan.json`` (format ``PLAN_FORMAT``): every field below is a documented key, in this order. The
``job`` section is what the training entry point (``python -m ftspec.train RUN_DIR``) reads from the run folder's copy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer

from ftspec.launch.files import LaunchFiles
from ftspec.launch.layout import Layout
from ftspec.spec.schema import Spec

# 2: job.training_chat_template and job.render_date (present only when they apply).
PLAN_FORMAT = 2


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainTokens(_Section):
    per_epoch: int | None  # tokens through the model per epoch, no padding (DPO: chosen + rejected)
    loss_bearing_per_epoch: int | None  # tokens that carry a label
    total: int | None  # per epoch x epochs: what FLOPs and the managed platforms' bills count


class FingerprintModel(_Section):
    base: str
    revision: str | None
    files: dict[str, str]  # sha256 of the files that shape tokenization and the architecture
    # model.base named an earlier run: its run id, name, folder and the digest of its final weights (absent otherwise)
    parent: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _parent_absent_when_none(self, handler) -> dict[str, Any]:
        out = handler(self)
        if out.get("parent") is None:
            out.pop("parent", None)
        return out


class Fingerprint(_Section):
    """What the plan was computed from, each hashed (``fingerprint.compute``); a saved plan applies only while its
    inputs still match."""

    spec_file: str
    spec_sha256: str
    resolved_spec_sha256: str  # the spec after extends and defaults
    data: dict[str, str]  # every dataset (and chat template) the spec names -> sha256, or "missing"
    model: FingerprintModel
    versions: dict[str, str | None]  # library versions (ftspec, torch, transformers, ...)
    seed: int


class DataCounts(_Section):
    """What the data pipeline did, in counts of records and rows. A count that does not apply to this plan is absent
    from the JSON (no tokenizer: no over_max_length; no mix-in: no mix; ...)."""

    train_file: int  # records read from data.train
    validation: int  # records held for validation (split off, or read from data.validation)
    train_task: int  # task records left to train on
    mix: dict[str, int] | None = None  # records drawn from each data.mix source
    dropped_zero_weight: int | None = None  # samples whose every assistant turn is weighted 0
    holdout: int  # records of eval.holdout
    over_max_length: int | None = None  # training samples longer than data.max_length
    dropped_over_length: int | None = None  # of those, dropped (over_length: drop)
    truncated: int | None = None  # of those, truncated (over_length: truncate)
    train: int  # samples the trainer is given
    upper_bound_tokens: int | None = None  # no tokenizer: an upper bound on any sample's tokens
    validation_dropped_over_length: int | None = None
    validation_rows: int | None = None  # validation rows the trainer evaluates (0: no validation loss)
    dropped_by_trainer: int | None = None  # samples TRL drops (no loss-bearing token within max_length)
    rows: int  # rows of the trainer's dataset (after its drops and packing): the step count's base
    max_seq_len: int | None  # the longest row

    @model_serializer(mode="wrap")
    def _absent_when_none(self, handler) -> dict[str, Any]:
        out = handler(self)
        return {k: v for k, v in out.items() if v is not None or k == "max_seq_len"}


class JobModel(_Section):
    base: str  # hub id, or a local folder resolved against the spec's folder
    revision: str | None
    trust_remote_code: bool
    dtype: str  # the dtype the weights load in: float32, bfloat16
    # Incremental training (model.base names an earlier run; absent otherwise): adapter folders merged into ``base`` in
    # this order before training, the adapter folder whose training continues, and the pretrained model at the root
    # of the chain ({"base", "revision"}: the baseline evaluation's model).
    merge_adapters: list[str] | None = None
    continue_adapter: str | None = None
    pretrained: dict[str, Any] | None = None
    # transformers' attn_implementation (training.attention); absent: transformers' own choice.
    attn_implementation: str | None = None

    @model_serializer(mode="wrap")
    def _absent_when_none(self, handler) -> dict[str, Any]:
        out = handler(self)
        return {k: v for k, v in out.items() if v is not None or k not in ("merge_adapters", "continue_adapter",
                                                                            "pretrained", "attn_implementation")}


class JobData(_Section):
    train: str  # run-folder paths of the prepared rows
    validation: str | None


class Job(_Section):
    """What the training entry point receives."""

    method: str
    model: JobModel
    peft: dict[str, Any] | None  # peft.LoraConfig arguments; None: full fine-tuning
    quantization: dict[str, Any] | None  # transformers.BitsAndBytesConfig arguments (QLoRA)
    trainer_args: dict[str, Any]  # the TRL config's keyword arguments (SFTConfig, DPOConfig), as passed
    chat_template: str | None = None  # run-folder path of data.chat_template, set on the tokenizer
    data: JobData
    expected_optimizer_steps: int
    # Run-folder path of the training template ftspec derived (no {% generation %} markers in the chat template and
    # none from TRL): the trainer tokenizes with it; the tokenizer saved with the weights keeps the original.
    training_chat_template: str | None = None
    # The day a calendar-reading chat template renders (ISO), pinned so the training text is the same on any day.
    render_date: str | None = None
    # GRPO: the spec's rewards, each with its name (``ftspec.scoring.rewards`` builds them), and the folder python
    # rewards are imported from (the spec's).
    rewards: list[dict[str, Any]] | None = None
    rewards_dir: str | None = None
    # "plain": the loss is transformers' over the full logits instead of TRL's fused LM head (training.loss_kernel);
    # absent: TRL's own loss.
    loss_kernel: str | None = None

    @model_serializer(mode="wrap")
    def _absent_when_none(self, handler) -> dict[str, Any]:
        out = handler(self)
        optional = ("training_chat_template", "render_date", "rewards", "rewards_dir", "loss_kernel")
        return {k: v for k, v in out.items() if v is not None or k not in optional}


class Remedy(_Section):
    action: str
    change: dict[str, Any]  # the cost model's arguments that change
    memory_gib: float  # the per-device peak of the spec with ``sets`` applied, planned again
    fits: bool
    sets: list[str] = []  # the spec change, as `ftspec plan SPEC --set KEY=VALUE ...` takes it


class ManagedCost(_Section):
    platform: str
    model: str
    cost: float
    currency: str
    price: float
    per_tokens: int
    source: str


class SweepMember(_Section):
    """Which member of a ``sweep:`` this plan is: the sweep's id (a digest of the spec without its sweep values and
    of the sweep), the member's index among ``of``, and the values it sets (dotted spec keys)."""

    id: str
    index: int
    of: int
    values: dict[str, Any]


class Plan(_Section):
    format: int = PLAN_FORMAT
    name: str
    method: str
    spec_file: str
    spec: Spec  # the resolved spec (extends merged, defaults filled)
    fingerprint: Fingerprint
    optimizer_steps: int
    optimizer_steps_exact: bool
    train_tokens: TrainTokens
    tokens_estimated: bool  # True without the model's tokenizer (character-based estimate)
    flops: float | None
    peak_memory_gib_per_device: float | None
    wall_time_hours: float | None
    cost_usd: float | None
    fits: bool | None  # None on the CPU (host RAM, no fit check) or for an unknown architecture
    remedies: list[Remedy]  # each with its own re-estimated memory
    managed_costs: list[ManagedCost]  # the same training tokens on managed platforms, where the guides give a price
    data: DataCounts
    layout: Layout
    launch: LaunchFiles
    job: Job
    estimate: dict[str, Any] | None  # the cost model's breakdown (docs/estimation.md)
    notes: list[str]
    sweep: SweepMember | None = None  # a member of a sweep (absent from the JSON otherwise)

    @model_serializer(mode="wrap")
    def _sweep_absent_when_none(self, handler) -> dict[str, Any]:
        out = handler(self)
        if out.get("sweep") is None:
            out.pop("sweep", None)
        return out
