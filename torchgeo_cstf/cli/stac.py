"""``cstf catalog``: a static STAC catalogue of a results folder."""

from __future__ import annotations

import argparse
from typing import Any


def _catalog(args: argparse.Namespace) -> int:
    from ..stac import write_catalog

    path, count = write_catalog(args.folder, title=args.title)
    print(f'{path}: {count} result items')
    return 0


def add_stac_commands(commands: Any) -> None:
    """Add ``cstf catalog`` to the sub-command set."""
    parser = commands.add_parser(
        'catalog',
        help="write FOLDER/catalog.json linking every job's STAC item (item.json)",
    )
    parser.add_argument('folder', help='the output directory jobs write into')
    parser.add_argument(
        '--title', default='torchgeo-cstf results', help='the catalogue title'
    )
    parser.set_defaults(handler=_catalog)
