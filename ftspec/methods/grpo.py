"""Group relative policy optimization: prompts (``{"prompt": ...}`` or a conversation ending on a user turn) with
any columns the rewards read, trained with TRL's GRPOTrainer.

GRPOTrainer (trl 1.16) keeps every prompt whole (``max_prompt_length`` is gone) and renders it with the chat template
and the generation prompt. Its ``RepeatSampler`` takes P = generation_batch / G unique prompts per generation block
and drops the N mod P left over each epoch; the dataloader yields ``steps_per_generation`` micro-batches per block
and per ``num_iterations`` pass, so the Trainer sees (N // P) * P * G * mu * spg samples in batches of b * spg per
process, and transformers' step formula does the rest (``optimizer_steps``).
"""

from __future__ import annotations

import math
from typing import Any

from ftspec.data.formats import as_prompt, check_messages
from ftspec.data.text_checks import BOS_RULE, STOP_RULE
from ftspec.data.texts import content_parts, conversation_shape, message_texts
from ftspec.data.tokens import Tokenized
from ftspec.methods.base import Method
from ftspec.core.steps import optimizer_steps
from ftspec.tokenizer.chat import RenderError

# A stand-in completion: the template's end of the assistant turn after it is what generation must stop on.
_PROBE = [{"role": "assistant", "content": "ok"}]


def generation_batch(spec, world_size: int) -> int:
    """GRPOConfig's generation_batch_size: the spec's, or batch x processes x steps_per_generation (= accumulation)."""
    t, g = spec.training, spec.grpo
    return g.generation_batch_size or t.batch_size * world_size * t.gradient_accumulation


def steps_per_generation(spec, world_size: int) -> int:
    return generation_batch(spec, world_size) // (spec.training.batch_size * world_size)


