"""Small text files of the formats the package reads (labels, result lists)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError, InputNotFoundError


def parse_numbers(tokens: Sequence[str], where: str) -> list[float]:
    """Finite floats from text tokens.

    Args:
        tokens: the tokens.
        where: what they come from, for the message (``file:line``).

    Returns:
        The numbers.

    Raises:
        InputError: a token is not a number, or is NaN or infinite.
    """
    try:
        values = [float(token) for token in tokens]
    except ValueError:
        raise InputError(where, 'expected numbers') from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(where, 'contains NaN or infinite values')
    return values


def read_text_lines(path: str | os.PathLike[str]) -> list[str]:
    """The lines of a UTF-8 text file.

    Raises:
        InputNotFoundError: the file does not exist.
        InputError: it is not UTF-8 text.
    """
    file = Path(path)
    try:
        return file.read_text(encoding='utf-8').splitlines()
    except FileNotFoundError:
        raise InputNotFoundError(file, 'does not exist') from None
    except UnicodeDecodeError:
        raise InputError(file, 'is not a UTF-8 text file') from None
