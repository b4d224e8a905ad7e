"""A watcher's memory: a small JSON object on disk, replaced atomically on each change."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any


class StateFile:
    """Key → value records that survive a restart (the ingest watchers' state).

    The records are read from disk by :meth:`read` (once per scan) and kept; each
    :meth:`record` changes the kept copy and replaces the file atomically, so a
    watcher that dies half-way through a scan has lost nothing it submitted, and
    a scan of ``n`` new files reads the file once instead of ``n`` times. Edit
    the file only while its watcher is stopped.

    Args:
        path: the JSON file (created on the first record).
    """

    def __init__(self, path: Path) -> None:
        """Name the file; nothing is read until :meth:`read` or :meth:`record`."""
        self.path = Path(path)
        self._records: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        try:
            records: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            records = {}
        self._records = records
        return records

    def read(self) -> Mapping[str, Any]:
        """Every record so far, read again from disk (empty before the first).

        A read-only view: the records made after it show in it too.
        """
        return MappingProxyType(self._load())

    def record(self, key: str, value: Any) -> None:
        """Add or replace one record (write a sibling file, then rename it)."""
        records = self._load() if self._records is None else self._records
        records[key] = value
        temporary = self.path.with_suffix('.tmp')
        temporary.write_text(json.dumps(records, indent=1, sort_keys=True))
        os.replace(temporary, self.path)
