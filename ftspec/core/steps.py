"""Optimizer step counts exactly as transformers' Trainer computes them (stdlib only).

Mirrors transformers 5.x (after PR #37923, checked against 5.23):

* the train dataloader yields ``ceil(N / per_device_batch)`` batches (``floor`` with
  ``dataloader_drop_last``), which accelerate's ``BatchSamplerShard`` (``even_batches=True``) splits over
  ``world_size`` ranks: ``ceil(batches / world)`` per rank (``floor`` with drop_last);
* ``Trainer.set_initial_training_values``: updates per epoch = ``max(ceil(batches_per_rank / grad_accum), 1)``
  (older releases used floor here), and ``max_steps = ceil(num_train_epochs * updates_per_epoch)``, which
  is what ``trainer.state.global_step`` reaches (fractional epochs stop mid-epoch);
* an empty dataloader (N = 0, or fewer samples than one batch with drop_last) makes transformers raise
  ``ValueError`` ("args.max_steps must be set to a positive value ...") -- mirrored here.

Data parallel size is ``world_size // (tp * cp * sp)``; pass that as ``world_size``.
"""

from __future__ import annotations

import math

__all__ = ["batches_per_rank", "samples_per_rank", "updates_per_epoch", "optimizer_steps"]


def _check(num_samples: int, per_device_batch: int, grad_accum: int, world_size: int) -> None:
    if num_samples < 0:
        raise ValueError("num_samples must be >= 0")
    for name, value in (("per_device_batch", per_device_batch), ("grad_accum", grad_accum),
                        ("world_size", world_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1")


def batches_per_rank(num_samples: int, *, per_device_batch: int, world_size: int = 1,
                     drop_last: bool = False) -> int:
    """``len(train_dataloader)`` on one rank."""
    _check(num_samples, per_device_batch, 1, world_size)
    if drop_last:
        return (num_samples // per_device_batch) // world_size
    return math.ceil(math.ceil(num_samples / per_device_batch) / world_size)


def samples_per_rank(num_samples: int, *, per_device_batch: int, world_size: int = 1,
                     drop_last: bool = False) -> int:
    """Samples one rank sees per epoch (even_batches pads short ranks by repeating samples)."""
    batches = batches_per_rank(num_samples, per_device_batch=per_device_batch, world_size=world_size,
                               drop_last=drop_last)
    if world_size > 1 or drop_last:
        # Every batch but possibly the dataloader's very last is full; with world > 1 accelerate fills the
        # last batches from the start of the dataset, so each rank sees full batches.
        return batches * per_device_batch
    return num_samples


def updates_per_epoch(num_samples: int, *, per_device_batch: int, grad_accum: int, world_size: int = 1,
                      drop_last: bool = False) -> int:
    """``num_update_steps_per_epoch`` in ``Trainer.set_initial_training_values``."""
    _check(num_samples, per_device_batch, grad_accum, world_size)
    batches = batches_per_rank(num_samples, per_device_batch=per_device_batch, world_size=world_size,
                               drop_last=drop_last)
    if batches == 0:
        raise ValueError(
            f"the train dataloader is empty ({num_samples} samples, batch {per_device_batch}, world {world_size}, "
            f"drop_last={drop_last}): transformers raises 'args.max_steps must be set to a positive value'")
    return max(batches // grad_accum + int(batches % grad_accum > 0), 1)


def optimizer_steps(num_samples: int, *, epochs: float, per_device_batch: int, grad_accum: int = 1,
                    world_size: int = 1, drop_last: bool = False) -> int:
    """The ``trainer.state.global_step`` a run with ``max_steps=-1`` ends on."""
    if epochs <= 0:
        raise ValueError("epochs must be > 0")
    upe = updates_per_epoch(num_samples, per_device_batch=per_device_batch, grad_accum=grad_accum,
                            world_size=world_size, drop_last=drop_last)
    return math.ceil(epochs * upe)
