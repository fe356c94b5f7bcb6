"""The data pipeline shared by ``lint``, ``plan`` and ``apply``: read, convert, split, mix, tokenize, drop (no torch).

``plan`` runs it to count rows and tokens exactly; ``apply`` runs the same code and writes the resulting
records into the run folder, so the trainer sees exactly the rows the plan counted. Every random choice
(validation split, mix-in sampling, shuffle) is drawn from ``training.seed``.

It streams: each data file is read once into per-sample facts (``ftspec.pipeline.facts``: token counts, line,
stratum, errors), which the count cache keeps per file; the split, the mix draw, the shuffle and the drops are then
arithmetic on sample indices, and the records are read again only when asked for (``records=True``: what apply
writes), through the same conversion the facts came from.

How a method's records become rows and tokens is the method's (``ftspec.methods``); what TRL does afterwards
(truncation, dropping fully masked examples, packing) is counted by :mod:`ftspec.data.packing`, which replicates it.
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path
from typing import Any

from ftspec.data.tool_calls import with_text_arguments
from ftspec.data.errors import PipelineError
from ftspec.data.tokens import Tokenized
from ftspec.methods import get_method
from ftspec.methods.base import Method
from ftspec.pipeline import cache
from ftspec.pipeline.facts import TEMPLATE_RAISES_RULE, canonical_records, file_facts, with_system_prompt
from ftspec.pipeline.prepared import NotLoaded, PreparedData
from ftspec.pipeline.setup import Setup
from ftspec.pipeline.space import Space
from ftspec.pipeline.split import mix_counts, sample_mix, split_validation
from ftspec.pipeline.untokenized import from_estimates
from ftspec.tokenizer.chat import RenderError


def load_records(path: Path, fmt: str, method: Method, spec_path: tuple, *, keep_extra: tuple[str, ...] = (),
                 origins: dict | None = None) -> list[dict]:
    """All records of one dataset in canonical form (``canonical_records``, whole), each keeping its ``keep_extra``
    column (one at most); the first broken record is a located error. ``origins`` gets id(record) -> (file, line) of
    each, so a later stage can locate a record too."""
    keep = keep_extra[0] if keep_extra else None
    out: list[dict] = []
    for line, canon, value in canonical_records(path, fmt, method, spec_path, keep=keep):
        if keep is not None and value is not None:
            canon[keep] = value
        out.append(canon)
        if origins is not None:
            origins[id(canon)] = (str(path), line)
    return out


OVER_LENGTH_RULE = "FT125"  # ftspec/lint/rules/ft125_grpo_prompt_too_long.py reports the same in lint


def _carried(origins: dict, before: list[dict], after: list[dict]) -> list[dict]:
    """``after`` (records rebuilt one for one from ``before``), each keeping its record's origin."""
    for old, new in zip(before, after):
        if id(old) in origins:
            origins[id(new)] = origins[id(old)]
    return after


def _located(origins: dict, records: list[dict], exc: RenderError, spec_path: tuple) -> PipelineError:
    path, line = origins.get(id(records[exc.index]), (None, None))
    return PipelineError(f"the chat template raised on this record: {exc.message}", spec_path, path, line,
                         code=TEMPLATE_RAISES_RULE, hint="fix or remove the record, or use a data.chat_template that "
                         "renders it")


def _check_renders(records: list[dict], tok, origins: dict, spec_path: tuple) -> None:
    """Every holdout conversation renders with the template evaluation prompts with (rendered only: what fails is
    the template, and the tokenizer need not be read for it)."""
    chats = [r.get("messages") for r in records]
    if not all(isinstance(c, list) and c for c in chats):
        return
    for index, (chat, record) in enumerate(zip(chats, records)):
        try:
            tok.render_chat(chat, tools=record.get("tools"))
        except Exception as exc:  # noqa: BLE001 - the template's refusal, located like encode_chat_batch's
            raise _located(origins, records, RenderError(index, exc), spec_path) from None


def drop_over_length(records: list, tokens: Tokenized, max_length: int) -> tuple[list, Tokenized, int]:
    keep = [n <= max_length for n in tokens.lengths]
    return [r for r, k in zip(records, keep) if k], tokens.select(keep), keep.count(False)


