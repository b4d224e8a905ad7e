"""DOTA label files: ``x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]`` lines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ...io.text import parse_numbers, read_text_lines


@dataclass(frozen=True)
class DotaObject:
    """One object line of a DOTA label file.

    Attributes:
        polygon: the eight numbers ``x1 y1 x2 y2 x3 y3 x4 y4``, in file order.
        name: the class name as written.
        difficult: the difficult flag (``False`` when the field is absent).
    """

    polygon: tuple[float, ...]
    name: str
    difficult: bool


def read_dota_labels(path: str | os.PathLike[str]) -> list[DotaObject]:
    """Read a DOTA label file: ``x1 y1 ... x4 y4 class [difficult]`` lines.

    Blank lines and the optional ``imagesource:`` and ``gsd:`` header lines are
    skipped; every other line must be an object.

    Args:
        path: the label file.

    Returns:
        The objects, in file order (all classes).

    Raises:
        InputError: a malformed line (the message names file and line) or a file
            that is not UTF-8 text.
        InputNotFoundError: the file does not exist.
    """
    file = Path(path)
    objects: list[DotaObject] = []
    for line_no, line in enumerate(read_text_lines(file), start=1):
        text = line.strip()
        if not text or text.startswith(('imagesource:', 'gsd:')):
            continue
        tokens = text.split()
        if len(tokens) not in (9, 10):
            raise InputError(
                f'{file}:{line_no}',
                f'expected "x1 y1 ... x4 y4 class [difficult]", got {len(tokens)} fields',
            )
        coords = parse_numbers(tokens[:8], f'{file}:{line_no}')
        difficult = tokens[9] if len(tokens) == 10 else '0'
        if difficult not in ('0', '1'):
            raise InputError(
                f'{file}:{line_no}', f'difficult must be 0 or 1, got {difficult!r}'
            )
        objects.append(DotaObject(tuple(coords), tokens[8], difficult == '1'))
    return objects
