from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.env import get_gdal_config, set_gdal_config

from torchgeo_cstf.inference.tiles import TileReader
from torchgeo_cstf.io import write_geotiff
from torchgeo_cstf.io.cache import MIN_BLOCK_CACHE, capped_block_cache

MIB = 2**20


def _cache() -> int:
    return int(get_gdal_config('GDAL_CACHEMAX'))


def test_cap_is_restored_and_shared_by_overlapping_readers() -> None:
    original = _cache()
    assert original > 100 * MIB
    first = capped_block_cache(100 * MIB)
    second = capped_block_cache(80 * MIB)
    assert first.__enter__() == 100 * MIB and _cache() == 100 * MIB
    assert second.__enter__() == 80 * MIB and _cache() == 80 * MIB
    first.__exit__(None, None, None)
    assert _cache() == 80 * MIB  # the second reader is still at work
    second.__exit__(None, None, None)
    assert _cache() == original


def test_cap_never_raises_the_cache_and_keeps_a_floor() -> None:
    original = _cache()
    with capped_block_cache(1) as cap:
        assert cap == MIN_BLOCK_CACHE == _cache()
    set_gdal_config('GDAL_CACHEMAX', 70 * MIB)
    try:
        with capped_block_cache(500 * MIB) as cap:
            assert cap == 70 * MIB == _cache()
        assert _cache() == 70 * MIB
    finally:
        set_gdal_config('GDAL_CACHEMAX', original)


def test_tile_reader_caps_the_cache_at_one_row_of_tiles(tmp_path: Path) -> None:
    image = np.zeros((4, 64, 12000), np.uint16)
    image[:, :, ::7] = 1000
    write_geotiff(
        tmp_path / 'wide.tif',
        image,
        crs='EPSG:32633',
        transform=Affine(10, 0, 400000, 0, -10, 5200000),
    )
    original = _cache()
    reader = TileReader(tmp_path / 'wide.tif', 3, 1024, 128, 2)
    assert reader.block_cache == 1024 * 12000 * 4 * 2  # ~94 MiB: over the floor
    seen = [_cache() for _ in reader]
    # the reader (2 tiles ahead of 14) is still reading when the first arrives
    assert len(seen) == 14 and seen[0] == reader.block_cache
    assert _cache() == original
