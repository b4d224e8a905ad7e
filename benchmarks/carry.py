"""What a lent GPU machine can receive: compact JPEG copies within a size budget.

The device tool copies the working tree and at most :data:`CARRY_LIMIT_MIB` of
ignored paths (prepared data) to the GPU machine, which has no network. The
``compact_*`` scripts re-encode a prepared folder's images with these helpers
and check the result against a budget below that limit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

#: what the device tool carries at most, MiB
CARRY_LIMIT_MIB = 64
#: the most two bands of a grey image may differ (JPEG rounding), digital numbers
GREY_TOLERANCE = 3


def jpeg_ready(path: Path, *, require_grey: bool = False) -> Image.Image:
    """An 8-bit image's pixels as JPEG can hold them: one band if grey, else RGB.

    Bands whose values differ by at most :data:`GREY_TOLERANCE` are one grey
    band; otherwise the first three bands are kept (a fourth, e.g. NAIP's
    near-infrared, is dropped: the textures read three).

    Args:
        path: any raster GDAL reads with 8-bit values.
        require_grey: refuse an image whose bands differ (dropping bands would
            lose data the reader needs).

    Raises:
        SystemExit: not 8-bit, or not grey when ``require_grey``.
    """
    with rasterio.open(path) as src:
        if src.dtypes[0] != 'uint8':
            raise SystemExit(f'{path}: {src.dtypes[0]} pixels; JPEG holds 8-bit ones')
        pixels = src.read()
    spread = int((pixels.max(axis=0).astype(np.int16) - pixels.min(axis=0)).max())
    if spread <= GREY_TOLERANCE:
        return Image.fromarray(np.ascontiguousarray(pixels[0]))
    if require_grey:
        raise SystemExit(
            f'{path}: its bands differ by up to {spread}: not a grey image, '
            'keeping one band would lose data'
        )
    if len(pixels) < 3:
        raise SystemExit(f'{path}: {len(pixels)} differing bands; JPEG holds 1 or 3')
    return Image.fromarray(np.ascontiguousarray(pixels[:3].transpose(1, 2, 0)))


def folder_mib(folder: Path) -> float:
    """Size of every file under ``folder``, MiB."""
    return sum(p.stat().st_size for p in folder.rglob('*') if p.is_file()) / 2**20


def check_budget(folder: Path, budget_mib: float, advice: str) -> float:
    """The folder's size, or exit 1 with ``advice`` when it is over the budget."""
    mib = folder_mib(folder)
    if mib > budget_mib:
        print(
            f'{folder}: {mib:.1f} MiB is over the budget of {budget_mib:g} MiB '
            f'(the device carries {CARRY_LIMIT_MIB} MiB in all): {advice}',
            file=sys.stderr,
        )
        raise SystemExit(1)
    return mib


def parse_counts(
    parser: argparse.ArgumentParser, option: str, texts: list[str]
) -> dict[str, int]:
    """``NAME=N`` arguments as a mapping (a malformed one is a usage error)."""
    counts = {}
    for text in texts:
        name, _, number = text.partition('=')
        if not name or not number.isdigit():
            parser.error(f'{option} must be NAME=N, got {text!r}')
        counts[name] = int(number)
    return counts