def no_rows_cause(counts: dict, max_length: int) -> str:
    """Why no training row is left, from the pipeline's counts, in the user's terms."""
    n = counts.get("train_task", counts.get("train_file", 0))
    over = counts.get("dropped_over_length", 0)
    trainer = counts.get("dropped_by_trainer", 0)
    parts = []
    if counts.get("dropped_zero_weight"):
        parts.append(f"{counts['dropped_zero_weight']} of {n} samples weight every assistant turn 0")
    if over:
        parts.append(f"{over} of {n} samples are longer than data.max_length {max_length} tokens and over_length is "
                     "drop")
    if trainer:
        parts.append(f"{trainer} have no loss-bearing token within the first {max_length} tokens, so the trainer "
                     "drops them")
    return "no training rows are left: " + ("; ".join(parts) or f"{n} samples read")


TEXT_CHECK_HINT = ("use the model's own chat template (or one of its family) in data.chat_template, and raw text without "
                   "special tokens for CPT")


def prepare(loaded, tok=None, *, render_date: datetime.date | str | None = None, records: bool = True,
            use_cache: bool = True) -> PreparedData:
    """Run the pipeline for a loaded spec. ``tok``: a ChatTokenizer (loaded from the model when None);
    ``render_date``: the day a calendar-reading chat template renders (a plan's; today when None); ``records``: read
    the rows themselves too (apply writes them); without, the PreparedData's train/validation/holdout hold only their
    number of rows (``NotLoaded``) and memory stays bounded whatever the data's size; ``use_cache``: read and write
    the count cache (``ftspec.pipeline.cache``; ``--no-cache`` turns it off for the whole process)."""
    spec = loaded.spec
    d, method, seed = spec.data, get_method(spec.method), spec.training.seed
    stratify = d.stratify_by if isinstance(d.validation, float) else None
    setup = Setup(loaded, method, tok, render_date)
    how = setup.how
    common = {"system_prompt": d.system_prompt, "text_arguments": setup.text_arguments, "use_cache": use_cache}

    train_path = loaded.resolve(d.train)
    train_facts = file_facts(train_path, d.format, ("data", "train"), how, keep=stratify, with_checks=True, **common)
    sources = [(train_path, d.format, ("data", "train"))]
    parts = [train_facts]
    counts: dict[str, Any] = {"train_file": train_facts[0].n}
    train_idx = list(range(train_facts[0].n))
    val_space: Space | None = None
    val_idx: list[int] = []
    if isinstance(d.validation, str):
        val_path = loaded.resolve(d.validation)
        val_space = Space([file_facts(val_path, d.format, ("data", "validation"), how, **common)])
        val_sources = [(val_path, d.format, ("data", "validation"))]
        val_idx = list(range(val_space.n))
    elif d.validation:
        f = train_facts[0]
        strata = [f.stratum_values[c] for c in f.strata] if stratify else None
        try:
            train_idx, val_idx = split_validation(train_idx, d.validation, seed, strata)
        except ValueError as exc:
            raise PipelineError(str(exc), ("data", "validation")) from None
        del strata
    counts["validation"] = len(val_idx)
    counts["train_task"] = len(train_idx)
    if d.mix:
        try:
            wanted = mix_counts(len(train_idx), [m.ratio for m in d.mix])
        except ValueError as exc:
            raise PipelineError(str(exc), ("data", "mix")) from None
        counts["mix"] = {}
        offset = train_facts[0].n
        for i, (m, n) in enumerate(zip(d.mix, wanted)):
            path = loaded.resolve(m.path)
            facts = file_facts(path, m.format, ("data", "mix", i, "path"), how, with_checks=True, **common)
            sources.append((path, m.format, ("data", "mix", i, "path")))
            parts.append(facts)
            drawn = sample_mix(range(offset, offset + facts[0].n), n, random.Random(f"{seed}:mix:{i}"))
            counts["mix"][m.path] = len(drawn)
            train_idx = train_idx + drawn
            offset += facts[0].n
        # Spread the mixed-in rows through the file: TRL packs per 1000-row chunk in file order.
        random.Random(f"{seed}:shuffle").shuffle(train_idx)
    space = Space(parts)
    if isinstance(d.validation, float):
        val_space = space
        val_sources = sources[:1]
    flags = space.facts.untrainable
    kept = [g for g in train_idx if not flags[g]]
    if len(kept) < len(train_idx):
        counts[method.untrainable_count] = len(train_idx) - len(kept)
    train_idx = kept
    if val_space is not None:
        val_flags = val_space.facts.untrainable
        val_idx = [g for g in val_idx if not val_flags[g]]
    origins: dict = {}
    holdout: list[dict] = []
    if spec.eval.holdout:
        holdout = load_records(loaded.resolve(spec.eval.holdout), "auto", get_method(method.holdout_method),
                               ("eval", "holdout"), keep_extra=("scenario",), origins=origins)
        if d.system_prompt:
            holdout = _carried(origins, holdout, [with_system_prompt(r, d.system_prompt) for r in holdout])
    counts["holdout"] = len(holdout)
    if setup.error is not None:
        raise setup.error
    cache.save_memo()

    def read(sources_list):
        def reader(part: int):
            path, fmt, at = sources_list[part]
            return canonical_records(path, fmt, method, at, keep=stratify if part == 0 else None,
                                     system_prompt=d.system_prompt, text_arguments=setup.text_arguments)
        return reader

    def rows(space_: Space, order: list[int], sources_list) -> list[dict] | NotLoaded:
        return space_.records(order, read(sources_list)) if records else NotLoaded(len(order))

    if how.tok is None:
        counts["train"] = len(train_idx)
        f = space.facts
        return from_estimates(spec, method, [f.upper[g] for g in train_idx], [f.estimate[g] for g in train_idx],
                              counts, rows(space, train_idx, sources),
                              rows(val_space, val_idx, val_sources) if val_idx else [], holdout)

    tok, prompting = setup.tok, setup.prompting
    if setup.text_arguments:
        holdout = _carried(origins, holdout, [with_text_arguments(r) for r in holdout])
    if holdout and prompting.chat_template is not None:
        _check_renders(holdout, prompting, origins, ("eval", "holdout"))
    L = d.max_length
    f = space.facts
    space.raise_first_error(train_idx, ("data", "train"))
    if f.problems:
        first, total = None, 0
        for g in train_idx:
            found = f.problems.get(g)
            if found:
                total += len(found)
                first = first if first is not None else (g, found[0])
        if first is not None:
            g, (code, m) = first
            path, line = space.locate(g)
            more = f" ({total} training samples in all)" if total > 1 else ""
            raise PipelineError(f"{f.messages[m]}{more}", ("data", "train"), path, line, code=code,
                                hint=TEXT_CHECK_HINT)
    tokens = f.tokenized(train_idx)
    limit = method.length_limit(spec)
    counts["over_max_length"] = sum(n > limit for n in tokens.lengths)
    if method.keeps_every_example and counts["over_max_length"]:
        index = next(i for i, n in enumerate(tokens.lengths) if n > limit)
        path, line = space.locate(train_idx[index])
        raise PipelineError(f"{counts['over_max_length']} prompt(s) leave less than {method.name}'s completion room "
                            f"within data.max_length {L}: the first has {tokens.lengths[index]} tokens, over {limit}",
                            ("data", "max_length"), path, line, code=OVER_LENGTH_RULE,
                            hint="raise data.max_length, lower the completion length, or shorten the prompts")
    if spec.over_length == "drop" and counts["over_max_length"]:
        train_idx, tokens, counts["dropped_over_length"] = drop_over_length(train_idx, tokens, L)
    else:
        counts["truncated"] = counts["over_max_length"]
    counts["train"] = len(train_idx)
    if val_idx:
        val_space.raise_first_error(val_idx, ("data", "validation"))
        vtokens = val_space.facts.tokenized(val_idx)
        if spec.over_length == "drop":
            val_idx, vtokens, dropped = drop_over_length(val_idx, vtokens, L)
            if dropped:
                counts["validation_dropped_over_length"] = dropped
        # 0 means the trainer would evaluate on nothing: no validation loss at all.
        counts["validation_rows"] = len(method.trainer_rows(d, vtokens)[0])

    # What the trainer does next, replicated: rows, tokens per epoch, sequence lengths.
    seqs, loss, counts["dropped_by_trainer"] = method.trainer_rows(d, tokens)
    if d.packing and method.packing_strategy == "wrapped":
        counts.pop("truncated", None)  # wrapped packing cuts long texts into rows; nothing is lost
    n_rows = len(seqs)
    per_epoch = method.epoch_tokens(spec, tokens, seqs)
    attention = (sum(s * s for s in seqs) / sum(seqs)) if seqs else None
    longest = max(seqs) if seqs else None
    del seqs
    return PreparedData(method.name, rows(space, train_idx, sources),
                        rows(val_space, val_idx, val_sources) if val_idx else [], holdout, counts, tokens, n_rows,
                        per_epoch, loss, longest, attention, render_date=setup.day, training_template=setup.derived)
