"""``cstf demo``: the main job on an embedded default."""

from __future__ import annotations

import argparse
from typing import Any


def _demo(args: argparse.Namespace) -> int:
    from ..demo import DEFAULT_SEED, DEFAULT_SIZE, run_demo

    summary = run_demo(
        args.out,
        size=DEFAULT_SIZE if args.size is None else args.size,
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        device=args.device,
        progress=not args.quiet,
    )
    print(f'cstf demo: outputs in {args.out}/')
    for line in summary.lines():
        print(line)
    return 0


def add_demo_command(commands: Any) -> None:
    """Add ``cstf demo`` to the sub-command set."""
    demo = commands.add_parser(
        'demo',
        help='co-register a synthetic new acquisition and detect its objects '
        '(no data, Redis or GPU needed)',
    )
    demo.add_argument('--out', default='cstf-demo', help='output directory')
    demo.add_argument('--size', type=int, default=None, help='scene side (2048)')
    demo.add_argument('--seed', type=int, default=None, help='generator seed (7)')
    demo.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    demo.add_argument('--quiet', action='store_true', help='no progress bars')
    demo.set_defaults(handler=_demo)
