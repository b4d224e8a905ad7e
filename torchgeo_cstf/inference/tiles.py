"""Read a scene tile by tile, normalised for a detector, on a background thread."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasterio.windows import Window

from ..errors import InputError
from ..io.cache import capped_block_cache
from ..io.radiometry import fit_bands
from ..io.raster import (
    RasterInfo,
    open_raster,
    read_valid_overview,
    read_window,
    tile_windows,
)

#: why an input with nothing to detect is refused
NO_VALID_PIXEL = 'has no valid pixel (all nodata or NaN): nothing to detect'
#: percentiles of the stretch of non-uint8 scenes
STRETCH_PERCENTILES = (2.0, 98.0)


@dataclass(frozen=True)
class Normalisation:
    """Per-band linear map of digital numbers to [0, 1]: ``(value - low) / (high - low)``.

    Attributes:
        low: (C,) value mapped to 0.
        high: (C,) value mapped to 1.
    """

    low: np.ndarray[Any, np.dtype[np.float32]]
    high: np.ndarray[Any, np.dtype[np.float32]]

    def apply(
        self, array: np.ndarray[Any, Any], valid: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Normalise (C, H, W) values; clipped to [0, 1], invalid pixels 0."""
        span = np.maximum(self.high - self.low, 1e-12)[:, None, None]
        out = (array.astype(np.float32) - self.low[:, None, None]) / span
        np.clip(out, 0.0, 1.0, out=out)
        out *= valid[None]
        return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class StretchTargets:
    """Where a detector expects the 2nd and 98th percentiles of its inputs.

    Stretched scenes (not uint8) map their percentiles onto these values, so
    that their contrast is the one the detector was trained on; the default,
    0 and 1, is a plain 2–98 % stretch.

    Attributes:
        low: value of the 2nd percentile, per band (the mean for other bands).
        high: value of the 98th percentile, likewise.
    """

    low: tuple[float, ...] = (0.0,)
    high: tuple[float, ...] = (1.0,)

    def per_band(self, count: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(count,) low and high targets: the given ones, then their mean."""
        low, high = np.asarray(self.low), np.asarray(self.high)
        extra = max(count - len(low), 0)
        low = np.concatenate((low, np.full(extra, low.mean())))[:count]
        high = np.concatenate((high, np.full(extra, high.mean())))[:count]
        return low, high


def scene_normalisation(
    src: Any, targets: StretchTargets | None = None
) -> Normalisation:
    """The normalisation of a scene (same for every tile, so no seams).

    uint8 scenes are divided by 255, as the detectors were trained. Other
    types (uint16, int16, float32, ...) are stretched linearly per band so
    that the 2nd and 98th percentiles of valid pixels land on ``targets``
    (by default 0 and 1); the percentiles are taken on an overview whose long
    side is at most :data:`~torchgeo_cstf.io.raster.OVERVIEW_SIZE` (read decimated by GDAL: memory
    does not grow with the scene).

    Args:
        src: an open rasterio dataset.
        targets: where the percentiles go (the detector's, see
            :class:`~torchgeo_cstf.inference.LoadedDetector`).

    Returns:
        The normalisation.
    """
    count = int(src.count)
    if src.dtypes[0] == 'uint8':
        return Normalisation(
            np.zeros(count, np.float32), np.full(count, 255.0, np.float32)
        )
    overview = read_valid_overview(src, 'detect')
    values = overview.values[:, overview.valid]
    p_low, p_high = np.nanpercentile(values, STRETCH_PERCENTILES, axis=1)
    to_low, to_high = (targets or StretchTargets()).per_band(count)
    # (value - low) / (high - low) sends p_low to to_low and p_high to to_high
    span = np.maximum(p_high - p_low, 1e-12) / (to_high - to_low)
    low = p_low - to_low * span
    return Normalisation(low.astype(np.float32), (low + span).astype(np.float32))


@dataclass(frozen=True)
class Tile:
    """One normalised tile.

    Attributes:
        window: where it lies in the scene (may extend past the edges).
        pixels: (C, size, size) float32 in [0, 1] (0 outside the scene and on nodata).
        valid: (size, size) True where the scene has data.
        reference: the reference acquisition's pixels of the same window, or None.
    """

    window: Window
    pixels: np.ndarray[Any, np.dtype[np.float32]]
    valid: np.ndarray[Any, np.dtype[np.bool_]]
    reference: np.ndarray[Any, np.dtype[np.float32]] | None


def check_same_grid(scene: RasterInfo, reference: RasterInfo) -> None:
    """Fail unless the reference lies on the scene's grid (CRS, transform, size)."""
    same = (
        scene.crs == reference.crs
        and scene.width == reference.width
        and scene.height == reference.height
        and scene.transform.almost_equals(reference.transform, precision=1e-6)
    )
    if not same:
        raise InputError(
            reference.path,
            'must lie on the scene grid (same CRS, transform and size) for temporal '
            'fusion; co-register it first (cstf match / coregister())',
        )


class TileReader:
    """Reads, normalises and queues tiles ahead of the model (bounded prefetch).

    A background thread reads windows in row-major order with its own dataset
    handles and puts them in a queue of at most ``prefetch`` tiles, so reading
    overlaps compute and memory stays bounded whatever the scene size; GDAL's
    block cache is capped meanwhile at one row of tiles (see
    :func:`~torchgeo_cstf.io.cache.capped_block_cache`). Tiles
    without any valid pixel are skipped (counted in :attr:`skipped`).

    Args:
        path: the scene.
        channels: bands the model expects (see :func:`fit_bands`).
        tile: tile side in pixels.
        overlap: pixels shared by neighbouring tiles.
        prefetch: tiles read ahead.
        reference: optional co-registered earlier acquisition on the same grid.
        indexes: the tiles to read, as indexes in the row-major plan of the
            whole scene (default all).
        targets: where stretched scenes put their percentiles (see
            :func:`scene_normalisation`).
        min_side: the smallest scene side accepted (a detector's coarsest
            stride: a smaller scene is less than one cell of its output).

    Raises:
        InputError: the scene is smaller than ``min_side``.
        EmptyInputError: a stretched (non-uint8) scene has no valid pixel.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        channels: int,
        tile: int,
        overlap: int,
        prefetch: int,
        reference: str | os.PathLike[str] | None = None,
        indexes: Sequence[int] | None = None,
        targets: StretchTargets | None = None,
        min_side: int = 1,
    ) -> None:
        """Open the scene and plan the tiles; see the class docstring."""
        with open_raster(path) as src:
            self.info = RasterInfo.from_dataset(src)
            if min(self.info.width, self.info.height) < min_side:
                raise InputError(
                    path,
                    f'is {self.info.width}×{self.info.height} px: too small to hold '
                    f'objects (the model needs at least {min_side} px a side)',
                )
            self.normalisation = scene_normalisation(src, targets)
        self.reference_path = reference
        rasters = [self.info]
        if reference is not None:
            with open_raster(reference) as ref:
                rasters.append(RasterInfo.from_dataset(ref))
                check_same_grid(self.info, rasters[-1])
                self.reference_normalisation = scene_normalisation(ref, targets)
        # GDAL's block cache holds one row of tiles: what neighbouring windows
        # share (the strips of a striped file), not the whole scene
        self.block_cache = sum(
            tile * r.width * r.count * np.dtype(r.dtype).itemsize for r in rasters
        )
        self.path = path
        self.channels = channels
        self.tile = tile
        windows = list(tile_windows(self.info.height, self.info.width, tile, overlap))
        if indexes is not None:
            outside = [i for i in indexes if not 0 <= i < len(windows)]
            if outside:
                raise InputError(
                    'tiles', f'indexes {outside[:5]} outside the plan of {len(windows)}'
                )
            windows = [windows[i] for i in indexes]
        self.windows = windows
        self.skipped = 0
        self._queue: queue.Queue[Tile | BaseException | None] = queue.Queue(
            max(prefetch, 1)
        )
        self._stop = threading.Event()

    def __len__(self) -> int:
        """Number of tiles planned (including those skipped as empty)."""
        return len(self.windows)

    def _read(self) -> None:
        try:
            with capped_block_cache(self.block_cache), open_raster(self.path) as src:
                ref = open_raster(self.reference_path) if self.reference_path else None
                try:
                    for window in self.windows:
                        if self._stop.is_set():
                            return
                        tile = self._tile(src, ref, window)
                        if tile is None:
                            self.skipped += 1
                        else:
                            self._queue.put(tile)
                finally:
                    if ref is not None:
                        ref.close()
            self._queue.put(None)
        except BaseException as err:  # noqa: BLE001 (re-raised in the consumer)
            self._queue.put(err)

    def _tile(self, src: Any, ref: Any, window: Window) -> Tile | None:
        data = read_window(src, window)
        if not data.valid.any():
            return None
        pixels = fit_bands(
            self.normalisation.apply(data.array, data.valid), self.channels
        )
        past = None
        if ref is not None:
            old = read_window(ref, window)
            past = fit_bands(
                self.reference_normalisation.apply(old.array, old.valid), self.channels
            )
        return Tile(window, np.ascontiguousarray(pixels), data.valid, past)

    def __iter__(self) -> Iterator[Tile]:
        """Tiles with data, in row-major order."""
        thread = threading.Thread(target=self._read, daemon=True)
        thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            while thread.is_alive():  # unblock a reader waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    thread.join(0.05)
