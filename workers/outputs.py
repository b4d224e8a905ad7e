"""A job's output directory, written once: staged under a temporary name, then renamed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the manifest file of a finished job
MANIFEST = 'manifest.json'


def finished(job_dir: Path) -> dict[str, Any] | None:
    """The manifest of a job whose outputs are already in place, else None."""
    try:
        found: dict[str, Any] = json.loads((job_dir / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return found


def work_dir(job_dir: Path, purpose: str) -> Path:
    """A hidden directory next to ``job_dir`` for intermediate files (stable name)."""
    return job_dir.parent / f'.{job_dir.name}.{purpose}'


@contextlib.contextmanager
def staged(job_dir: Path) -> Iterator[Path]:
    """Write a job's outputs in a temporary directory renamed to ``job_dir`` at the end.

    When another delivery of the same job has renamed its directory first,
    this one is discarded: readers only ever see one complete directory.

    Args:
        job_dir: the final directory (must not exist yet).

    Yields:
        The temporary directory to write into.
    """
    job_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = job_dir.parent / f'.{job_dir.name}.tmp-{uuid.uuid4().hex[:8]}'
    temporary.mkdir()
    try:
        yield temporary
        try:
            os.rename(temporary, job_dir)
        except OSError:
            if not job_dir.is_dir():
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` into a staged directory."""
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
