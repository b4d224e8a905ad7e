"""A watcher's memory: a small JSON object on disk, replaced atomically on each change."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StateFile:
    """Key → value records that survive a restart (the ingest watchers' state).

    Args:
        path: the JSON file (created on the first record).
    """

    path: Path

    def read(self) -> dict[str, Any]:
        """Every record so far (empty before the first)."""
        try:
            found: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return found

    def record(self, key: str, value: Any) -> None:
        """Add or replace one record (write a sibling file, then rename it)."""
        state = self.read()
        state[key] = value
        temporary = self.path.with_suffix('.tmp')
        temporary.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(temporary, self.path)
