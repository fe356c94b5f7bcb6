"""Message weights in training: conversations with an assistant turn weighted 0 are tokenized here, exactly as
SFTTrainer's own ``tokenize_fn`` does (trl 1.16: its training template, the row's tools, the assistant mask),
then the turn's span is taken out of the mask (:mod:`ftspec.data.turn_weights`, which the plan also applies).
SFTTrainer takes rows that carry ``input_ids`` as already tokenized: it builds labels from ``assistant_masks``,
truncates and drops fully masked rows as it does for its own.
"""

from __future__ import annotations

import json

from ftspec.data.turn_weights import TurnWeightError, apply_turn_weights, has_zero_weight
from ftspec.train.job import JobError


def has_weighted_turns(dataset) -> bool:
    return dataset is not None and "messages" in dataset.column_names and any(
        has_zero_weight(m) for m in dataset["messages"])


def training_template(tokenizer, assistant_only_loss: bool) -> str | None:
    """The template SFTTrainer tokenizes with (it swaps in TRL's training template when the model's has no
    {% generation %} markers); None: the tokenizer's own."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if assistant_only_loss and not has_generation_markers(tokenizer.chat_template):
        return get_training_chat_template(tokenizer)
    return None


def tokenize_weighted(dataset, tokenizer, chat_template: str | None):
    """The dataset with input_ids and assistant_masks added, weight-0 turns out of the mask. The messages stay:
    SFTTrainer checks that an assistant-only dataset is conversational."""
    from trl.data_utils import _tokenize


    def tokenize(example, index):
        tools = example.get("tools")
        tools = json.loads(tools) if isinstance(tools, str) else tools
        out = _tokenize(tokenizer, example["messages"], return_assistant_tokens_mask=True, chat_template=chat_template,
                        tools=tools)
        try:
            mask = apply_turn_weights(list(out["assistant_masks"]), example["messages"])
        except TurnWeightError as exc:
            raise JobError(f"training row {index + 1}: {exc}") from None
        return {"input_ids": list(out["input_ids"]), "assistant_masks": mask}

    return dataset.map(tokenize, with_indices=True)


def weighted_datasets(train, validation, tokenizer, args):
    """(train, validation), tokenized here where a turn is weighted 0; the others as they were."""
    if not (has_weighted_turns(train) or has_weighted_turns(validation)):
        return train, validation

    if not args.assistant_only_loss:
        raise JobError("message weights need assistant_only_loss")
    template = training_template(tokenizer, True)
    train = tokenize_weighted(train, tokenizer, template)
    if validation is not None:
        validation = tokenize_weighted(validation, tokenizer, template)
    return train, validation
