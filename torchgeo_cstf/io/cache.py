"""Bound GDAL's raster block cache while a scene is read once, window by window."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from rasterio.env import get_gdal_config, set_gdal_config

#: smallest cap: enough for the blocks that neighbouring windows share
MIN_BLOCK_CACHE = 64 * 2**20

_lock = threading.Lock()
#: caps in force (several scenes may be read at once) and the setting before them
_active: Counter[int] = Counter()
_original: list[int] = []


@contextmanager
def capped_block_cache(limit: int) -> Iterator[int]:
    """Lower GDAL's block cache to at most ``limit`` bytes, then restore it.

    GDAL keeps decoded blocks up to ``GDAL_CACHEMAX`` (by default 5 % of the
    RAM, over a gigabyte on a worker), process-wide. A tiled pass over a scene
    reads each block about once, so a cache that large only grows the
    process by the decoded size of the scene, up to the cap. The cache is
    never raised; the setting is process-wide, as GDAL's is, so concurrent
    readers share the smallest cap and the first setting comes back when the
    last one leaves.

    Args:
        limit: the cap in bytes (at least :data:`MIN_BLOCK_CACHE` is kept).

    Yields:
        The cap in force when the block starts.
    """
    limit = max(limit, MIN_BLOCK_CACHE)
    with _lock:
        if not _active:
            _original[:] = [int(get_gdal_config('GDAL_CACHEMAX'))]
        _active[limit] += 1
        capped = min(_original[0], min(_active))
        set_gdal_config('GDAL_CACHEMAX', capped)
    try:
        yield capped
    finally:
        with _lock:
            _active[limit] -= 1
            if not _active[limit]:
                del _active[limit]
            setting = min(_original[0], min(_active)) if _active else _original[0]
            set_gdal_config('GDAL_CACHEMAX', setting)
