"""Group relative policy optimization: prompts, completions sampled from the policy, rewards from the spec.

TRL's GRPOTrainer with the reward functions ``ftspec.scoring.rewards`` builds from the plan's job. Each reward is
checked as it returns: an exception, a wrong count or a non-number stops training with one line naming the reward
and the training sample (exit 6), the checkpoints so far kept. With beta 0 (TRL's default) there is no reference
model; with beta > 0 a LoRA run disables the adapter for the reference passes.
"""

from __future__ import annotations

from pathlib import Path

from ftspec.plan.model import Job
from ftspec.scoring.rewards import RewardLoadError, build_rewards, checked
from ftspec.train.job import JobError
from ftspec.train.loop import build_and_train

ROW_COLUMN = "ftspec_row"  # each prompt's index in the training data, so a failing reward can name the sample


def main(run_dir: Path, job: Job, resume: bool) -> int:
    from trl import GRPOConfig, GRPOTrainer

    try:
        rewards = [checked(fn, ROW_COLUMN) for fn in build_rewards(job.rewards or [], Path(job.rewards_dir or "."))]
    except RewardLoadError as exc:
        raise JobError(str(exc)) from None
    if not rewards:
        raise JobError("method grpo needs at least one reward (the spec's rewards:)")

    def with_row_index(train, validation, tokenizer, args):
        return train.add_column(ROW_COLUMN, list(range(len(train)))), validation

    return build_and_train(GRPOConfig, GRPOTrainer, run_dir, job, resume, prepare_datasets=with_row_index,
                           trainer_kwargs={"reward_funcs": rewards}, tokens_in_state=True)
