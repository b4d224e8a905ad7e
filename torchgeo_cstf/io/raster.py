"""Open, validate, read by windows and write georeferenced rasters (rasterio)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from ..errors import (
    BandCountError,
    CorruptRasterError,
    EmptyInputError,
    InputError,
    InputNotFoundError,
    NoCRSError,
    NotARasterError,
    OutputError,
    UnsupportedDtypeError,
)
from ..remote import GDAL_REMOTE_OPTIONS, is_remote
from .atomic import atomic_output
from .coords import pixel_to_map

#: the dataset tag that marks this package's synthetic renders (read by
#: :mod:`torchgeo_cstf.models.domain`)
IMAGERY_TAG = 'CSTF_IMAGERY'
#: the tags :func:`write_geotiff` gets for a synthetic render
SYNTHETIC_TAGS = {IMAGERY_TAG: 'synthetic'}

#: Data types every reader of the package can normalise to float.
SUPPORTED_DTYPES: tuple[str, ...] = (
    'uint8',
    'uint16',
    'int16',
    'uint32',
    'int32',
    'float32',
    'float64',
)


@dataclass(frozen=True)
class RasterInfo:
    """What the package needs to know about a raster, read once from its header.

    Attributes:
        path: the path or URI it was opened from.
        width: number of columns.
        height: number of rows.
        count: number of bands.
        dtype: numpy name of the band data type.
        crs: coordinate reference system (``None`` if the file has none).
        transform: affine map from continuous pixel coordinates (column, row; the
            top-left corner of the top-left pixel is (0, 0)) to map coordinates.
        nodata: the nodata value, or ``None``.
        synthetic: whether the file is one of this package's renders (its
            :data:`IMAGERY_TAG` says ``synthetic``).
    """

    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: Affine
    nodata: float | None
    synthetic: bool = False

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in map units."""
        xs, ys = pixel_to_map(
            self.transform,
            [0, self.width, 0, self.width],
            [0, 0, self.height, self.height],
        )
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size (x, y) in map units, both positive."""
        return (
            float(np.hypot(self.transform.a, self.transform.d)),
            float(np.hypot(self.transform.b, self.transform.e)),
        )

    @classmethod
    def from_dataset(cls, src: DatasetReader) -> RasterInfo:
        """Read the header of an open rasterio dataset.

        Args:
            src: an open dataset.

        Returns:
            Its :class:`RasterInfo`.
        """
        return cls(
            path=str(src.name),
            width=int(src.width),
            height=int(src.height),
            count=int(src.count),
            dtype=str(src.dtypes[0]) if src.count else 'none',
            crs=src.crs,
            transform=src.transform,
            nodata=None if src.nodata is None else float(src.nodata),
            synthetic=src.tags().get(IMAGERY_TAG) == 'synthetic',
        )


def _is_uri(path: str) -> bool:
    return '://' in path or path.startswith('/vsi')


def _missing(message: str) -> bool:
    """Whether GDAL's message says a remote object does not exist."""
    return any(
        sign in message
        for sign in ('HTTP response code: 404', 'does not exist', 'No such file')
    )


def open_raster(
    path: str | os.PathLike[str],
    *,
    require_crs: bool = True,
    dtypes: Sequence[str] = SUPPORTED_DTYPES,
    min_bands: int = 1,
    max_bands: int | None = None,
) -> DatasetReader:
    """Open a raster for reading and check that it is usable.

    Use it as a context manager: ``with open_raster(p) as src: ...``.

    Args:
        path: a file path, or a GDAL-readable URI (``s3://``, ``/vsicurl/`` …).
        require_crs: fail when the raster has no CRS.
        dtypes: accepted band data types.
        min_bands: the fewest bands accepted.
        max_bands: the most bands accepted (``None``: no limit).

    Returns:
        The open rasterio dataset.

    Raises:
        InputNotFoundError: the file does not exist.
        NotARasterError: GDAL cannot read it as a raster.
        NoCRSError: it has no CRS and ``require_crs`` is set.
        UnsupportedDtypeError: its data type is not in ``dtypes``.
        BandCountError: its band count is outside [min_bands, max_bands].
    """
    name = os.fspath(path)
    if not _is_uri(name) and not os.path.exists(name):
        raise InputNotFoundError(name, 'no such file')
    if not _is_uri(name) and os.path.isdir(name):
        raise NotARasterError(name, 'is a directory, not a raster file')
    if is_remote(name):
        for key, value in GDAL_REMOTE_OPTIONS.items():
            os.environ.setdefault(key, value)  # the user's own values win
    try:
        src = rasterio.open(name)
    except RasterioIOError as err:
        if _is_uri(name) and _missing(str(err)):
            raise InputNotFoundError(name, f'no such object ({err})') from err
        raise NotARasterError(name, f'not a readable raster ({err})') from err
    try:
        _validate(src, name, require_crs, dtypes, min_bands, max_bands)
    except InputError:
        src.close()
        raise
    return src


