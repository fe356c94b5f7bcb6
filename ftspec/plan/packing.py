"""Moved to :mod:`ftspec.data.packing` (data/ must not import plan/); kept so existing imports keep working."""

from ftspec.data.packing import (CHUNK, STRATEGIES, pack_bfd, pack_lengths, pack_wrapped, packed_rows,  # noqa: F401
                            sft_kept_lengths, sft_train_rows)
