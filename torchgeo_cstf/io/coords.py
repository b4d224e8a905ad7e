"""Pixel ↔ map coordinates through the affine transform, and reprojection.

Pixel coordinates are continuous: (0, 0) is the top-left corner of the top-left
pixel, the centre of pixel (row ``i``, column ``j``) is (``j + 0.5``, ``i + 0.5``),
x runs along columns and y down the rows. This is rasterio's and GDAL's
convention and the one every box in torchgeo-cstf uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyproj
from affine import Affine
from pyproj.exceptions import CRSError as PyprojCRSError

from ..errors import CRSError

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def parse_crs(value: Any, *, subject: str = 'crs') -> pyproj.CRS:
    """Turn any common CRS spelling into a :class:`pyproj.CRS`.

    Args:
        value: an EPSG code (``32633``), a string (``"EPSG:32633"``, WKT, PROJ),
            a rasterio or pyproj CRS.
        subject: how to name the input in an error message.

    Returns:
        The parsed CRS.

    Raises:
        CRSError: when the value is empty or not a CRS.
    """
    if value is None or value == '':
        raise CRSError(subject, 'no CRS given')
    try:
        if hasattr(value, 'to_wkt'):
            return pyproj.CRS.from_wkt(value.to_wkt())
        return pyproj.CRS.from_user_input(value)
    except PyprojCRSError as err:
        raise CRSError(subject, f'{value!r} is not a valid CRS ({err})') from err


def crs_name(crs: pyproj.CRS) -> str:
    """``EPSG:32633``, or the name and kind of a CRS without an authority code."""
    authority = crs.to_authority()
    return ':'.join(authority) if authority else f'"{crs.name}" ({crs.type_name})'


def require_transformation(
    source_crs: Any, target_crs: Any, *, source: str, target: str
) -> None:
    """Fail unless PROJ can transform ``source_crs`` into ``target_crs``.

    Args:
        source_crs: the moving raster's CRS (anything :func:`parse_crs` reads).
        target_crs: the CRS it is brought into.
        source: the moving raster's name, the error's subject.
        target: the other raster's name, for the message.

    Raises:
        CRSError: either CRS is invalid, or no coordinate operation links them
            (a local engineering CRS, a CRS of another celestial body).
    """
    src = parse_crs(source_crs, subject=source)
    dst = parse_crs(target_crs, subject=target)
    try:
        pyproj.Transformer.from_crs(src, dst, always_xy=True)
    except pyproj.exceptions.ProjError as err:
        raise CRSError(
            source,
            f'its CRS {crs_name(src)} cannot be transformed to the CRS '
            f'{crs_name(dst)} of {target}: PROJ knows no coordinate operation '
            f'between them ({err})',
        ) from err


def pixel_to_map(transform: Affine, x: Any, y: Any) -> tuple[FloatArray, FloatArray]:
    """Map continuous pixel coordinates to map coordinates.

    Args:
        transform: the raster's affine transform.
        x: column coordinates (scalar or array).
        y: row coordinates, same shape as ``x``.

    Returns:
        Map x (easting) and y (northing) arrays.
    """
    px = np.asarray(x, dtype=np.float64)
    py = np.asarray(y, dtype=np.float64)
    t = transform
    return t.a * px + t.b * py + t.c, t.d * px + t.e * py + t.f


def map_to_pixel(transform: Affine, x: Any, y: Any) -> tuple[FloatArray, FloatArray]:
    """Map map coordinates to continuous pixel coordinates (inverse of the above).

    Args:
        transform: the raster's affine transform.
        x: map x coordinates.
        y: map y coordinates, same shape as ``x``.

    Returns:
        Column and row coordinate arrays.
    """
    return pixel_to_map(~transform, x, y)


def reproject_xy(
    x: Any, y: Any, src_crs: Any, dst_crs: Any
) -> tuple[FloatArray, FloatArray]:
    """Reproject coordinates between two CRSs (axis order is always x, y).

    Args:
        x: x coordinates (easting or longitude).
        y: y coordinates (northing or latitude).
        src_crs: CRS of the input (any form :func:`parse_crs` accepts).
        dst_crs: CRS of the output.

    Returns:
        Reprojected x and y arrays.

    Raises:
        CRSError: when either CRS is invalid or the points cannot be transformed.
    """
    src = parse_crs(src_crs, subject='src_crs')
    dst = parse_crs(dst_crs, subject='dst_crs')
    px = np.asarray(x, dtype=np.float64)
    py = np.asarray(y, dtype=np.float64)
    if src == dst:
        return px.copy(), py.copy()
    try:
        transformer = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        tx, ty = transformer.transform(px, py, errcheck=True)
    except pyproj.exceptions.ProjError as err:
        raise CRSError(
            'coordinates',
            f'cannot transform from {src.to_string()} to {dst.to_string()} ({err})',
        ) from err
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def pixel_map(
    source: tuple[Affine, Any],
    target: tuple[Affine, Any],
    width: float,
    height: float,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Source window pixel → target pixel map implied by two georeferences (2×3).

    Fitted (least squares) on the window's corners and centre, so it is exact
    between rasters in the same CRS and a close affine approximation otherwise.

    Args:
        source: the source raster's (affine transform, CRS).
        target: the target raster's (affine transform, CRS).
        width: window columns.
        height: window rows.
        offset: (column, row) of the window's top-left in the source raster.

    Returns:
        2×3 affine map on continuous pixel coordinates.
    """
    u = np.array([0.0, 1.0, 0.0, 1.0, 0.5]) * width
    v = np.array([0.0, 0.0, 1.0, 1.0, 0.5]) * height
    x, y = pixel_to_map(source[0], u + offset[0], v + offset[1])
    tx, ty = reproject_xy(x, y, source[1], target[1])
    tc, tr = map_to_pixel(target[0], tx, ty)
    design = np.stack((u, v, np.ones_like(u)), axis=1)
    solution, *_ = np.linalg.lstsq(design, np.stack((tc, tr), axis=1), rcond=None)
    affine: np.ndarray[Any, np.dtype[np.float64]] = solution.T
    return affine