def _validate(
    src: DatasetReader,
    name: str,
    require_crs: bool,
    dtypes: Sequence[str],
    min_bands: int,
    max_bands: int | None,
) -> None:
    if src.count == 0:
        raise NotARasterError(name, 'contains no raster bands')
    if require_crs and src.crs is None:
        raise NoCRSError(
            name, 'has no coordinate reference system (georeference it first)'
        )
    bad = sorted({d for d in src.dtypes if d not in dtypes})
    if bad:
        raise UnsupportedDtypeError(
            name, f'band data type {", ".join(bad)} is not one of {", ".join(dtypes)}'
        )
    if src.count < min_bands or (max_bands is not None and src.count > max_bands):
        wanted = (
            f'at least {min_bands}'
            if max_bands is None
            else f'{min_bands}–{max_bands}'
            if max_bands != min_bands
            else f'exactly {min_bands}'
        )
        raise BandCountError(name, f'has {src.count} bands, needs {wanted}')


def read_raster_info(
    path: str | os.PathLike[str], *, require_crs: bool = True
) -> RasterInfo:
    """Open, validate and describe a raster, then close it.

    Args:
        path: the raster to describe.
        require_crs: fail when the raster has no CRS.

    Returns:
        Its :class:`RasterInfo`.
    """
    with open_raster(path, require_crs=require_crs) as src:
        return RasterInfo.from_dataset(src)


@dataclass(frozen=True)
class WindowData:
    """Pixels of one window and where they are valid.

    Attributes:
        array: band values, shape (C, height, width), in the raster's dtype.
        valid: True where every band holds data (not nodata, not outside the
            raster), shape (height, width).
        window: the window that was read, in pixel coordinates of the raster.
    """

    array: np.ndarray[Any, Any]
    valid: np.ndarray[Any, np.dtype[np.bool_]]
    window: Window


def _reason(err: BaseException) -> str:
    """GDAL's own message: rasterio's "Read failed" points at its cause."""
    cause = err.__cause__ or err.__context__
    return str(cause or err).strip() or type(err).__name__


def read_pixels(
    src: DatasetReader, where: str, *, masks: bool = False, **options: Any
) -> np.ndarray[Any, Any]:
    """``src.read(**options)`` (or ``read_masks``), a failure named as a corrupt file.

    Args:
        src: an open dataset.
        where: what is read, for the message (``rows 0–511, cols 0–511``, ``an
            overview``).
        masks: read the validity masks instead of the values.
        **options: arguments of ``DatasetReader.read`` / ``read_masks``.

    Returns:
        The array read.

    Raises:
        CorruptRasterError: GDAL cannot read or decode those pixels: a
            truncated file (a partial download), a damaged block, or a
            compression this GDAL cannot decode.
    """
    try:
        array = src.read_masks(**options) if masks else src.read(**options)
    except RasterioError as err:
        compression = getattr(src.compression, 'value', src.compression)
        codec = f', compression {compression}' if compression else ''
        raise CorruptRasterError(
            src.name,
            f'cannot read {where} ({_reason(err)}{codec}): the file is truncated '
            'or damaged (a partial download?) or its encoding is not supported',
        ) from err
    return np.asanyarray(array)


