"""The GRPO sections of a spec: ``rewards:`` (what a completion earns) and ``grpo:`` (the trainer's knobs).

A reward is built from what a spec already declares for evaluation, so a task's reward and its holdout metric are
the same code (``ftspec.scoring``): one of ``eval.metrics`` against a reference column, a regex, a length penalty,
or the user's own Python function. Defaults are TRL 1.16's ``GRPOConfig`` defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import re
from difflib import get_close_matches

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator

from ftspec.spec.section import Section, compiled_regex

MetricRewardName = Literal["exact_match", "contains", "json_valid", "accuracy", "format_alignment"]
Weight = Annotated[float, Field(description="Multiplies this reward before the rewards are summed (TRL's "
                                            "reward_weights).")]
RewardName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$", max_length=64)]
COLUMN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class MetricReward(Section):
    metric: MetricRewardName = Field(..., description="A holdout metric (ftspec.scoring.metrics): 1 when the "
                                     "completion passes it against the reference, else 0.")
    reference: Annotated[str, Field(pattern=COLUMN)] = Field(
        "answer", description="The data column holding each prompt's reference answer.")
    weight: Weight = 1.0
    name: RewardName | None = None


class RegexReward(Section):
    regex: str = Field(..., description="1 when re.search finds this pattern in the completion, else 0.")
    weight: Weight = 1.0
    name: RewardName | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compiled_regex(value)
        return value


class LengthPenalty(Section):
    length_penalty: Annotated[int, Field(ge=1)] = Field(
        ..., description="A token budget: a completion of n tokens earns -(n - budget) / budget when longer, else 0.")
    weight: Weight = 1.0
    name: RewardName | None = None


PYTHON_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


class PythonReward(Section):
    python: str = Field(
        ..., description="'module:function', the module found relative to the spec's folder. TRL calls it with "
        "prompts, completions, completion_ids, every data column and trainer_state as keyword arguments; it "
        "returns one float (or None) per completion.", json_schema_extra={"pattern": PYTHON_REF.pattern})
    weight: Weight = 1.0
    name: RewardName | None = None

    @field_validator("python")
    @classmethod
    def _is_a_reference(cls, value: str) -> str:
        if not PYTHON_REF.match(value):
            raise ValueError("expected 'module:function' (a module beside the spec, dotted for a package, a colon, "
                             "then the function's name)")
        return value


REWARD_KINDS = ("metric", "regex", "length_penalty", "python")
# The union's tags: capitalised, as pydantic's own branch names are, so an error's location skips them.
_TAGS = dict(zip(REWARD_KINDS, ("MetricReward", "RegexReward", "LengthPenalty", "PythonReward")))


def _reward_kind(value) -> str | None:
    """Which kind a reward is, from the key that names it, so an error speaks of that kind only (a misspelt key is
    matched to the nearest kind, whose own check then says "did you mean")."""
    if isinstance(value, BaseModel):
        return _TAGS[next(k for k in REWARD_KINDS if hasattr(value, k))]
    if not isinstance(value, dict):
        return None
    found = [k for k in REWARD_KINDS if k in value]
    if found:
        return _TAGS[found[0]]
    close = [m for key in value for m in get_close_matches(str(key), REWARD_KINDS, n=1, cutoff=0.6)]
    return _TAGS[close[0]] if close else None


Reward = Annotated[
    Union[Annotated[MetricReward, Tag("MetricReward")], Annotated[RegexReward, Tag("RegexReward")],
          Annotated[LengthPenalty, Tag("LengthPenalty")], Annotated[PythonReward, Tag("PythonReward")]],
    Discriminator(_reward_kind, custom_error_type="reward_kind",
                  custom_error_message="a reward is an object with one of the keys metric, regex, length_penalty or "
                  "python")]


def reward_name(reward: Reward) -> str:
    """The name the reward's curve and TRL's logs carry."""
    if reward.name:
        return reward.name
    if isinstance(reward, MetricReward):
        return reward.metric
    if isinstance(reward, RegexReward):
        return f"regex:{reward.regex}"
    if isinstance(reward, LengthPenalty):
        return "length_penalty"
    return reward.python.rsplit(":", 1)[1]


LossType = Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo"]


class GrpoSection(Section):
    num_generations: Annotated[int, Field(ge=2)] = Field(
        8, description="Completions sampled per prompt (TRL default 8); rewards are normalised within each group.")
    max_completion_length: Annotated[int, Field(ge=1)] = Field(512, description="Tokens generated at most per "
                                                               "completion (TRL default 512).")
    beta: Annotated[float, Field(ge=0)] = Field(0.0, description="KL coefficient; 0 (TRL default) loads no "
                                                "reference model.")
    loss_type: LossType = Field("dapo", description="TRL's loss aggregation (default dapo).")
    temperature: Annotated[float, Field(gt=0)] = Field(1.0, description="Sampling temperature (TRL default 1.0).")
    num_iterations: Annotated[int, Field(ge=1)] = Field(1, description="Optimisation passes over each generation "
                                                        "batch (TRL's mu, default 1).")
    scale_rewards: Literal["group", "batch", "none"] = Field("group", description="Divide advantages by the reward "
                                                             "std of the group, the batch, or not at all.")
    generation_batch_size: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Completions generated at once, over all processes; default batch_size x processes x "
        "gradient_accumulation. Must divide by num_generations and by batch_size x processes.")


def python_reward_parts(reward: PythonReward | dict) -> tuple[str, str]:
    """(module, function) of a python reward."""
    ref = reward.python if isinstance(reward, PythonReward) else reward["python"]
    module, function = ref.split(":", 1)
    return module, function


def module_file(module: str, base_dir: Path) -> Path:
    """Where ``import module`` finds it with ``base_dir`` first on sys.path: a package's __init__.py or module.py."""
    parts = module.split(".")
    package = base_dir.joinpath(*parts, "__init__.py")
    return package if package.is_file() else base_dir.joinpath(*parts[:-1], parts[-1] + ".py")
