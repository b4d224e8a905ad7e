"""``cstf dota``: DOTA tools."""

from __future__ import annotations

import argparse
from typing import Any


def _dota_split(args: argparse.Namespace) -> int:
    from ..datasets.dota import split_dota

    summary = split_dota(
        args.root,
        args.out,
        split=args.split,
        version=args.version,
        size=args.size,
        gap=args.gap,
        rates=args.rates,
        iof_threshold=args.iof_threshold,
        min_image_share=args.min_image_share,
        num_workers=args.workers,
    )
    print(
        f'{args.out}: {summary.patches} patches from {summary.images} images '
        f'({summary.skipped} mostly-padding windows skipped), '
        f'{summary.objects} object lines, {summary.lost} objects in no patch'
    )
    return 0


def add_dota_commands(commands: Any) -> None:
    """Add ``cstf dota split`` to the sub-command set."""
    dota = commands.add_parser('dota', help='DOTA tools (patch splitting)')
    tools = dota.add_subparsers(dest='tool', required=True, metavar='TOOL')
    split = tools.add_parser(
        'split', help='cut a DOTA split into overlapping labelled patches'
    )
    split.add_argument('root', help="DOTA root in TorchGeo's layout")
    split.add_argument('out', help='output root (patches, labels, samples.csv)')
    split.add_argument('--split', choices=('train', 'val'), default='train')
    split.add_argument('--version', choices=('1.0', '1.5', '2.0'), default='1.0')
    split.add_argument('--size', type=int, default=1024, help='patch side (1024)')
    split.add_argument('--gap', type=int, default=200, help='window overlap (200)')
    split.add_argument(
        '--rates', type=float, nargs='+', default=[1.0], help='scales, e.g. 0.5 1 1.5'
    )
    split.add_argument(
        '--iof-threshold', type=float, default=0.7, help='keep-object IoF (0.7)'
    )
    split.add_argument(
        '--min-image-share',
        type=float,
        default=0.5,
        help='skip object-free patches with less data than this (0.5)',
    )
    split.add_argument('--workers', type=int, default=0, help='worker threads (0)')
    split.set_defaults(handler=_dota_split)
