"""The method interface: everything ftspec knows about one training method lives in that method's module
(``sft.py``, ``dpo.py``, ``cpt.py``), as one subclass of :class:`Method`:

- which record formats it reads and the shape it trains on (``convert``: problems and the canonical record);
- how its records become the trainer's rows and token counts, exactly as TRL prepares them (``tokenize``,
  ``trainer_rows``, ``tokens_per_epoch``), and how lint estimates them without rendering (``count_parts``);
- its trainer arguments and plan notes (``trainer_args``, ``plan_notes``);
- its training entry (``training_entry``: the module ``python -m ftspec.train`` runs for it) and its starter spec.

The data pipeline, lint, plan and the trainer dispatch through ``ftspec.methods.get_method(spec.method)``; lint rules
that only concern one method say so themselves (``Rule.methods``). The defaults here are those of a conversation
trained with TRL's SFTTrainer; a method overrides what differs.
"""

from __future__ import annotations

from typing import Any

from ftspec.core.steps import optimizer_steps
from ftspec.data.formats import as_conversation, check_messages, check_tools
from ftspec.data.packing import pack_lengths, sft_kept_lengths
from ftspec.data.texts import content_parts, conversation_shape, message_texts, tools_text
from ftspec.data.tokens import Tokenized


class Method:
    name: str = ""  # the spec's `method:` value
    summary: str = ""
    formats: tuple[str, ...] = ()  # the record formats it reads (data.format)
    plain_text: bool = False  # trains on plain text: no chat template is rendered
    holdout_method: str = ""  # the method whose records the holdout is read as (evaluation prompts a chat model)
    packing_strategy: str | None = "bfd"  # TRL's packing_strategy when data.packing is on
    sequences_per_example: int = 1  # sequences the model runs per example (DPO: chosen and rejected)
    training_entry: str = ""  # the module the trainer runs: ftspec.train.<...>
    keeps_every_example: bool = False  # the trainer drops nothing: an example over length_limit is an error
    has_validation_loss: bool = True  # the trainer evaluates a validation loss (GRPO: none)
    dropped_trainer_args: tuple[str, ...] = ()
    batch_rule: str = "FT110"  # the lint rule that names a batch the step count cannot be made of
    # training.loss_kernel values its trainer honours: plain needs a trainer whose loss can take the full logits
    # (SFTTrainer's); DPO's and GRPO's log-probabilities always come from TRL's fused LM head.
    loss_kernels: tuple[str, ...] = ("fused", "liger", "plain")
    # The per-sample token columns its tokenize fills (``Tokenized``; DPO's pair_lengths as pair_chosen and
    # pair_rejected): what the count cache stores for each of its samples (``ftspec.pipeline.facts``).
    token_fields: tuple[str, ...] = ("lengths", "first_loss", "loss_tokens")
    managed_token_prices: bool = True  # the platforms' per-training-token prices apply (not to RL)  # shared TRL arguments the method's config does not take
    starter_train_file: str = "data/train.jsonl"  # for `ftspec init`
    starter_packing: bool = False
    starter_epochs: float = 3
    starter_section: str = ""  # YAML the starter spec adds after data: (the method's own sections)
    starter_holdout: bool = True

    # --- records --------------------------------------------------------------------------------------------

    def canonical(self, record: dict, fmt: str) -> dict:
        """The record in the shape this method trains on (``ftspec.data.formats``)."""
        return as_conversation(record, fmt)

    def record_problems(self, canon: dict, fmt: str) -> list[tuple[str, str]]:
        """(message, field) for each problem of a canonical record; fields ending in ``.reasoning`` (reasoning
        content) and ``tools`` (tool calls without tools) are notes lint reports separately."""
        problems: list[tuple[str, str]] = []
        msgs = canon.get("messages")
        if fmt == "text" and "messages" not in canon:
            problems.append((f"plain-text record in an {self.name.upper()} dataset: {self.name.upper()} needs "
                             "conversations", "text"))
            return problems
        check_messages(msgs, "messages", problems, has_tools=bool(canon.get("tools")))
        check_tools(canon, problems)
        if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") != "assistant":
            problems.append(("conversation does not end on an assistant turn (nothing to train on)", "messages"))
        return problems

    def convert(self, record: Any, fmt: str | None) -> tuple[list[tuple[str, str]], dict]:
        """(problems, canonical record) of one raw record; the canonical record is {} when it is not an object or
        fits no format. ``label`` problems mark KTO-style labels (an unsupported method)."""
        if not isinstance(record, dict):
            return [(f"record is a {type(record).__name__}, not an object", "")], {}
        if fmt is None:
            return [("record matches no known format (messages, alpaca, sharegpt, preference, prompt_completion, "
                     "text)", "")], {}
        problems: list[tuple[str, str]] = []
        if "label" in record and isinstance(record.get("label"), bool):
            from ftspec.methods import method_names

            names = method_names()
            problems.append(("record has a KTO-style boolean 'label': KTO is not a supported method (use "
                             f"{', '.join(names[:-1])} or {names[-1]})", "label"))
        canon = self.canonical(record, fmt)
        return problems + self.record_problems(canon, fmt), canon

    # The pipeline's count of the training samples ``untrainable`` drops.
    untrainable_count: str = "dropped_untrainable"

    def untrainable(self, record: dict) -> bool:
        """Whether the trainer could learn nothing from this canonical record: the pipeline drops it before
        tokenization (from training and validation alike)."""
        return False

    # --- tokens, as the trainer will see them --------------------------------------------------------------

    def assistant_only(self, data) -> bool:
        """Whether the loss is masked to assistant tokens (TRL's assistant_only_loss)."""
        return False

    def bounded(self, spec) -> bool:
        """Whether an example longer than max_length needs counting no further than that (it is dropped, or only
        its first max_length tokens train): then a huge one is encoded from a bounded prefix."""
        return spec.over_length == "drop"

    def tokenize(self, records: list[dict], tok, *, assistant_only_loss: bool, max_length: int,
                 bounded: bool = False, checks=None) -> Tokenized:
        """Per-example token facts exactly as the method's TRL trainer computes them. ``bounded``: the caller needs no
        more than "longer than max_length" of a longer example, so a huge one is encoded from a bounded prefix.
        ``checks`` (``ftspec.data.text_checks.TextChecks``): the training text's problems go to ``problems``."""
        raise NotImplementedError

    def text_problems(self, records: list[dict], tok, *, checks, assistant_only_loss: bool,
                      max_length: int) -> list[tuple[int, str, str]]:
        """(example, rule code, message) of the training text's problems alone (lint's per-shape check)."""
        return self.tokenize(records, tok, assistant_only_loss=assistant_only_loss, max_length=max_length,
                             bounded=True, checks=checks).problems

    def token_lengths(self, records: list[dict], tok, *, max_length: int, bounded: bool = True) -> list[int]:
        """Each example's length as ``tokenize`` counts it, without its loss (lint's over-length verdicts)."""
        return self.tokenize(records, tok, assistant_only_loss=False, max_length=max_length, bounded=bounded).lengths

    def trainer_rows(self, data, tokens: Tokenized) -> tuple[list[int], int, int]:
        """What TRL's own preparation makes of these examples: (row lengths, loss-bearing tokens, examples it drops)."""
        L = data.max_length
        if data.packing:
            if self.packing_strategy == "wrapped":  # nothing is cut off: every token is trained on
                seqs = pack_lengths(tokens.lengths, L, "wrapped")
                return seqs, sum(seqs), 0
            return pack_lengths([min(n, L) for n in tokens.lengths], L, self.packing_strategy), sum(tokens.loss_tokens), 0
        first = tokens.first_loss if self.assistant_only(data) else None
        seqs = sft_kept_lengths(tokens.lengths, first, max_length=L)
        kept = [fl is not None and fl < min(n, L) for n, fl in zip(tokens.lengths, tokens.first_loss)]
        return seqs, sum(x for x, k in zip(tokens.loss_tokens, kept) if k), len(tokens.lengths) - len(seqs)

    def tokens_per_epoch(self, tokens: Tokenized, seqs: list[int], max_length: int) -> int:
        """Tokens the model processes per epoch, no padding."""
        return sum(seqs)

    def epoch_tokens(self, spec, tokens: Tokenized, seqs: list[int]) -> int:
        """The plan's train_tokens per epoch, as the trainer counts them."""
        return self.tokens_per_epoch(tokens, seqs, spec.data.max_length)

    def estimated_epoch_tokens(self, spec, estimates: list[int]) -> int:
        """``epoch_tokens`` from per-example estimates (no tokenizer on this machine)."""
        return sum(min(n, spec.data.max_length) for n in estimates) * self.sequences_per_example

    def compute_tokens(self, spec, total_tokens: int, rows: int) -> tuple[int, int]:
        """(tokens trained on, tokens generated) of ``total_tokens``, for FLOPs and time."""
        return total_tokens, 0

    def sequence_length(self, spec, row_length: int) -> int:
        """The length a training sequence reaches from a row of ``row_length`` tokens (GRPO: plus its completion)."""
        return row_length

    def generation_kv_tokens(self, spec, longest_prompt: int, world_size: int) -> int:
        """Tokens of KV cache one process holds while it generates (0: the method generates nothing)."""
        return 0

    def reference_model(self, spec) -> bool:
        """Whether the trainer loads a frozen second copy of the model (memory and forward passes)."""
        return False

    def length_limit(self, spec) -> int:
        """The tokens an example may have before it is over-length (GRPO: room left for the completion)."""
        return spec.data.max_length

    def optimizer_steps(self, rows: int, spec, world_size: int) -> int:
        """``trainer.state.global_step`` at the end, from the trainer's rows (transformers' formula)."""
        t = spec.training
        return optimizer_steps(rows, epochs=t.epochs, per_device_batch=t.batch_size,
                               grad_accum=t.gradient_accumulation, world_size=world_size)

    def reference_column(self, spec) -> str | None:
        """The holdout record's column holding the reference answer; None: the last assistant turn."""
        return None

    # --- lint's counts, without rendering every sample -------------------------------------------------------

    def count_parts(self, record: dict) -> tuple[tuple, list[list[str]]]:
        """(shape key, groups of texts) of a canonical record: its tokens are the first group's plus the largest
        other group's (``ftspec.lint.calibrated``)."""
        messages = record.get("messages") or []
        texts = [t for m in messages for t in content_parts(m)] + tools_text(record.get("tools"))
        return (self.name, conversation_shape(messages), bool(record.get("tools"))), [texts]

    def estimate_texts(self, record: dict) -> list[str]:
        """The texts a character-based token estimate counts (no tokenizer on this machine)."""
        return message_texts(record)

    # --- plan ------------------------------------------------------------------------------------------------

    def trainer_args(self, spec) -> dict[str, Any]:
        """The method's own TRL config arguments, added after the shared ones."""
        return {}

    def plan_notes(self, spec) -> list[str]:
        return []
