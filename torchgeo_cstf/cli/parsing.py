"""Argument types shared by the ``cstf`` commands."""

from __future__ import annotations

import argparse


def size(text: str) -> tuple[int, int]:
    """Parse ``512`` or ``512x768`` (rows x columns)."""
    parts = text.lower().split('x')
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a size like 512 or 512x768'
        ) from None
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f'{text!r} is not a size like 512 or 512x768')


def value_range(text: str) -> tuple[float, float]:
    """Parse ``0.5:2`` or a single number."""
    try:
        values = [float(p) for p in text.split(':')]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a range like 0.5:2'
        ) from None
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f'{text!r} is not a range like 0.5:2')
