"""The job spec, version 1: the contract that validate, lint, plan and apply all read.

The JSON Schema in ``schemas/ftspec-v1.schema.json`` is generated from these models
(``ftspec schema``), so editors complete and check specs through the modeline.
Defaults follow the platform guides in ``GUIDE-RULES.md`` where the guides give one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

import re

from pydantic import Field, field_validator, model_validator

from ftspec.spec.rewards import GrpoSection, Reward, reward_name
from ftspec.spec.section import Section, compiled_regex as _compiled

SCHEMA_URL = "https://ftspec.dev/schemas/ftspec-v1.schema.json"
SCHEMA_FILE = "schemas/ftspec-v1.schema.json"

# One module each in ftspec.methods (a test keeps the two lists equal).
Method = Literal["sft", "dpo", "cpt", "grpo"]
METHODS: tuple[str, ...] = get_args(Method)
AdapterType = Literal["lora", "rslora", "qlora", "full"]
DataFormat = Literal["auto", "messages", "alpaca", "sharegpt", "preference", "prompt_completion", "prompt", "text"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]
Distributed = Literal["auto", "none", "ddp", "fsdp", "zero2", "zero3"]
# lint.profile: a managed platform's rules (ftspec.platforms), or peft (plain PEFT/TRL defaults).
Profile = Literal["ark", "bailian", "openai", "peft"]
PROFILES: tuple[str, ...] = get_args(Profile)

PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(gt=0, lt=1)]




def _check_replacement(pattern: re.Pattern, replace: str) -> None:
    """Compile ``replace`` as re.sub would on the first match, so a bad group reference fails here, not at eval."""
    try:
        from re import _parser  # noqa: PLC0415 - the template parser re.sub itself uses (Python >= 3.11)

        _parser.parse_template(replace, pattern)
    except ImportError:  # pragma: no cover - older interpreters
        import sre_parse

        sre_parse.parse_template(replace, pattern)
    except (re.error, IndexError, ValueError) as exc:
        raise ValueError(f"not a valid replacement for this regex: {exc}") from None


class ModelSection(Section):
    base: str = Field(
        "builtin:tiny",
        description="Hugging Face hub id, local folder (relative to the spec), 'builtin:tiny-chat' (a pretrained "
        "demo chat model that ships with ftspec), 'builtin:tiny' (random-init, for mechanics tests), or an earlier "
        "ftspec run to train on incrementally: its run folder, or 'run:<name>' (the newest finished run of that spec "
        "name under output.dir).",
        min_length=1,
    )
    parent_adapter: Literal["continue", "merge"] = Field(
        "continue", description="When model.base is an earlier run trained with an adapter: continue training that "
        "same adapter (its rank and targets; adapter.rank/alpha/target_modules are not used), or merge it into the "
        "weights and train a new adapter as adapter: says. A full fine-tune always merges it.")
    revision: str | None = Field(None, description="Commit hash or tag to pin the hub model to.")
    trust_remote_code: bool = Field(False, description="Run Python code shipped with the model. Avoid.")


class AdapterSection(Section):
    type: AdapterType = Field("lora", description="lora, rslora (alpha/sqrt(r) scaling), qlora (4-bit base, GPU only), or full.")
    rank: PositiveInt = Field(32, description="LoRA rank r. Ignored for full fine-tuning.")
    alpha: Annotated[float, Field(gt=0)] = Field(4.0, description="LoRA alpha. The Ark guide asks sqrt(rank) >= alpha.")
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.05
    target_modules: Union[Literal["all-linear"], list[str]] = Field(
        "all-linear", description="'all-linear' (every Linear but lm_head, as PEFT) or a list of module names."
    )


class MixSource(Section):
    path: str = Field(..., description="General-purpose data to mix in, relative to the spec.", min_length=1)
    ratio: Fraction = Field(..., description="Share of this mixed-in data in the total after mixing (guide: 0.15-0.30).")
    format: DataFormat = "auto"


class DataSection(Section):
    train: str = Field(..., description="Training data: .jsonl, .json, .parquet or .txt, relative to the spec.", min_length=1)
    format: DataFormat = Field("auto", description="Record format; 'auto' detects it from the first record.")
    validation: Union[Fraction, str, None] = Field(
        None, description="A fraction of train held out for validation loss (guide: 0.2), or a path to a file."
    )
    mix: list[MixSource] = Field(default_factory=list)
    max_length: PositiveInt = Field(2048, description="Maximum tokens per sample (Bailian default 2048).")
    over_length: Literal["drop", "truncate"] | None = Field(
        None, description="What happens to longer samples. Default: drop for sft and dpo (as the platforms do), truncate for "
        "cpt. GRPO never drops a prompt: lint refuses prompts longer than max_length - grpo.max_completion_length."
    )
    packing: bool = Field(False, description="Pack samples to fill max_length (Ark's dyn_bsz).")
    assistant_only_loss: bool = Field(True, description="For chat data, train on assistant turns only.")
    system_prompt: str | None = Field(None, description="System message added to chat samples that have none.")
    stratify_by: str | None = Field(
        None, description="A record key (e.g. scenario): the validation split keeps each value's share of train."
    )
    chat_template: str | None = Field(
        None, description="A .jinja chat template file (relative to the spec) to train and evaluate with instead of the "
        "model's own; for assistant-only loss it needs {% generation %} markers unless TRL knows it.", min_length=1)


class TrainingSection(Section):
    epochs: Annotated[float, Field(gt=0, le=100)] = 3
    batch_size: PositiveInt = Field(8, description="Micro-batch per device (per process).")
    gradient_accumulation: PositiveInt = 1
    learning_rate: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="Default by adapter type: lora/qlora 1e-4, rslora 2e-5, full 1e-5 (Ark best practices)."
    )
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.05
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    max_grad_norm: Annotated[float, Field(gt=0)] = 1.0
    optimizer: Literal["adamw", "adamw_fused", "adamw_8bit", "paged_adamw_8bit"] = Field(
        "adamw", description="adamw: torch AdamW (two moments per trainable weight), its multi-tensor implementation, "
        "whose step allocates one more moment-sized buffer; adamw_fused: torch's fused AdamW, the same update in "
        "place (transformers' default on torch >= 2.8); adamw_8bit: bitsandbytes' 8-bit "
        "AdamW (1 byte a moment); paged_adamw_8bit: the same, its states paged to host RAM when the GPU runs short. "
        "The 8-bit ones need bitsandbytes and a CUDA GPU.")
    loss_kernel: Literal["fused", "liger", "plain"] = Field(
        "fused", description="How the loss meets the vocabulary. fused: TRL's fused LM head (log-probabilities tile by "
        "tile, no full logits; TRL 1.x's default); liger: Liger's layer kernels (RMSNorm, RoPE, SwiGLU) on top of "
        "TRL's fused LM head (TRL 1.x refuses Liger's own fused cross-entropy; needs liger-kernel); plain: "
        "transformers' loss over the full logits, upcast to fp32 (sft and cpt; for models whose forward has no fused "
        "LM head).")
    attention: Literal["auto", "sdpa", "flash_attention_2", "eager"] = Field(
        "auto", description="The attention implementation the model loads with (transformers' attn_implementation). "
        "auto: transformers' choice (sdpa where the model supports it); flash_attention_2 needs flash-attn and an "
        "Ampere or newer GPU in bf16/fp16; eager materialises every attention matrix.")
    seed: int = 42
    save_per_epoch: bool = True
    precision: Precision = Field("auto", description="auto: bf16 on GPUs that support it, fp32 on CPU.")
    gradient_checkpointing: bool | None = Field(None, description="Default: on for GPUs, off on CPU.")
    logging_steps: PositiveInt = 1
    dpo_beta: Annotated[float, Field(gt=0)] = Field(0.1, description="DPO beta (TRL default 0.1).")


class RegexMetric(Section):
    regex: str = Field(..., description="The output passes when it matches this regular expression.")
    name: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compiled(value)
        return value


MetricName = Literal["exact_match", "contains", "json_valid", "accuracy", "format_alignment"]


class PostProcess(Section):
    regex: str
    replace: str = ""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compiled(value)
        return value

    @field_validator("replace")
    @classmethod
    def _replacement_compiles(cls, value: str, info) -> str:
        if "regex" in info.data:  # else the regex error is the one to fix first
            _check_replacement(_compiled(info.data["regex"]), value)
        return value


class EvalSection(Section):
    holdout: str | None = Field(None, description="Held-out test set, relative to the spec; never trained on.")
    baseline: bool = Field(True, description="Evaluate the base model too, side by side.")
    metrics: list[Union[MetricName, RegexMetric]] = Field(default_factory=lambda: ["exact_match"])
    max_new_tokens: PositiveInt = 64
    postprocess: list[PostProcess] = Field(
        default_factory=list, description="Deterministic fixes applied to outputs, measured separately from raw outputs."
    )
    every_checkpoint: bool = Field(
        True, description="Score the holdout for every saved checkpoint too, not only the final weights (the report's "
        "metric-per-checkpoint curve).")
    select_by: str | None = Field(
        None, description="Which checkpoint adapter/ or model/ ends up holding: 'validation_loss' (the lowest), or the "
        "name of a metric of eval.metrics (the highest on the holdout, raw outputs; ties go to the later step). "
        "Default: the final weights.", min_length=1)

    @field_validator("select_by")
    @classmethod
    def _selects_a_declared_metric(cls, value: str | None, info) -> str | None:
        if value is None or value == "validation_loss" or "metrics" not in info.data:
            return value
        names = [m if isinstance(m, str) else (m.name or f"regex:{m.regex}") for m in info.data["metrics"]]
        if value not in names:
            raise ValueError(f"{value!r} is not a metric of eval.metrics; choose 'validation_loss' or one of "
                             f"{', '.join(map(repr, names))}")
        return value


SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?$")
SlurmName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.,:+-]+$", max_length=200)]


def slurm_minutes(value: str | int) -> int:
    """Minutes of a Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (sbatch --time)."""
    if isinstance(value, int):
        return value
    m = SLURM_TIME.match(value.strip())
    if not m:
        raise ValueError("expected a Slurm time limit: minutes, HH:MM:SS, or D-HH:MM:SS")
    days, a, b, c = (int(g) if g is not None else None for g in m.groups())
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        return days * 1440 + a * 60 + (b or 0) + (1 if c else 0)
    if c is not None:  # HH:MM:SS
        return a * 60 + b + (1 if c else 0)
    if b is not None:  # MM:SS
        return a + (1 if b else 0)
    return a


class SlurmSection(Section):
    partition: SlurmName | None = Field(None, description="sbatch --partition.")
    account: SlurmName | None = Field(None, description="sbatch --account.")
    qos: SlurmName | None = Field(None, description="sbatch --qos.")
    time: Union[Annotated[int, Field(ge=1)], str, None] = Field(
        None, description="sbatch --time (minutes, HH:MM:SS or D-HH:MM:SS); default: the plan's wall-time estimate, "
        "its upper band doubled, plus 15 minutes. A limit under the estimate is an error (FT008).")
    extra: list[Annotated[str, Field(pattern=r"^--[A-Za-z][A-Za-z0-9-]*(=[^\n]*)?$")]] = Field(
        default_factory=list, description="More #SBATCH options, each '--name=value' (e.g. --mail-type=END).")

    @field_validator("time")
    @classmethod
    def _is_a_time(cls, value):
        if isinstance(value, str):
            slurm_minutes(value)
        return value


class ComputeSection(Section):
    accelerator: str = Field("cpu", description="cpu, or a GPU type the planner knows (h100, h800, h20, a100-80gb, "
                             "a800-80gb, l40s, l20, a10, rtx4090, rtx4090d, v100-32gb, ...; case-insensitive, "
                             "aliases allowed).", min_length=1)
    gpus_per_node: PositiveInt = 1
    nodes: PositiveInt = 1
    processes_per_node: PositiveInt | None = Field(
        None, description="Processes per node; defaults to gpus_per_node (on CPU: 1)."
    )
    distributed: Distributed = Field("auto", description="auto: ddp with several processes, none with one.")
    cpu_threads: PositiveInt | None = Field(
        None, description="CPU threads per process for training and evaluation on CPU; default: accelerate's choice "
        "(physical cores per process). Small models run faster on one."
    )
    main_process_ip: str | None = None
    main_process_port: Annotated[int, Field(ge=1, le=65535)] = 29500
    price_per_gpu_hour: Annotated[float, Field(ge=0)] | None = Field(None, description="Overrides the catalogue price (USD).")
    slurm: SlurmSection | None = Field(None, description="Options of the Slurm job (`ftspec apply --on slurm`, the "
                                       "job.sbatch of `ftspec plan --emit`).")

    @property
    def world_size(self) -> int:
        """Training processes in all (``ftspec.launch.layout`` checks the layout; this is its count)."""
        return self.nodes * (self.processes_per_node or (1 if self.accelerator.lower() == "cpu" else self.gpus_per_node))


class LintSection(Section):
    disable: list[str] = Field(default_factory=list, description="Rule codes switched off for this spec.")
    profile: Profile = Field(
        "ark", description="Which platform's rules apply: ark (default), bailian or openai apply that platform's "
        "own data and hyperparameter rules; peft relaxes the Ark-only ones (`ftspec rules --profile P`)."
    )
    scenario_key: str | None = Field(
        None, description="Record key holding the scenario for the balance rules; default data.stratify_by, "
        "else the first of scenario, category, label a record has."
    )
    max_scenario_share: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="One scenario above this share of train is reported (guide: no one class dominating)."
    )


Tracker = Literal["tensorboard", "mlflow", "wandb"]
TRACKERS: tuple[str, ...] = get_args(Tracker)


class MlflowOptions(Section):
    tracking_uri: str | None = Field(
        None, description="An MLflow tracking URI (http(s)://, file:, sqlite:, databricks); default: a local store "
        "beside the runs, <output.dir>/mlruns.", min_length=1)
    experiment: str | None = Field(None, description="The MLflow experiment; default: the spec's name.", min_length=1)


class WandbOptions(Section):
    project: str | None = Field(None, description="The W&B project; default: the spec's name.", min_length=1)
    entity: str | None = Field(None, min_length=1)
    mode: Literal["online", "offline"] = Field(
        "offline", description="offline (default) writes the run beside the runs for `wandb sync`; online needs "
        "WANDB_API_KEY and the network.")


class MlflowTracker(Section):
    mlflow: MlflowOptions = Field(default_factory=MlflowOptions)


class WandbTracker(Section):
    wandb: WandbOptions = Field(default_factory=WandbOptions)


class SweepSection(Section):
    parameters: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        ..., min_length=1, description="Spec keys in dotted form (training.learning_rate) -> the values to try. Each "
        "value must be one the schema accepts at that key.")
    mode: Literal["one_at_a_time", "grid"] = Field(
        "one_at_a_time", description="one_at_a_time: one run per value, each key varied alone from the spec's own "
        "settings (the guide's 'change one variable at a time'); grid: one run per combination.")


class OutputSection(Section):
    dir: str = Field("runs", description="Runs go to <dir>/<name>/<run-id>/, relative to the spec.")


class Spec(Section):
    version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)]
    description: str | None = None
    extends: str | None = Field(None, description="A base spec whose values this one overrides (deep merge).")
    method: Method = "sft"
    task: Literal["generation", "qa", "classification", "roleplay", "format", "other"] | None = Field(
        None, description="What the model learns; selects the guide's recommended data volume and epochs "
        "(generation 2k-3k samples and 5-10 epochs, qa 2k-10k, classification 1k-3k)."
    )
    model: ModelSection = Field(default_factory=ModelSection)
    adapter: AdapterSection = Field(default_factory=AdapterSection)
    data: DataSection
    training: TrainingSection = Field(default_factory=TrainingSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    rewards: list[Reward] = Field(
        default_factory=list, description="method grpo: the rewards, each with a weight, summed per completion. A "
        "metric of eval.metrics against a reference column, a regex, a length penalty or a python function.")
    grpo: GrpoSection = Field(default_factory=GrpoSection)
    compute: ComputeSection = Field(default_factory=ComputeSection)
    lint: LintSection = Field(default_factory=LintSection)
    output: OutputSection = Field(default_factory=OutputSection)
    tracking: list[Union[Tracker, MlflowTracker, WandbTracker]] = Field(
        default_factory=lambda: ["tensorboard"], description="Where each run is also logged: tensorboard (the "
        "default, under the run folder), mlflow (a local store beside the runs unless a tracking_uri is given) and "
        "wandb (offline unless mode: online); e.g. [tensorboard, {mlflow: {tracking_uri: http://host:5000}}].")
    sweep: SweepSection | None = Field(
        None, description="Run this spec once per value of each key (or per combination): each member is a normal "
        "run with its own run id (`ftspec plan` shows every member and the total; `ftspec compare SPEC`).")

    @field_validator("rewards")
    @classmethod
    def _rewards_fit_the_method(cls, rewards: list, info) -> list:
        method = info.data.get("method")
        if rewards and method not in (None, "grpo"):
            raise ValueError(f"rewards are for method 'grpo'; method '{method}' trains without them")
        names = [reward_name(r) for r in rewards]
        if len(set(names)) != len(names):
            raise ValueError(f"two rewards share a name ({', '.join(sorted({n for n in names if names.count(n) > 1}))}): "
                             "give one a name")
        return rewards

    @model_validator(mode="after")
    def _check_combinations(self) -> "Spec":
        if self.method == "cpt" and self.data.format not in ("auto", "text"):
            raise ValueError("method 'cpt' trains on plain text: data.format must be 'text' or 'auto'")
        return self

    @property
    def learning_rate(self) -> float:
        """The learning rate that will be used: the spec's, or the guide's default for the adapter type."""
        if self.training.learning_rate is not None:
            return self.training.learning_rate
        return DEFAULT_LEARNING_RATE[self.adapter.type]

    @property
    def over_length(self) -> str:
        # GRPO's trainer drops no prompt (lint refuses one too long instead); CPT cuts text to max_length.
        return self.data.over_length or ("truncate" if self.method in ("cpt", "grpo") else "drop")


# Lower ends of the Ark best-practice ranges (GUIDE-RULES: hyperparameters).
DEFAULT_LEARNING_RATE: dict[str, float] = {"lora": 1e-4, "qlora": 1e-4, "rslora": 2e-5, "full": 1e-5}


def json_schema() -> dict:
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_URL
    schema["title"] = "ftspec job spec, version 1"
    return schema
