"""The optimiser and learning-rate schedule shared by the CSTF tasks."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from lightning.pytorch import Trainer
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR

from ..errors import InputError


def warmup_cosine_factor(total: int, warmup: float) -> Callable[[int], float]:
    """Learning-rate factor of each step: linear warm-up, then cosine decay to 0.

    Args:
        total: number of steps.
        warmup: share of the steps spent warming up linearly from 0.

    Returns:
        step → factor in (0, 1], for :class:`~torch.optim.lr_scheduler.LambdaLR`.
    """
    warm = max(int(warmup * total), 1)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min((step - warm) / max(total - warm, 1), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def warmup_cosine_adamw(
    parameters: Iterator[nn.Parameter],
    trainer: Trainer,
    lr: float,
    weight_decay: float,
    warmup: float,
) -> OptimizerLRScheduler:
    """AdamW with a per-step linear warm-up and a cosine decay to zero.

    The schedule spans the trainer's ``estimated_stepping_batches``, so training
    must be bounded by ``max_steps`` or ``max_epochs`` (``max_time`` only as a
    safety stop).

    Args:
        parameters: the parameters to optimise.
        trainer: the Lightning trainer (for the number of steps).
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup: share of the steps spent warming up linearly from 0.

    Returns:
        Lightning's optimizer/scheduler configuration.

    Raises:
        InputError: when the number of steps is unbounded.
    """
    optimizer = AdamW(parameters, lr=lr, weight_decay=weight_decay)
    estimate = float(trainer.estimated_stepping_batches)
    if not math.isfinite(estimate):
        raise InputError(
            'max_steps',
            'the warm-up/cosine schedule needs a finite max_steps or max_epochs',
        )
    factor = warmup_cosine_factor(max(int(estimate), 1), warmup)
    return {
        'optimizer': optimizer,
        'lr_scheduler': {'scheduler': LambdaLR(optimizer, factor), 'interval': 'step'},
    }
