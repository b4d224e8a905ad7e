"""Atomic file outputs: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import OutputError


def temporary_sibling(path: str | os.PathLike[str]) -> Path:
    """Return an unused hidden path in the same directory as ``path``.

    The name ends with the same suffix as ``path`` so that drivers chosen by file
    extension (GDAL, fiona) still recognise it.

    Args:
        path: the final output path.

    Returns:
        A path that does not exist yet, on the same file system as ``path``.
    """
    final = Path(path)
    while True:
        candidate = final.with_name(
            f'.{final.stem}.{secrets.token_hex(4)}.tmp{final.suffix}'
        )
        if not candidate.exists():
            return candidate


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path and move it onto ``path`` once the block succeeds.

    Readers never see a half-written ``path``: either the previous file (or none)
    or the complete new one. When the block raises, the temporary file and its
    GDAL/SQLite side files are removed and ``path`` is left untouched.

    Args:
        path: the final output path; missing parent directories are created.

    Yields:
        The temporary path to write to (it does not exist yet).

    Raises:
        OutputError: if the parent directory cannot be created or the rename fails.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f'{final}: cannot create its directory ({err})') from err
    tmp = temporary_sibling(final)
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f'{final}: the writer produced no file')
        os.replace(tmp, final)
    except BaseException:
        for leftover in (tmp, *_side_files(tmp)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


def _side_files(path: Path) -> list[Path]:
    """Files GDAL or SQLite may create next to ``path`` while writing it."""
    return [
        path.with_name(path.name + extra)
        for extra in ('.aux.xml', '-journal', '-wal', '-shm', '.ovr')
    ]


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write a JSON document atomically (indented, trailing newline).

    Args:
        path: the output file.
        value: anything :func:`json.dumps` accepts (NaN is written as ``NaN``).
    """
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2) + '\n')
