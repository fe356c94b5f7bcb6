"""The data pipeline shared by ``lint``, ``plan`` and ``apply``: read, convert, split, mix, tokenize, drop (no torch).

``plan`` runs it to count rows and tokens exactly; ``apply`` runs the same code and writes the resulting
records into the run folder, so the trainer sees exactly the rows the plan counted. Every random choice
(validation split, mix-in sampling, shuffle) is drawn from ``training.seed``.

How a method's records become rows and tokens is the method's (``ftspec.methods``); what TRL does afterwards
(truncation, dropping fully masked examples, packing) is counted by :mod:`ftspec.data.packing`, which replicates it.
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path
from typing import Any

from ftspec.data.chat_template import read_chat_template, training_tokenizer
from ftspec.data.text_checks import text_checks
from ftspec.data.tool_calls import arguments_as_text, has_tool_calls, with_text_arguments
from ftspec.data.training_template import is_derived
from ftspec.data.errors import PipelineError
from ftspec.data.reader import DataReadError, read_records
from ftspec.data.formats import detect_format
from ftspec.data.tokens import Tokenized
from ftspec.methods import get_method
from ftspec.methods.base import Method
from ftspec.pipeline.prepared import PreparedData
from ftspec.pipeline.split import mix_counts, sample_mix, split_validation
from ftspec.pipeline.untokenized import without_tokenizer
from ftspec.tokenizer.chat import RenderError


def load_records(path: Path, fmt: str, method: Method, spec_path: tuple, *, keep_extra: tuple[str, ...] = (),
                 origins: dict | None = None) -> list[dict]:
    """All records of one dataset in canonical form; the first broken record is a located error. ``origins`` gets
    id(record) -> (file, line) of each, so a later stage can locate a record too."""
    try:
        items = list(read_records(path))
    except DataReadError as exc:
        raise PipelineError(str(exc), spec_path) from None
    out: list[dict] = []
    detected = None if fmt == "auto" else fmt
    for item in items:
        if item.error:
            raise PipelineError(item.error, spec_path, str(path), item.line)
        rfmt = detected or detect_format(item.record)
        problems, canon = method.convert(item.record, rfmt)
        hard = [p for p in problems if not p[1].endswith(".reasoning")]
        if hard:
            raise PipelineError(f"{hard[0][0]} (run 'ftspec lint' for every problem)", spec_path, str(path), item.line)
        detected = detected or rfmt
        for key in keep_extra:
            if isinstance(item.record, dict) and key in item.record:
                canon[key] = item.record[key]
        out.append(canon)
        if origins is not None:
            origins[id(canon)] = (str(path), item.line)
    if not out:
        raise PipelineError(f"{path}: no records", spec_path, str(path))
    return out


OVER_LENGTH_RULE = "FT125"  # ftspec/lint/rules/ft125_grpo_prompt_too_long.py reports the same in lint
TEMPLATE_RAISES_RULE = "FT314"  # ftspec/lint/rules/ft314_template_raises.py reports the same in lint


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


def _tokenize(method: Method, records: list[dict], tok, origins: dict, spec_path: tuple, **kwargs):
    try:
        return method.tokenize(records, tok, **kwargs)
    except RenderError as exc:
        raise _located(origins, records, exc, spec_path) from None


def _check_renders(records: list[dict], tok, origins: dict, spec_path: tuple) -> None:
    """Every holdout conversation renders with the template evaluation prompts with."""
    chats = [r.get("messages") for r in records]
    if not all(isinstance(c, list) and c for c in chats):
        return
    try:
        tok.encode_chat_batch(chats, tools=[r.get("tools") for r in records])
    except RenderError as exc:
        raise _located(origins, records, exc, spec_path) from None


def _with_system_prompt(record: dict, system_prompt: str | None) -> dict:
    if not system_prompt:
        return record
    for key in ("messages", "prompt"):
        msgs = record.get(key)
        if isinstance(msgs, list) and not (msgs and msgs[0].get("role") == "system"):
            return {**record, key: [{"role": "system", "content": system_prompt}, *msgs]}
    return record


def drop_over_length(records: list[dict], tokens: Tokenized, max_length: int) -> tuple[list[dict], Tokenized, int]:
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


def _model_dir(loaded):
    from ftspec.models.resolve import resolve_spec_model

    spec = loaded.spec
    ref = resolve_spec_model(spec, loaded.dir, loaded.path)
    return ref.local_dir


def load_tokenizer(loaded):
    """The model's tokenizer from local files, or None (hub model not in the cache)."""
    from ftspec.models.resolve import resolve_spec_model
    from ftspec.tokenizer.chat import ChatTokenizer

    spec = loaded.spec
    return ChatTokenizer.from_model(resolve_spec_model(spec, loaded.dir, loaded.path))


