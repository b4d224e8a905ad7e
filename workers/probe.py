"""Liveness and readiness probes of a worker: ``python -m workers.probe [--ready]``.

Reads the heartbeat file of :mod:`workers.heartbeat` (``CSTF_HEARTBEAT_FILE``
or ``--file``); imports nothing but the standard library, so a probe costs a
few milliseconds and no broker round trip.

- liveness: the file was written within ``--max-age`` seconds (default three
  heartbeat intervals): the worker's event loop runs;
- ``--ready``: also, the worker is consuming (not starting, reconnecting to
  the broker, or shutting down).

Exit code 0 when the check passes, 1 otherwise (the reason on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def check(
    path: Path, max_age: float, ready: bool, now: float | None = None
) -> str | None:
    """Why the probe fails, or ``None`` when it passes."""
    try:
        modified = path.stat().st_mtime
        state = path.read_text().strip()
    except FileNotFoundError:
        return f'{path}: no heartbeat yet'
    except OSError as err:
        return f'{path}: {err.strerror}'
    # a worker that says it is stopping has stopped beating too: its state is
    # the cause, so readiness reports it before the age
    if ready and state != 'ready':
        return f'{path}: worker is {state or "starting"}, not ready'
    age = (time.time() if now is None else now) - modified
    if age > max_age:
        return f'{path}: last heartbeat {age:.0f} s ago (more than {max_age:g} s)'
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the probe; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog='python -m workers.probe', description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        '--file',
        default=os.environ.get('CSTF_HEARTBEAT_FILE'),
        help='heartbeat file (default CSTF_HEARTBEAT_FILE)',
    )
    parser.add_argument(
        '--max-age',
        type=float,
        default=None,
        help='seconds (default three times CSTF_HEARTBEAT_INTERVAL)',
    )
    parser.add_argument(
        '--ready', action='store_true', help='also require the worker to be consuming'
    )
    args = parser.parse_args(argv)
    if not args.file:
        print('probe: no heartbeat file (set CSTF_HEARTBEAT_FILE)', file=sys.stderr)
        return 1
    interval = float(os.environ.get('CSTF_HEARTBEAT_INTERVAL') or 10)
    max_age = args.max_age if args.max_age is not None else 3 * interval
    reason = check(Path(args.file), max_age, args.ready)
    if reason is not None:
        print(f'probe: {reason}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
