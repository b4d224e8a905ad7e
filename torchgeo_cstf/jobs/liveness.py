"""The liveness file a long-running job process rewrites (workers, ``cstf recover --every``).

``python -m workers.probe`` reads it: its age says the process's loop runs,
its content what state the process is in.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the states written into the file
READY, STOPPING = 'ready', 'stopping'


def write_state(path: Path, state: str) -> None:
    """Write ``state`` into ``path`` atomically (rename), which also sets its time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    temporary.write_text(f'{state}\n')
    temporary.replace(path)
