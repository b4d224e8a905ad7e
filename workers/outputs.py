"""A job's output directory, written once: staged under a temporary name, then renamed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from torchgeo_cstf.jobs import Manifest

#: the manifest file of a finished job
MANIFEST = 'manifest.json'


def finished(job_dir: Path) -> Manifest | None:
    """The manifest of a job that succeeded and whose outputs are in place, else None.

    A failed job's folder (what it wrote to explain the failure) does not
    count: the job runs again, and its new folder replaces that one.
    """
    try:
        found = Manifest.model_validate_json((job_dir / MANIFEST).read_bytes())
    except (FileNotFoundError, ValidationError):
        return None
    return found if found.status == 'succeeded' else None


def work_dir(job_dir: Path, purpose: str) -> Path:
    """A hidden directory next to ``job_dir`` for intermediate files (stable name)."""
    return job_dir.parent / f'.{job_dir.name}.{purpose}'


@contextlib.contextmanager
def staged(job_dir: Path) -> Iterator[Path]:
    """Write a job's outputs in a temporary directory renamed to ``job_dir`` at the end.

    When another delivery of the same job has renamed its directory first,
    this one is discarded: readers only ever see one complete directory. A
    directory a failed run left (its diagnostics) is replaced instead.

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
            if finished(job_dir) is None:  # a failed run's folder: replace it
                stale = job_dir.parent / f'.{job_dir.name}.stale-{uuid.uuid4().hex[:8]}'
                os.rename(job_dir, stale)
                os.rename(temporary, job_dir)
                shutil.rmtree(stale, ignore_errors=True)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` into a staged directory."""
    (directory / MANIFEST).write_text(
        json.dumps(manifest.to_json(), indent=2, sort_keys=True)
    )
