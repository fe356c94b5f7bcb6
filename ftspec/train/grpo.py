"""Group relative policy optimization: prompts, completions sampled from the policy, rewards from the spec.

TRL's GRPOTrainer with the reward functions ``ftspec.scoring.rewards`` builds from the plan's job. Each reward is
checked as it returns: an exception, a wrong count or a non-number stops training with one line naming the reward
and the training sample (exit 6), the checkpoints so far kept. With beta 0 (TRL's default) there is no reference
model; with beta > 0 a LoRA run disables the adapter for the reference passes.
"""

from __future__ import annotations

import math
from pathlib import Path

from ftspec.plan.model import Job
from ftspec.scoring.rewards import RewardLoadError, build_rewards, checked
from ftspec.train.job import JobError
from ftspec.train.loop import build_and_train

ROW_COLUMN = "ftspec_row"  # each prompt's index in the training data, so a failing reward can name the sample


def resumable_grpo_trainer():
    """GRPOTrainer whose prompt order after a resume is the uninterrupted run's.

    TRL's RepeatSampler shuffles with a generator seeded once, drawing one permutation per epoch; a run resumed at
    epoch e builds a fresh sampler whose first permutation is epoch 0's, not epoch e's. The sampler here draws (and
    discards) the permutations of the epochs the checkpoint already trained before its first one, so a resumed run
    samples the same prompts, completions and rewards as one never stopped (tests/test_grpo_train.py)."""
    import torch
    from trl import GRPOTrainer
    from trl.trainer.utils import RepeatSampler

    class EpochAlignedSampler(RepeatSampler):
        def __iter__(self):
            done = math.floor((self.trainer.state.epoch or 0) + 1e-9)  # epochs already trained
            while self.shuffle and self.drawn < done:
                torch.randperm(self.num_samples, generator=self.generator)
                self.drawn += 1
            self.drawn += 1
            return super().__iter__()

    class ResumableGRPOTrainer(GRPOTrainer):
        def _get_train_sampler(self, dataset=None):
            sampler = super()._get_train_sampler(dataset)
            sampler.__class__ = EpochAlignedSampler
            sampler.trainer, sampler.drawn = self, 0
            return sampler

    return ResumableGRPOTrainer


def main(run_dir: Path, job: Job, resume: bool) -> int:
    from trl import GRPOConfig

    try:
        rewards = [checked(fn, ROW_COLUMN) for fn in build_rewards(job.rewards or [], Path(job.rewards_dir or "."))]
    except RewardLoadError as exc:
        raise JobError(str(exc)) from None
    if not rewards:
        raise JobError("method grpo needs at least one reward (the spec's rewards:)")

    def with_row_index(train, validation, tokenizer, args):
        return train.add_column(ROW_COLUMN, list(range(len(train)))), validation

    return build_and_train(GRPOConfig, resumable_grpo_trainer(), run_dir, job, resume, prepare_datasets=with_row_index,
                           trainer_kwargs={"reward_funcs": rewards}, tokens_in_state=True)
