"""Argument types and option flags shared by the ``cstf`` commands."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..options import METHODS, RegistrationOptions, TilingOptions


def add_tiling_arguments(parser: argparse.ArgumentParser) -> None:
    """The :class:`~torchgeo_cstf.options.TilingOptions` flags (unset: the defaults)."""
    default = TilingOptions()
    parser.add_argument(
        '--tile', type=int, default=None, help=f'tile side ({default.tile})'
    )
    parser.add_argument(
        '--overlap',
        type=int,
        default=None,
        help=f'tile overlap, > the largest object ({default.overlap})',
    )
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help=f'tiles per forward pass ({default.batch_size})',
    )
    parser.add_argument(
        '--score-threshold',
        type=float,
        default=None,
        help="minimum score of written objects (default the detector's operating "
        'threshold: 0.4 for the shipped detector)',
    )
    parser.add_argument(
        '--nms-threshold',
        type=float,
        default=None,
        help="IoU of the cross-tile merge (default the detector's)",
    )


def add_registration_arguments(parser: argparse.ArgumentParser) -> None:
    """The :class:`~torchgeo_cstf.options.RegistrationOptions` flags (unset: the defaults)."""
    default = RegistrationOptions()
    parser.add_argument(
        '--method',
        choices=METHODS,
        default=None,
        help='auto: dense structure matching, CSTF where it finds too little '
        f'(default {default.method}); cstf: the learned matcher only; dense: '
        'training-free only',
    )
    parser.add_argument(
        '--window', type=int, default=None, help=f'window side ({default.window})'
    )
    parser.add_argument(
        '--windows',
        type=int,
        default=None,
        help=f'windows to match, a square grid ({default.windows})',
    )
    parser.add_argument(
        '--transform',
        choices=('homography', 'affine'),
        default=None,
        help=f'transform fitted to the matches ({default.transform})',
    )


def option_values(args: argparse.Namespace, options: type[Any]) -> dict[str, Any]:
    """The flags of an options dataclass the user set (others take its defaults)."""
    return {
        item.name: getattr(args, item.name)
        for item in dataclasses.fields(options)
        if getattr(args, item.name, None) is not None
    }


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