#: longest side of the overview whole-scene checks and statistics are taken on
OVERVIEW_SIZE = 1024


@dataclass(frozen=True)
class Overview:
    """A raster decimated (nearest) to a long side of :data:`OVERVIEW_SIZE`.

    Attributes:
        values: (C, h, w) float64 values.
        valid: (h, w) True where every band's mask is set and every value finite.
    """

    values: np.ndarray[Any, np.dtype[np.float64]]
    valid: np.ndarray[Any, np.dtype[np.bool_]]


def read_valid_overview(src: DatasetReader, purpose: str) -> Overview:
    """The raster's overview, refused when it holds no valid pixel.

    The one test of "no data at all" (all nodata or NaN), for detection and
    matching alike; it reads an overview (memory does not grow with the
    raster), so a scene whose only data is finer than its decimation could
    pass as empty — a raster a tenth of a percent full is not a scene.

    Args:
        src: an open dataset.
        purpose: what the raster is for, in the message (``detect``, ``match``).

    Returns:
        The overview.

    Raises:
        EmptyInputError: no pixel of the overview is valid.
        CorruptRasterError: the overview cannot be read.
    """
    scale = max(max(src.height, src.width) / OVERVIEW_SIZE, 1.0)
    shape = (
        src.count,
        max(round(src.height / scale), 1),
        max(round(src.width / scale), 1),
    )
    data = read_pixels(
        src,
        'a decimated overview',
        out_shape=shape,
        resampling=Resampling.nearest,
        masked=True,
    )
    values = np.asarray(data.data, dtype=np.float64)
    valid = ~np.ma.getmaskarray(data).any(axis=0) & np.isfinite(values).all(axis=0)
    refuse_empty(valid, src.name, purpose)
    return Overview(values, valid)


def refuse_empty(
    valid: np.ndarray[Any, np.dtype[np.bool_]], name: str, purpose: str
) -> None:
    """Raise :class:`EmptyInputError` when no pixel of ``valid`` is set.

    The one rule (and message) for "no data at all", whatever read found it.

    Args:
        valid: (h, w) True where a pixel holds data (mask set, values finite).
        name: the raster, in the message.
        purpose: what the raster is for (``detect``, ``match``).
    """
    if not valid.any():
        raise EmptyInputError(
            name, f'has no valid pixel (all nodata or NaN): nothing to {purpose}'
        )


def describe_window(window: Window) -> str:
    """``rows 512–1023, cols 0–511`` (inclusive pixel ranges)."""
    row, col = round(window.row_off), round(window.col_off)
    height, width = round(window.height), round(window.width)
    return f'rows {row}–{row + height - 1}, cols {col}–{col + width - 1}'


def read_window(
    src: DatasetReader, window: Window, *, bands: Sequence[int] | None = None
) -> WindowData:
    """Read a window, padding with nodata where it extends beyond the raster.

    Args:
        src: an open dataset.
        window: the window to read (may extend past the edges).
        bands: 1-based band indexes to read (default: all).

    Returns:
        The pixels and their validity mask; NaN and infinite values of float
        bands count as nodata.

    Raises:
        CorruptRasterError: the window's pixels cannot be read.
    """
    indexes = list(bands) if bands is not None else list(range(1, src.count + 1))
    fill = src.nodata if src.nodata is not None else 0
    # rasterio's boundless reads go through a WarpedVRT, which resamples
    # rasters with a rotated geotransform north-up: pad by hand instead
    row, col = round(window.row_off), round(window.col_off)
    height, width = round(window.height), round(window.width)
    top, bottom = max(row, 0), min(row + height, src.height)
    left, right = max(col, 0), min(col + width, src.width)
    dtype = np.result_type(*(src.dtypes[i - 1] for i in indexes))
    array = np.full((len(indexes), height, width), fill, dtype=dtype)
    valid = np.zeros((height, width), dtype=bool)
    if top < bottom and left < right:
        inner = Window(left, top, right - left, bottom - top)
        rows = slice(top - row, bottom - row)
        cols = slice(left - col, right - col)
        where = describe_window(inner)
        array[:, rows, cols] = read_pixels(src, where, indexes=indexes, window=inner)
        masks = read_pixels(src, where, masks=True, indexes=indexes, window=inner)
        valid[rows, cols] = np.all(masks > 0, axis=0)
        if np.issubdtype(dtype, np.floating):
            valid &= np.isfinite(array).all(axis=0)
    return WindowData(array=array, valid=valid, window=window)


