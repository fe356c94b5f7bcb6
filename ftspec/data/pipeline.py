"""The data pipeline shared by ``plan`` and ``apply``: read, convert, split, mix, tokenize, drop (no torch).

``plan`` runs it to count rows and tokens exactly; ``apply`` runs the same code and writes the resulting
records into the run folder, so the trainer sees exactly the rows the plan counted. Every random choice
(validation split, mix-in sampling, shuffle) is drawn from ``training.seed``.

What TRL does afterwards (truncation, dropping fully masked examples, packing) is not done here but
counted by :mod:`ftspec.data.packing`, which replicates it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftspec.data.packing import pack_lengths, sft_kept_lengths
from ftspec.data.formats import detect_format, to_canonical, validate_record
from ftspec.data.reader import DataReadError, read_records
from ftspec.data.turn_weights import TurnWeightError, all_turns_zero, apply_turn_weights, has_zero_weight
from ftspec.data.errors import PipelineError
from ftspec.data.chat_template import (  # noqa: F401  (re-exported: plan, lint, apply and tests import them from here)
    TEMPLATE_RULE, WAYS_OUT, TemplateError, has_generation_markers, read_chat_template, training_tokenizer,
    trl_training_templates)

WEIGHT_RULE = "FT603"  # ftspec/lint/rules/ft603_message_weights.py


def packing_strategy(method: str) -> str:
    """TRL's bfd (best-fit, keeps sample boundaries) for chat data; for plain-text CPT, wrapped: documents
    are concatenated and cut every max_length tokens, so long documents are not truncated away."""
    return "wrapped" if method == "cpt" else "bfd"


@dataclass
class Tokenized:
    """Per-example token facts, in the order the trainer receives the rows."""

    lengths: list[int] = field(default_factory=list)  # full length (DPO: prompt + longer completion)
    first_loss: list[int | None] = field(default_factory=list)  # first token with a label; None: none
    loss_tokens: list[int] = field(default_factory=list)  # tokens with a label, after truncation
    prompt_lengths: list[int] = field(default_factory=list)  # DPO only
    pair_lengths: list[tuple[int, int]] = field(default_factory=list)  # DPO only: (prompt+chosen, prompt+rejected)

    def pair_tokens(self, max_length: int) -> list[int]:
        """DPO: tokens each pair puts through the model (chosen and rejected, each cut at max_length)."""
        return [min(c, max_length) + min(r, max_length) for c, r in self.pair_lengths]


@dataclass
class PreparedData:
    method: str
    train: list[dict]
    validation: list[dict]
    holdout: list[dict]
    counts: dict[str, Any]
    tokens: Tokenized | None  # None when the model's tokenizer is not on this machine
    rows: int | None  # rows of the trainer's prepared train dataset (after TRL drops / packing)
    tokens_per_epoch: int | None  # tokens the model processes per epoch (no padding)
    loss_tokens_per_epoch: int | None
    max_seq_len: int | None  # longest row the trainer will see
    attention_seq_len: float | None  # sum(s^2)/sum(s): the mean length attention spans
    tokens_estimated: bool = False  # no local tokenizer: token figures are estimates


def load_records(path: Path, fmt: str, method: str, spec_path: tuple, *, keep_extra: tuple[str, ...] = ()) -> list[dict]:
    """All records of one dataset in canonical form; the first broken record is a located error."""
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
        problems = validate_record(item.record, rfmt, method)
        hard = [p for p in problems if not p[1].endswith(".reasoning")]
        if hard:
            raise PipelineError(f"{hard[0][0]} (run 'ftspec lint' for every problem)", spec_path, str(path), item.line)
        detected = detected or rfmt
        canon = to_canonical(item.record, rfmt, method)
        for key in keep_extra:
            if isinstance(item.record, dict) and key in item.record:
                canon[key] = item.record[key]
        out.append(canon)
    if not out:
        raise PipelineError(f"{path}: no records", spec_path, str(path))
    return out


def split_validation(records: list[dict], fraction: float, seed: int, strata: list | None = None,
                     ) -> tuple[list[dict], list[dict]]:
    """Seeded split; both parts keep the file's order. ``strata`` (one value per record, ``data.stratify_by``):
    each value gets its share of the validation set (largest remainders), drawn in the same seeded order."""
    if fraction <= 0:
        return records, []
    n_val = max(1, round(fraction * len(records)))
    if n_val >= len(records):
        raise ValueError(f"validation fraction {fraction} leaves no training records out of {len(records)}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    if strata is None:
        chosen = set(order[:n_val])
    else:
        chosen = _stratified_pick(order, strata, n_val)
    return ([r for i, r in enumerate(records) if i not in chosen], [r for i, r in enumerate(records) if i in chosen])


def _stratified_pick(order: list[int], strata: list, n_val: int) -> set[int]:
    sizes: dict = {}
    for value in strata:
        sizes[value] = sizes.get(value, 0) + 1
    total = len(strata)
    exact = {v: n_val * n / total for v, n in sizes.items()}
    quota = {v: int(x) for v, x in exact.items()}
    # Largest remainders first; ties by first appearance in the seeded order, so the split stays deterministic.
    first_seen = {}
    for i in order:
        first_seen.setdefault(strata[i], len(first_seen))
    for v in sorted(exact, key=lambda v: (-(exact[v] - quota[v]), first_seen[v]))[: n_val - sum(quota.values())]:
        quota[v] += 1
    chosen = set()
    for i in order:
        if quota[strata[i]] > 0:
            quota[strata[i]] -= 1
            chosen.add(i)
    return chosen


def mix_counts(n_train: int, ratios: list[float]) -> list[int]:
    """Records to draw from each mix source so each makes up its ratio of the mixed total."""
    rest = 1.0 - sum(ratios)
    if rest <= 0:
        raise ValueError("mix ratios add up to 1 or more: no room left for the task data")
    return [round(n_train * r / rest) for r in ratios]


def sample_mix(records: list[dict], n: int, rng: random.Random) -> list[dict]:
    """n records without replacement; whole passes over the source first when it is too small."""
    out: list[dict] = []
    while n - len(out) >= len(records):
        out += rng.sample(records, len(records))
    return out + rng.sample(records, n - len(out))


def _with_system_prompt(record: dict, system_prompt: str | None) -> dict:
    if not system_prompt:
        return record
    for key in ("messages", "prompt"):
        msgs = record.get(key)
        if isinstance(msgs, list) and not (msgs and msgs[0].get("role") == "system"):
            return {**record, key: [{"role": "system", "content": system_prompt}, *msgs]}
    return record


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def tokenize(records: list[dict], method: str, tok, *, assistant_only_loss: bool, max_length: int,
             bounded: bool = False) -> Tokenized:
    """Token lengths and label positions exactly as TRL 1.16 computes them (tokenizer via ftspec.tokenizer.chat).
    ``bounded``: the caller needs no more than "longer than max_length" of a longer example (it drops it, or
    keeps only its first max_length tokens of plain text), so a huge one is encoded from a bounded prefix."""
    t = Tokenized()
    at = max_length if bounded else None
    if method == "cpt":
        eos = tok.eos_token or ""
        texts = [r["text"] if r["text"].endswith(eos) else r["text"] + eos for r in records]
        if bounded:
            texts = [tok.bounded(text, max_length) for text in texts]
        for enc in tok.tokenizer.encode_batch(texts, add_special_tokens=True):
            n = len(enc.ids)
            t.lengths.append(n)
            t.first_loss.append(0)
            t.loss_tokens.append(min(n, max_length))
        return t
    if method == "dpo":
        for r in records:
            tools = r.get("tools")
            prompt, _ = tok.encode_chat(r["prompt"], add_generation_prompt=True, tools=tools, over_length_at=at)
            chosen, _ = tok.encode_chat(r["prompt"] + r["chosen"], tools=tools, over_length_at=at)
            rejected, _ = tok.encode_chat(r["prompt"] + r["rejected"], tools=tools, over_length_at=at)
            plen = min(_common_prefix(prompt, chosen), _common_prefix(prompt, rejected))
            longest = max(len(chosen), len(rejected))
            t.lengths.append(longest)
            t.pair_lengths.append((len(chosen), len(rejected)))
            t.prompt_lengths.append(plen)
            t.first_loss.append(plen if plen < max_length else None)
            t.loss_tokens.append(max(0, min(len(chosen), max_length) - plen) + max(0, min(len(rejected), max_length) - plen))
        return t
    encoded = tok.encode_chat_batch([r["messages"] for r in records], tools=[r.get("tools") for r in records],
                                    over_length_at=at)
    for index, (ids, mask) in enumerate(encoded):
        n = len(ids)
        t.lengths.append(n)
        weighted = has_zero_weight(records[index]["messages"])
        if weighted and not assistant_only_loss:
            raise PipelineError(f"training sample {index + 1} weights an assistant turn 0, which needs the assistant mask",
                                ("data", "assistant_only_loss"), code=WEIGHT_RULE,
                                hint="set data.assistant_only_loss: true, or remove the weights")
        if assistant_only_loss:
            if at is not None and n > at:  # a bounded prefix of a sample the caller drops
                if 1 not in mask:
                    t.first_loss.append(None)
                    t.loss_tokens.append(0)
                    continue
            elif weighted:
                try:
                    mask = apply_turn_weights(mask, records[index]["messages"])
                except TurnWeightError as exc:
                    raise PipelineError(f"training sample {index + 1}: {exc}", ("data", "train"), code=WEIGHT_RULE,
                                        hint="remove the weights, or use a chat template with one {% generation %} "
                                             "block per assistant turn") from None
            if 1 not in mask:  # SFTTrainer raises on such a sample ("at least one example has no assistant tokens")
                raise TemplateError(f"the chat template marks no assistant token in training sample {index + 1}: "
                                    "SFTTrainer stops on it", ("data", "assistant_only_loss"), hint=WAYS_OUT)
            t.first_loss.append(mask.index(1))
            t.loss_tokens.append(sum(mask[:max_length]))
        else:
            t.first_loss.append(0)
            t.loss_tokens.append(min(n, max_length))
    return t


def _select(tok: Tokenized, keep: list[bool]) -> Tokenized:
    pick = lambda xs: [x for x, k in zip(xs, keep) if k]  # noqa: E731
    return Tokenized(pick(tok.lengths), pick(tok.first_loss), pick(tok.loss_tokens), pick(tok.prompt_lengths),
                     pick(tok.pair_lengths))


def _drop_over_length(records: list[dict], tokens: Tokenized, max_length: int) -> tuple[list[dict], Tokenized, int]:
    keep = [n <= max_length for n in tokens.lengths]
    return [r for r, k in zip(records, keep) if k], _select(tokens, keep), keep.count(False)


def _trainer_rows(method: str, d, tokens: Tokenized) -> tuple[list[int], int, int]:
    """What TRL's own preparation makes of these examples: (row lengths, loss-bearing tokens, examples it drops)."""
    L = d.max_length
    if method == "dpo":  # DPOTrainer drops examples whose prompt alone reaches max_length
        kept = [fl is not None for fl in tokens.first_loss]
        seqs = [min(n, L) for n, k in zip(tokens.lengths, kept) if k]
        return seqs, sum(x for x, k in zip(tokens.loss_tokens, kept) if k), kept.count(False)
    if d.packing:
        strategy = packing_strategy(method)
        if strategy == "wrapped":  # nothing is cut off: every token is trained on
            seqs = pack_lengths(tokens.lengths, L, strategy)
            return seqs, sum(seqs), 0
        return pack_lengths([min(n, L) for n in tokens.lengths], L, strategy), sum(tokens.loss_tokens), 0
    first = tokens.first_loss if method == "sft" and d.assistant_only_loss else None
    seqs = sft_kept_lengths(tokens.lengths, first, max_length=L)
    kept = [fl is not None and fl < min(n, L) for n, fl in zip(tokens.lengths, tokens.first_loss)]
    return seqs, sum(x for x, k in zip(tokens.loss_tokens, kept) if k), len(tokens.lengths) - len(seqs)


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


