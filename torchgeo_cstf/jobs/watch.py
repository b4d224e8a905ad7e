"""Ingest: turn each new, complete GeoTIFF in a directory into one pipeline job.

A file is taken once its size and modification time have not changed for
``stable_seconds`` and it starts with a TIFF signature; hidden files and the
usual partial-download names (``*.part``, ``*.tmp``, ``*.crdownload``) are
ignored. Files are identified by the SHA-256 of their content, recorded with
their job id in a state file, so a copy or a rename of an acquisition already
submitted is skipped, and a restarted watcher carries on where it stopped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputNotFoundError
from .client import JobClient, JobHandle
from .spec import DetectionParameters, PipelineJob
from .statefile import StateFile

#: name patterns of files still being written by common tools
PARTIAL_SUFFIXES = ('.part', '.tmp', '.crdownload', '.download', '.partial')
#: the first bytes of classic and BigTIFF files, both byte orders
TIFF_SIGNATURES = (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+')
#: the state file's name (in the output directory)
STATE_FILE = '.cstf-watch.json'


def content_hash(path: Path, block: int = 1 << 20) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open('rb') as file:
        while chunk := file.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def looks_like_tiff(path: Path) -> bool:
    """Whether a file starts with a TIFF or BigTIFF signature."""
    with path.open('rb') as file:
        return file.read(4) in TIFF_SIGNATURES


@dataclass
class _Sighting:
    """What the watcher knows of a file: size and mtime, since when, its hash."""

    size: int
    mtime_ns: int
    since: float
    digest: str | None = None


@dataclass
class Watcher:
    """Submits one pipeline job per new complete GeoTIFF in ``directory``.

    Args:
        directory: where acquisitions arrive.
        reference: the earlier acquisition every new one is co-registered to.
        output_dir: where the jobs write (and where the state file lives).
        client: the job client.
        stable_seconds: how long size and mtime must stay unchanged.
        parameters: detection parameters of the pipeline jobs.
        options: matching options (``matcher``, ``window``, ...).
    """

    directory: Path
    reference: Path
    output_dir: Path
    client: JobClient
    stable_seconds: float = 2.0
    parameters: DetectionParameters = field(default_factory=DetectionParameters)
    options: dict[str, Any] = field(default_factory=dict)
    _seen: dict[Path, _Sighting] = field(default_factory=dict)
    _state: StateFile = field(init=False)

    def __post_init__(self) -> None:
        """Check the directories."""
        self.directory = Path(self.directory).resolve()
        self.reference = Path(self.reference).resolve()
        self.output_dir = Path(self.output_dir).resolve()
        if not self.directory.is_dir():
            raise InputNotFoundError(self.directory, 'no such directory to watch')
        if not self.reference.is_file():
            raise InputNotFoundError(self.reference, 'no such reference raster')
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._state = StateFile(self.state_path)

    @property
    def state_path(self) -> Path:
        """The state file: content hash → job id of every file submitted."""
        return self.output_dir / STATE_FILE

    def submitted(self) -> Mapping[str, str]:
        """Content hash → job id of the files submitted so far."""
        return self._state.read()

    def _candidates(self) -> list[Path]:
        return sorted(
            path
            for path in self.directory.iterdir()
            if path.is_file()
            and not path.name.startswith('.')
            and not path.name.lower().endswith(PARTIAL_SUFFIXES)
            and path.suffix.lower() in ('.tif', '.tiff')
            and path.resolve() != self.reference
        )

    def _stable(self, path: Path, now: float) -> _Sighting | None:
        """The file's sighting once unchanged for ``stable_seconds``, else None.

        A changed size or mtime starts a new sighting (its hash forgotten).
        """
        stat = path.stat()
        seen = self._seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != (
            stat.st_size,
            stat.st_mtime_ns,
        ):
            self._seen[path] = _Sighting(stat.st_size, stat.st_mtime_ns, now)
            return None
        return seen if now - seen.since >= self.stable_seconds else None

    def scan(self) -> list[JobHandle]:
        """Look once; submit a job for each file that became complete.

        Returns:
            The handles of the jobs submitted by this scan.
        """
        now = time.monotonic()
        done = self.submitted()
        handles = []
        for path in self._candidates():
            seen = self._stable(path, now)
            if seen is None or not looks_like_tiff(path):
                continue
            if seen.digest is None:  # once per version of the file
                seen.digest = content_hash(path)
            if seen.digest in done:
                continue
            job = PipelineJob(
                reference=str(self.reference),
                query=str(path),
                output_dir=str(self.output_dir),
                parameters=self.parameters,
                **self.options,
            )
            handle = self.client.submit(job)
            self._state.record(seen.digest, handle.id)
            handles.append(handle)
        return handles