def tile_windows(
    height: int, width: int, size: int, overlap: int = 0
) -> Iterator[Window]:
    """Cover an image with square windows of ``size`` that overlap by ``overlap``.

    Windows step by ``size - overlap``; the last row and column of windows are
    shifted back to end at the image edge, so every window lies inside the image
    when the image is at least ``size`` wide (smaller images give one window of
    ``size`` that is read boundless).

    Args:
        height: image rows.
        width: image columns.
        size: window side in pixels.
        overlap: pixels shared by neighbouring windows (``0 <= overlap < size``).

    Yields:
        Windows in row-major order.

    Raises:
        InputError: on a non-positive size or an overlap outside [0, size).
    """
    if size <= 0:
        raise InputError('size', f'must be positive, got {size}')
    if not 0 <= overlap < size:
        raise InputError('overlap', f'must be in [0, size={size}), got {overlap}')
    for row in _starts(height, size, size - overlap):
        for col in _starts(width, size, size - overlap):
            yield Window(col, row, size, size)


def _starts(length: int, size: int, step: int) -> list[int]:
    if length <= size:
        return [0]
    starts = list(range(0, length - size, step))
    starts.append(length - size)
    return starts


def write_geotiff(
    path: str | os.PathLike[str],
    array: np.ndarray[Any, Any],
    *,
    crs: CRS | str | int,
    transform: Affine,
    nodata: float | None = None,
    band_names: Sequence[str] | None = None,
    compress: str = 'deflate',
    tags: Mapping[str, str] | None = None,
) -> None:
    """Write a (C, H, W) array as a tiled, compressed GeoTIFF, atomically.

    Args:
        path: output path.
        array: band values, shape (C, H, W) or (H, W).
        crs: CRS of the map coordinates (anything rasterio's ``CRS`` accepts, or an
            EPSG code).
        transform: affine map from pixel to map coordinates.
        nodata: nodata value to record.
        band_names: optional band descriptions, one per band.
        compress: GDAL compression (``deflate``, ``lzw``, ``zstd``, ``none``).
        tags: dataset metadata items (GDAL's default domain).

    Raises:
        InputError: when ``array`` is not 2-D or 3-D or its dtype is unsupported,
            or ``band_names`` has the wrong length.
        OutputError: when GDAL cannot write the file.
    """
    data = array[None] if array.ndim == 2 else array
    if data.ndim != 3:
        raise InputError('array', f'must be (C, H, W) or (H, W), got {array.shape}')
    if str(data.dtype) not in SUPPORTED_DTYPES:
        raise UnsupportedDtypeError('array', f'dtype {data.dtype} cannot be written')
    if band_names is not None and len(band_names) != data.shape[0]:
        raise InputError(
            'band_names', f'has {len(band_names)} names for {data.shape[0]} bands'
        )
    rio_crs = CRS.from_epsg(crs) if isinstance(crs, int) else CRS.from_user_input(crs)
    count, height, width = data.shape
    profile: dict[str, Any] = {
        'driver': 'GTiff',
        'width': width,
        'height': height,
        'count': count,
        'dtype': str(data.dtype),
        'crs': rio_crs,
        'transform': transform,
        'nodata': nodata,
        'compress': compress,
        'interleave': 'pixel' if count <= 4 else 'band',
    }
    if height >= 256 and width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with atomic_output(path) as tmp:
        try:
            with rasterio.open(tmp, 'w', **profile) as dst:
                dst.write(data)
                if tags:
                    dst.update_tags(**tags)
                if band_names is not None:
                    for index, name in enumerate(band_names, start=1):
                        dst.set_band_description(index, name)
        except rasterio.errors.RasterioError as err:
            raise OutputError(f'{path}: GDAL could not write it ({err})') from err