def load_tokenizer(loaded):
    """The model's tokenizer from local files, or None (hub model not in the cache)."""
    from ftspec.models.resolve import resolve_model
    from ftspec.tokenizer.chat import ChatTokenizer

    spec = loaded.spec
    return ChatTokenizer.from_model(resolve_model(spec.model.base, spec.model.revision, spec_dir=loaded.dir))


def prepare(loaded, tok=None) -> PreparedData:
    """Run the pipeline for a loaded spec. ``tok``: a ChatTokenizer (loaded from the model when None)."""
    spec = loaded.spec
    d, method, seed = spec.data, spec.method, spec.training.seed
    stratify = d.stratify_by if isinstance(d.validation, float) else None
    train = load_records(loaded.resolve(d.train), d.format, method, ("data", "train"),
                         keep_extra=(stratify,) if stratify else ())
    counts: dict[str, Any] = {"train_file": len(train)}
    if isinstance(d.validation, str):
        validation = load_records(loaded.resolve(d.validation), d.format, method, ("data", "validation"))
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
            source = load_records(loaded.resolve(m.path), m.format, method, ("data", "mix", i, "path"))
            drawn = sample_mix(source, n, random.Random(f"{seed}:mix:{i}"))
            counts["mix"][m.path] = len(drawn)
            train = train + drawn
        # Spread the mixed-in rows through the file: TRL packs per 1000-row chunk in file order.
        random.Random(f"{seed}:shuffle").shuffle(train)
    if d.system_prompt:
        train = [_with_system_prompt(r, d.system_prompt) for r in train]
        validation = [_with_system_prompt(r, d.system_prompt) for r in validation]
    if method == "sft":  # every assistant turn weighted 0: nothing to learn from the sample
        kept = [r for r in train if not all_turns_zero(r.get("messages"))]
        if len(kept) < len(train):
            counts["dropped_zero_weight"] = len(train) - len(kept)
        train = kept
        validation = [r for r in validation if not all_turns_zero(r.get("messages"))]
    holdout: list[dict] = []
    if spec.eval.holdout:
        holdout = load_records(loaded.resolve(spec.eval.holdout), "auto", "sft" if method == "cpt" else method,
                               ("eval", "holdout"), keep_extra=("scenario",))
        if d.system_prompt:
            holdout = [_with_system_prompt(r, d.system_prompt) for r in holdout]
    counts["holdout"] = len(holdout)

    if tok is None:
        tok = load_tokenizer(loaded)
    if tok is None:
        counts["train"] = len(train)
        from ftspec.data.untokenized import without_tokenizer

        return without_tokenizer(spec, method, train, validation, holdout, counts)

    tok = training_tokenizer(tok, method, d.assistant_only_loss, read_chat_template(loaded))
    L = d.max_length
    # Dropped examples, and plain text cut to max_length without packing, need no more than max_length + 1 tokens.
    bounded = spec.over_length == "drop" or (method == "cpt" and not d.packing)
    tokens = tokenize(train, method, tok, assistant_only_loss=d.assistant_only_loss, max_length=L, bounded=bounded)
    counts["over_max_length"] = sum(n > L for n in tokens.lengths)
    if spec.over_length == "drop" and counts["over_max_length"]:
        train, tokens, counts["dropped_over_length"] = _drop_over_length(train, tokens, L)
    else:
        counts["truncated"] = counts["over_max_length"]
    counts["train"] = len(train)
    if validation:
        vtokens = tokenize(validation, method, tok, assistant_only_loss=d.assistant_only_loss, max_length=L,
                           bounded=bounded)
        if spec.over_length == "drop":
            validation, vtokens, dropped = _drop_over_length(validation, vtokens, L)
            if dropped:
                counts["validation_dropped_over_length"] = dropped
        # 0 means the trainer would evaluate on nothing: no validation loss at all.
        counts["validation_rows"] = len(_trainer_rows(method, d, vtokens)[0])

    # What the trainer does next, replicated: rows, tokens per epoch, sequence lengths.
    seqs, loss, counts["dropped_by_trainer"] = _trainer_rows(method, d, tokens)
    if d.packing and packing_strategy(method) == "wrapped":
        counts.pop("truncated", None)  # wrapped packing cuts long texts into rows; nothing is lost
    rows = len(seqs)
    if method == "dpo":  # chosen and rejected both go through the policy (and the reference), each cut at L
        per_epoch = sum(n for n, fl in zip(tokens.pair_tokens(L), tokens.first_loss) if fl is not None)
    else:
        per_epoch = sum(seqs)
    attention = (sum(s * s for s in seqs) / sum(seqs)) if seqs else None
    return PreparedData(method, train, validation, holdout, counts, tokens, rows, per_epoch, loss,
                        max(seqs) if seqs else None, attention)