def prepare(loaded, tok=None, *, render_date: datetime.date | str | None = None) -> PreparedData:
    """Run the pipeline for a loaded spec. ``tok``: a ChatTokenizer (loaded from the model when None);
    ``render_date``: the day a calendar-reading chat template renders (a plan's; today when None)."""
    spec = loaded.spec
    d, method, seed = spec.data, get_method(spec.method), spec.training.seed
    stratify = d.stratify_by if isinstance(d.validation, float) else None
    origins: dict = {}
    train = load_records(loaded.resolve(d.train), d.format, method, ("data", "train"),
                         keep_extra=(stratify,) if stratify else (), origins=origins)
    counts: dict[str, Any] = {"train_file": len(train)}
    if isinstance(d.validation, str):
        validation = load_records(loaded.resolve(d.validation), d.format, method, ("data", "validation"),
                                  origins=origins)
    elif d.validation:
        # The stratum travels with the record only as far as the split: the trainer's rows never see it.
        strata = [str(r.pop(stratify, None)) for r in train] if stratify else None
        try:
            train, validation = split_validation(train, d.validation, seed, strata)
        except ValueError as exc:
            raise PipelineError(str(exc), ("data", "validation")) from None
    else:
        validation = []
    counts["validation"] = len(validation)
    counts["train_task"] = len(train)
    if d.mix:
        try:
            wanted = mix_counts(len(train), [m.ratio for m in d.mix])
        except ValueError as exc:
            raise PipelineError(str(exc), ("data", "mix")) from None
        counts["mix"] = {}
        for i, (m, n) in enumerate(zip(d.mix, wanted)):
            source = load_records(loaded.resolve(m.path), m.format, method, ("data", "mix", i, "path"),
                                  origins=origins)
            drawn = sample_mix(source, n, random.Random(f"{seed}:mix:{i}"))
            counts["mix"][m.path] = len(drawn)
            train = train + drawn
        # Spread the mixed-in rows through the file: TRL packs per 1000-row chunk in file order.
        random.Random(f"{seed}:shuffle").shuffle(train)
    if d.system_prompt:
        train = _carried(origins, train, [_with_system_prompt(r, d.system_prompt) for r in train])
        validation = _carried(origins, validation, [_with_system_prompt(r, d.system_prompt) for r in validation])
    train, validation = method.drop_untrainable(train, validation, counts)
    holdout: list[dict] = []
    if spec.eval.holdout:
        holdout = load_records(loaded.resolve(spec.eval.holdout), "auto", get_method(method.holdout_method),
                               ("eval", "holdout"), keep_extra=("scenario",), origins=origins)
        if d.system_prompt:
            holdout = _carried(origins, holdout, [_with_system_prompt(r, d.system_prompt) for r in holdout])
    counts["holdout"] = len(holdout)

    if tok is None:
        tok = load_tokenizer(loaded)
    if tok is None:
        counts["train"] = len(train)
        return without_tokenizer(spec, method, train, validation, holdout, counts)

    user_template = read_chat_template(loaded)
    original = tok
    prompting = tok if user_template is None else tok.with_template(user_template)  # what evaluation prompts with
    tok = training_tokenizer(tok, chat=not method.plain_text, assistant_only_loss=method.assistant_only(d),
                             user_template=user_template)
    day = None
    if tok.reads_the_calendar:
        day = datetime.date.fromisoformat(render_date) if isinstance(render_date, str) else (render_date or
                                                                                             datetime.date.today())
        tok, prompting = tok.with_render_date(day), prompting.with_render_date(day)
    derived = tok.chat_template if is_derived(tok.chat_template) else None
    if not method.plain_text and any(has_tool_calls(r) for r in train + validation + holdout) \
            and arguments_as_text(tok):
        train, validation, holdout = (_carried(origins, part, [with_text_arguments(r) for r in part])
                                      for part in (train, validation, holdout))
    if holdout and prompting.chat_template is not None:
        _check_renders(holdout, prompting, origins, ("eval", "holdout"))
    L = d.max_length
    # Dropped examples, and plain text cut to max_length without packing, need no more than max_length + 1 tokens.
    bounded = method.bounded(spec)
    assistant_only = method.assistant_only(d)
    checks = text_checks(original, tok, _model_dir(loaded))
    tokens = _tokenize(method, train, tok, origins, ("data", "train"), assistant_only_loss=assistant_only,
                       max_length=L, bounded=bounded, checks=checks)
    if tokens.problems:
        index, code, message = tokens.problems[0]
        path, line = origins.get(id(train[index]), (None, None))
        more = f" ({len(tokens.problems)} training samples in all)" if len(tokens.problems) > 1 else ""
        raise PipelineError(f"{message}{more}", ("data", "train"), path, line, code=code, hint=TEXT_CHECK_HINT)
    limit = method.length_limit(spec)
    counts["over_max_length"] = sum(n > limit for n in tokens.lengths)
    if method.keeps_every_example and counts["over_max_length"]:
        index = next(i for i, n in enumerate(tokens.lengths) if n > limit)
        path, line = origins.get(id(train[index]), (None, None))
        raise PipelineError(f"{counts['over_max_length']} prompt(s) leave less than {method.name}'s completion room "
                            f"within data.max_length {L}: the first has {tokens.lengths[index]} tokens, over {limit}",
                            ("data", "max_length"), path, line, code=OVER_LENGTH_RULE,
                            hint="raise data.max_length, lower the completion length, or shorten the prompts")
    if spec.over_length == "drop" and counts["over_max_length"]:
        train, tokens, counts["dropped_over_length"] = drop_over_length(train, tokens, L)
    else:
        counts["truncated"] = counts["over_max_length"]
    counts["train"] = len(train)
    if validation:
        vtokens = _tokenize(method, validation, tok, origins, ("data", "validation"),
                            assistant_only_loss=assistant_only, max_length=L, bounded=bounded)
        if spec.over_length == "drop":
            validation, vtokens, dropped = drop_over_length(validation, vtokens, L)
            if dropped:
                counts["validation_dropped_over_length"] = dropped
        # 0 means the trainer would evaluate on nothing: no validation loss at all.
        counts["validation_rows"] = len(method.trainer_rows(d, vtokens)[0])

    # What the trainer does next, replicated: rows, tokens per epoch, sequence lengths.
    seqs, loss, counts["dropped_by_trainer"] = method.trainer_rows(d, tokens)
    if d.packing and method.packing_strategy == "wrapped":
        counts.pop("truncated", None)  # wrapped packing cuts long texts into rows; nothing is lost
    rows = len(seqs)
    per_epoch = method.epoch_tokens(spec, tokens, seqs)
    attention = (sum(s * s for s in seqs) / sum(seqs)) if seqs else None
    return PreparedData(method.name, train, validation, holdout, counts, tokens, rows, per_epoch, loss,
                        max(seqs) if seqs else None, attention,
                        render_date=day, training_template=derived)
