"""Pure-Python replica of TRL's SFT dataset preparation counts: drops, truncation and packing (stdlib only).

Mirrors ``trl.data_utils.pack_dataset`` / ``_pack_bfd`` / ``_pack_wrapped`` and
``SFTTrainer._prepare_dataset`` of TRL 1.16:

* packing runs through ``Dataset.map(batched=True)`` with the default ``batch_size=1000``: each chunk of
  1000 consecutive examples (after the optional ``shuffle_dataset`` shuffle) is packed on its own, so
  rows never mix examples from different chunks (``chunk_size`` below);
* ``bfd`` drops empty sequences, truncates each to ``max_length`` (keep start), sorts by length descending
  and places each into the bin with the smallest remaining space that fits (FIFO among equal spaces),
  else opens a new bin; rows come out in bin-creation order;
* ``bfd_split`` is ``bfd`` but first splits each sequence into ``max_length`` fragments (the last shorter);
* ``wrapped`` concatenates all tokens of the chunk and cuts every ``max_length`` tokens:
  ``ceil(total / max_length)`` rows, no sequence boundaries, empty sequences contribute nothing;
* without packing, with ``max_length`` set: truncate (keep_start) then DROP examples whose labels are
  all -100 after truncation (prompt-completion with completion_only_loss, or assistant_only_loss);
  with packing nothing is dropped for masking (a packed row may carry no loss at all).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict, deque
from collections.abc import Sequence

__all__ = ["STRATEGIES", "pack_bfd", "pack_wrapped", "pack_lengths", "packed_rows", "sft_kept_lengths",
           "sft_train_rows"]

STRATEGIES = ("bfd", "bfd_split", "wrapped")
CHUNK = 1000  # datasets.Dataset.map default batch_size, which pack_dataset does not override


def _check_length(max_length: int) -> None:
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError("max_length must be a positive int")


def _bfd_chunk(lengths: Sequence[int], seq_length: int, split: bool) -> list[list[int]]:
    lengths = [n for n in lengths if n > 0]
    if split:
        pieces: list[int] = []
        for n in lengths:
            k = math.ceil(n / seq_length)
            pieces.extend([seq_length] * (k - 1) + [n - (k - 1) * seq_length])
        lengths = pieces
    else:
        lengths = [min(n, seq_length) for n in lengths]
    # Equal lengths are interchangeable, so the (unstable) tie order of pyarrow's sort cannot change rows.
    order = sorted(lengths, reverse=True)
    spaces: list[int] = []  # sorted distinct remaining spaces in (0, seq_length) with at least one bin
    space_to_bin: dict[int, deque] = defaultdict(deque)
    bins: list[list[int]] = []
    totals: list[int] = []
    for length in order:
        pos = bisect.bisect_left(spaces, length)
        if pos < len(spaces):
            space = spaces[pos]
            b = space_to_bin[space].popleft()
            if not space_to_bin[space]:
                spaces.pop(pos)
        else:
            space = seq_length
            b = len(bins)
            bins.append([])
            totals.append(0)
        bins[b].append(length)
        totals[b] += length
        space -= length
        space_to_bin[space].append(b)
        if space > 0:
            i = bisect.bisect_left(spaces, space)
            if i == len(spaces) or spaces[i] != space:
                spaces.insert(i, space)
    return bins


def _chunks(lengths: Sequence[int], chunk_size: int | None):
    lengths = list(lengths)
    if not chunk_size:
        yield lengths
        return
    for start in range(0, len(lengths), chunk_size):
        yield lengths[start:start + chunk_size]


def pack_bfd(lengths: Sequence[int], max_length: int, *, split: bool = False,
             chunk_size: int | None = CHUNK) -> list[list[int]]:
    """Rows of a ``bfd`` (or ``bfd_split``) packing: each row's ``seq_lengths``, in TRL's row order."""
    _check_length(max_length)
    rows: list[list[int]] = []
    for chunk in _chunks(lengths, chunk_size):
        rows.extend(_bfd_chunk(chunk, max_length, split))
    return rows


def pack_wrapped(lengths: Sequence[int], max_length: int, *, chunk_size: int | None = CHUNK) -> list[int]:
    """Row lengths of a ``wrapped`` packing."""
    _check_length(max_length)
    rows: list[int] = []
    for chunk in _chunks(lengths, chunk_size):
        total = sum(chunk)
        full, rest = divmod(total, max_length)
        rows.extend([max_length] * full + ([rest] if rest else []))
    return rows


def pack_lengths(lengths: Sequence[int], max_length: int, strategy: str = "bfd", *,
                 chunk_size: int | None = CHUNK) -> list[int]:
    """Token count of every packed row, in TRL's row order."""
    if strategy == "wrapped":
        return pack_wrapped(lengths, max_length, chunk_size=chunk_size)
    if strategy in ("bfd", "bfd_split"):
        return [sum(r) for r in pack_bfd(lengths, max_length, split=strategy == "bfd_split",
                                         chunk_size=chunk_size)]
    raise ValueError(f"Invalid packing strategy '{strategy}', must be one of {STRATEGIES}.")


def packed_rows(lengths: Sequence[int], max_length: int, strategy: str = "bfd", *,
                chunk_size: int | None = CHUNK) -> int:
    """Number of rows ``trl.pack_dataset`` produces for sequences of these token lengths."""
    return len(pack_lengths(lengths, max_length, strategy, chunk_size=chunk_size))


def sft_kept_lengths(lengths: Sequence[int], first_loss: Sequence[int | None] | None = None, *,
                     max_length: int | None) -> list[int]:
    """Token lengths of the examples SFTTrainer keeps without packing (truncated, fully masked dropped).

    ``first_loss[i]`` is the index of example i's first token whose label is not -100 (None: no such
    token). Without ``first_loss`` every token carries loss (plain LM / messages without
    assistant_only_loss). With ``max_length=None`` nothing is truncated or dropped.
    """
    if first_loss is None:
        first_loss = [0] * len(lengths)
    if len(first_loss) != len(lengths):
        raise ValueError("first_loss must have one entry per example")
    if max_length is None:
        return list(lengths)
    _check_length(max_length)
    kept = []
    for n, first in zip(lengths, first_loss):
        n = min(n, max_length)  # truncation_mode keep_start (the only mode TRL 1.16 supports)
        if first is not None and first < n:
            kept.append(n)
    return kept


def sft_train_rows(lengths: Sequence[int], first_loss: Sequence[int | None] | None = None, *,
                   max_length: int | None = 1024, packing: bool = False, strategy: str = "bfd",
                   chunk_size: int | None = CHUNK) -> int:
    """Rows of SFTTrainer's prepared train dataset: the N that the optimizer-step formula needs."""
    if not packing:
        return len(sft_kept_lengths(lengths, first_loss, max_length=max_length))
    if max_length is None:
        raise ValueError("When packing is enabled, `max_length` can't be `None`.")
    return packed_rows(lengths, max_length, strategy, chunk_size=chunk_size)
