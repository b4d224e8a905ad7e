"""The ``cstf`` command line.

User errors (bad paths, bad parameters) end with exit code 2 and a one-line
``cstf: error: …`` message, never a traceback. Heavy libraries are imported only
by the command that needs them, so ``cstf --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..allocator import keep_freed_memory
from ..errors import CSTFError
from .demo import add_demo_command
from .dota import add_dota_commands
from .errors import add_errors_command
from .inference import add_inference_commands
from .jobs import add_job_commands
from .models import add_models_command
from .stac import add_stac_commands
from .synth import add_synth_commands

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cstf`` (all sub-commands).

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='cstf',
        description='CSTF cross-modal matching and oriented object detection.',
    )
    parser.add_argument('--version', action='version', version=f'cstf {__version__}')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    add_demo_command(commands)
    add_inference_commands(commands)
    add_models_command(commands)
    add_job_commands(commands)
    add_synth_commands(commands)
    add_dota_commands(commands)
    add_errors_command(commands)
    add_stac_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cstf``.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 on a user error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # large tensors come and go: see torchgeo_cstf.allocator
    try:
        code: int = args.handler(args)
    except CSTFError as err:
        print(f'cstf: error: {err}', file=sys.stderr)
        return EXIT_USER_ERROR
    return code
