"""Shared fixtures and marker handling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_domain_warnings() -> None:
    """Every test sees each domain warning anew (they are once per process)."""
    from torchgeo_cstf.models.domain import forget_domain_warnings

    forget_domain_warnings()


def _block_offset(path: Path, x: int, y: int) -> int:
    """Byte offset of block (x, y) of band 1 in a tiled GeoTIFF."""
    import rasterio

    with rasterio.open(path) as src:
        return int(src.get_tag_item(f'BLOCK_OFFSET_{x}_{y}', 'TIFF', bidx=1))


def write_bad_rasters(directory: Path) -> dict[str, Path]:
    """Rasters as they arrive broken, each named by what is wrong with it.

    - ``truncated``: a 1024² COG (header first) cut inside its block (2, 2),
      as a partial download leaves it: the first tiles read, later ones fail;
    - ``corrupt``: a tiled GeoTIFF whose block (1, 1) is overwritten;
    - ``nodata``: every pixel nodata; ``nan``: a float band of NaN only;
    - ``line``: 1 × 300 pixels;
    - ``unknown_codec``: a GeoTIFF whose compression tag names no codec.
    """
    import numpy as np
    import rasterio.shutil
    from affine import Affine

    from torchgeo_cstf.io import write_geotiff
    from torchgeo_cstf.synthetic import generate_scene

    directory.mkdir(parents=True, exist_ok=True)
    transform = Affine(1.0, 0.0, 500000.0, 0.0, -1.0, 4000000.0)
    good = directory / 'good-1024.tif'
    generate_scene(good, (1024, 1024), 5, num_objects=12)
    cog = directory / 'cog.tif'
    rasterio.shutil.copy(good, cog, driver='COG', BLOCKSIZE=256)
    truncated = directory / 'truncated.tif'
    truncated.write_bytes(cog.read_bytes()[: _block_offset(cog, 2, 2) + 16])
    corrupt = directory / 'corrupt.tif'
    data = bytearray(good.read_bytes())
    start = _block_offset(good, 1, 1)
    data[start : start + 512] = bytes(512)
    corrupt.write_bytes(bytes(data))
    paths = {'truncated': truncated, 'corrupt': corrupt}
    paths['nodata'] = directory / 'nodata.tif'
    write_geotiff(
        paths['nodata'],
        np.zeros((3, 256, 256), np.uint8),
        crs='EPSG:32633',
        transform=transform,
        nodata=0,
    )
    paths['nan'] = directory / 'nan.tif'
    write_geotiff(
        paths['nan'],
        np.full((1, 256, 256), np.nan, np.float32),
        crs='EPSG:32633',
        transform=transform,
    )
    paths['line'] = directory / 'line.tif'
    write_geotiff(
        paths['line'],
        np.full((3, 1, 300), 90, np.uint8),
        crs='EPSG:32633',
        transform=transform,
    )
    paths['unknown_codec'] = _with_compression_code(
        paths['line'], directory / 'unknown_codec.tif', 65000
    )
    return paths


def _with_compression_code(source: Path, target: Path, code: int) -> Path:
    """A copy of a little-endian GeoTIFF whose Compression tag says ``code``."""
    import struct

    data = bytearray(source.read_bytes())
    assert data[:2] == b'II', 'little-endian TIFF expected'
    directory = struct.unpack_from('<I', data, 4)[0]
    (count,) = struct.unpack_from('<H', data, directory)
    for index in range(count):
        entry = directory + 2 + 12 * index
        if struct.unpack_from('<H', data, entry)[0] == 259:  # Compression
            struct.pack_into('<H', data, entry + 8, code)
            target.write_bytes(bytes(data))
            return target
    raise AssertionError(f'{source}: no Compression tag')


@pytest.fixture
def bad_rasters() -> Callable[[Path], dict[str, Path]]:
    """Writes the broken rasters of :func:`write_bad_rasters` into a directory."""
    return write_bad_rasters
