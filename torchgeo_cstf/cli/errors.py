"""``cstf errors``: the troubleshooting guide of the error codes, in a terminal."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError, error_codes


def _errors(args: argparse.Namespace) -> int:
    entries = error_codes()
    if args.code is not None:
        wanted = args.code.upper()
        entries = tuple(e for e in entries if e.code == wanted)
        if not entries:
            known = ', '.join(e.code for e in error_codes())
            raise InputError(args.code, f'is not an error code; known: {known}')
    for entry in entries:
        raised = entry.exception or 'job failure'
        print(f'{entry.code} ({raised}): {entry.meaning}')
        print(f'  cause: {entry.cause}')
        print(f'  fix:   {entry.fix}')
    return 0


def add_errors_command(commands: Any) -> None:
    """Add ``cstf errors`` to the sub-command set."""
    parser = commands.add_parser(
        'errors', help='what each error code means, its usual cause and fix'
    )
    parser.add_argument('code', nargs='?', help='one code (default: all)')
    parser.set_defaults(handler=_errors)