def prompts_used(n: int, spec, world_size: int) -> int:
    """Prompts the RepeatSampler draws per epoch: whole blocks of P = generation batch / G."""
    per_block = generation_batch(spec, world_size) // spec.grpo.num_generations
    return (n // per_block) * per_block if per_block else 0


class GRPO(Method):
    name = "grpo"
    loss_kernels = ("fused", "liger")  # GRPOTrainer takes every log-probability from its fused LM head
    token_fields = ("lengths", "first_loss", "loss_tokens", "prompt_lengths")
    summary = "reinforcement learning from rewards declared in the spec (TRL GRPOTrainer)"
    formats = ("prompt", "messages", "sharegpt", "alpaca", "prompt_completion")
    holdout_method = "grpo"
    packing_strategy = None
    training_entry = "ftspec.train.grpo"
    has_validation_loss = False
    keeps_every_example = True
    managed_token_prices = False
    batch_rule = "FT124"  # the platforms price RL by the hour or per grader call, not per token
    dropped_trainer_args = ("max_length",)  # GRPOConfig bounds completions, not sequences
    starter_train_file = "data/prompts.jsonl"  # {"prompt": [...], "answer": ...} or messages ending on a user turn
    starter_epochs = 1
    starter_section = """
# What a completion earns: each reward x its weight, summed. Metrics are the holdout's own (eval.metrics).
rewards:
  - {metric: exact_match, reference: answer, weight: 1.0}   # 1 when the completion equals the answer column
  # - {regex: '^\\S+$', name: one-word, weight: 0.5}           # 1 when the regex matches the completion
  # - {length_penalty: 256, weight: 0.1}                     # -(n - 256) / 256 for completions over 256 tokens
  # - {python: 'rewards:score', weight: 1.0}                 # your function in rewards.py beside this spec:
  #     def score(prompts, completions, **kwargs) -> list[float]   (kwargs: completion_ids, data columns, ...)

grpo:                               # TRL 1.16 GRPOConfig defaults
  num_generations: 8                # completions per prompt; batch_size x processes x accumulation must divide by it
  max_completion_length: 512        # tokens generated at most
  beta: 0.0                         # KL to the base; > 0 loads a reference model for full fine-tuning
  loss_type: dapo                   # grpo | dr_grpo | dapo | bnpo | cispo | sapo
  temperature: 1.0
  num_iterations: 1                 # optimisation passes over each generation batch
  scale_rewards: group              # group | batch | none
"""

    def canonical(self, record: dict, fmt: str) -> dict:
        return as_prompt(record, fmt)

    def record_problems(self, canon: dict, fmt: str) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if "prompt" not in canon:
            problems.append((f"a {fmt} record has no prompt: GRPO needs prompts (a 'prompt', or 'messages' ending on "
                             "a user turn)", ""))
            return problems
        prompt = canon["prompt"]
        check_messages(prompt, "prompt", problems, has_tools=False)
        if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict) and prompt[-1].get("role") != "user":
            problems.append(("GRPO prompt must end on a user turn", "prompt"))
        if canon.get("tools"):
            problems.append(("GRPO prompts with tools are not supported (GRPOTrainer takes tools as Python "
                             "callables, not per record)", ""))
        return problems

    def tokenize(self, records: list[dict], tok, *, assistant_only_loss: bool, max_length: int,
                 bounded: bool = False, checks=None) -> Tokenized:
        """Each prompt as GRPOTrainer._tokenize_prompts renders it: the chat template with the generation prompt."""
        t = Tokenized()
        at = max_length if bounded else None  # a prompt over it is refused: its length past it does not matter
        for index, r in enumerate(records):
            try:
                ids, _ = tok.encode_chat(r["prompt"], add_generation_prompt=True, over_length_at=at)
                check = checks is not None and (at is None or len(ids) <= at)
                probe = tok.encode_chat(r["prompt"] + _PROBE)[0] if check else None
            except Exception as exc:  # the template's refusal of this prompt, located by the caller
                raise RenderError(index, exc) from exc
            if check:
                problem, code = checks.bos_problem(ids), BOS_RULE
                if problem is None:
                    # The completion is everything after the prompt: it must close on a token generation stops on.
                    plen = next((i for i, (a, b) in enumerate(zip(ids, probe)) if a != b), min(len(ids), len(probe)))
                    problem = checks.stop_problem(probe, [1 if i >= plen else 0 for i in range(len(probe))])
                    code = STOP_RULE
                if problem:
                    t.problems.append((index, code, problem))
            t.lengths.append(len(ids))
            t.prompt_lengths.append(len(ids))
            t.first_loss.append(len(ids))
            t.loss_tokens.append(0)  # completions are generated: their tokens are counted by epoch_tokens
        return t

    def bounded(self, spec) -> bool:
        return True  # a prompt longer than max_length is an error (FT125), whatever its length

    def trainer_rows(self, data, tokens: Tokenized) -> tuple[list[int], int, int]:
        return list(tokens.lengths), 0, 0  # GRPOTrainer keeps every prompt

    def length_limit(self, spec) -> int:
        return spec.data.max_length - spec.grpo.max_completion_length

    def epoch_tokens(self, spec, tokens: Tokenized, seqs: list[int]) -> int:
        return self._sequence_tokens(spec, sum(seqs), len(seqs))

    def estimated_epoch_tokens(self, spec, estimates: list[int]) -> int:
        return self._sequence_tokens(spec, sum(estimates), len(estimates))

    def _sequence_tokens(self, spec, prompt_tokens: int, n: int) -> int:
        """Prompt and completion tokens of the completions one epoch generates, as GRPOTrainer counts them
        (num_input_tokens_seen), every completion taken at max_completion_length (an upper bound); the prompts the
        sampler leaves over are taken at the mean prompt length."""
        if n == 0:
            return 0
        used = prompts_used(n, spec, spec.compute.world_size)
        return round(used * spec.grpo.num_generations * (prompt_tokens / n + spec.grpo.max_completion_length))

    def compute_tokens(self, spec, total_tokens: int, rows: int) -> tuple[int, int]:
        """(tokens the policy trains on, tokens generated): each generation batch is trained num_iterations times;
        every completion is generated to max_completion_length at most."""
        g = spec.grpo
        used = prompts_used(rows, spec, spec.compute.world_size)
        generated = math.ceil(used * g.num_generations * g.max_completion_length * spec.training.epochs)
        return total_tokens * g.num_iterations, generated

    def sequence_length(self, spec, row_length: int) -> int:
        return min(row_length + spec.grpo.max_completion_length, spec.data.max_length)

    def generation_kv_tokens(self, spec, longest_sequence: int, world_size: int) -> int:
        # Each process generates for its share of the generation batch at once, left-padded to the longest prompt.
        return generation_batch(spec, world_size) // world_size * longest_sequence

    def reference_model(self, spec) -> bool:
        # TRL loads no reference at beta 0; with an adapter it disables the adapter instead of copying the base.
        return spec.grpo.beta > 0 and spec.adapter.type == "full"

    def optimizer_steps(self, rows: int, spec, world_size: int) -> int:
        t = spec.training
        batch = generation_batch(spec, world_size)
        if batch % spec.grpo.num_generations or batch % (t.batch_size * world_size):
            raise ValueError(f"generation batch {batch} holds no whole groups of {spec.grpo.num_generations} "
                             f"completions, or is not a multiple of the global batch (GRPOConfig refuses it)")
        spg = steps_per_generation(spec, world_size)
        samples = prompts_used(rows, spec, world_size) * spec.grpo.num_generations * spec.grpo.num_iterations * spg
        return optimizer_steps(samples, epochs=t.epochs, per_device_batch=t.batch_size * spg,
                               grad_accum=t.gradient_accumulation, world_size=world_size)

    def reference_column(self, spec) -> str:
        from ftspec.spec.rewards import MetricReward  # noqa: PLC0415

        return next((r.reference for r in spec.rewards if isinstance(r, MetricReward)), "answer")

    def count_parts(self, record: dict) -> tuple[tuple, list[list[str]]]:
        prompt = record.get("prompt") or []
        texts = [t for m in prompt for t in content_parts(m)]
        return (self.name, conversation_shape(prompt)), [texts]

    def estimate_texts(self, record: dict) -> list[str]:
        return message_texts({"messages": record.get("prompt") or []})

    def trainer_args(self, spec) -> dict[str, Any]:
        g = spec.grpo
        args = {"num_generations": g.num_generations, "max_completion_length": g.max_completion_length,
                "beta": g.beta, "loss_type": g.loss_type, "temperature": g.temperature,
                "num_iterations": g.num_iterations, "scale_rewards": g.scale_rewards,
                "reward_weights": [r.weight for r in spec.rewards],
                # GRPO has no validation loss: the holdout's task metrics judge the run.
                "eval_strategy": "no", "log_completions": False}
        if g.generation_batch_size is not None:
            args["generation_batch_size"] = g.generation_batch_size
        return args

    def plan_notes(self, spec) -> list[str]:
        g = spec.grpo
        notes = [f"GRPO: train_tokens count prompt + completion tokens of every generated completion, each completion "
                 f"taken at max_completion_length {g.max_completion_length} (an upper bound; the trainer counts the "
                 "real lengths)",
                 "GRPO: time adds generation (one forward pass per generated token, at a decoding utilisation prior) "
                 "to training; memory adds the generation batch's KV cache"
                 + (" and a frozen reference model (beta > 0, full fine-tuning)" if g.beta > 0 else "")]
        return notes


METHOD = GRPO()
