"""Co-register a query acquisition onto a reference with CSTF matching."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import rasterio
import rasterio.shutil
import torch
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from shapely.geometry import Point
from tqdm import tqdm

from ..errors import CRSError, InputError, NoOverlapError
from ..io.atomic import atomic_output, temporary_sibling
from ..io.coords import (
    map_to_pixel,
    parse_crs,
    pixel_map,
    pixel_to_map,
    reproject_xy,
    require_transformation,
)
from ..io.raster import RasterInfo, open_raster, read_valid_overview, read_window
from ..io.vector import Feature, write_features
from ..models.matcher import CSTFMatcher, Matches
from ..models.transform import Transform, estimate_transform
from ..ops.homography import apply_homography
from ..options import RegistrationOptions, options_or_keywords
from .matching import DEFAULT_MATCHER, match, resolve_matcher

#: share of valid pixels a reference window needs to be matched
MIN_VALID_SHARE = 0.5
#: attribute schema of the tie-point layer
TIE_POINT_SCHEMA: dict[str, str] = {
    'ref_col': 'float',
    'ref_row': 'float',
    'query_col': 'float',
    'query_row': 'float',
    'query_x': 'float',
    'query_y': 'float',
    'confidence': 'float',
    'inlier': 'bool',
    'residual_px': 'float',
}


@dataclass(frozen=True)
class Coregistration:
    """The result of :func:`coregister`.

    Attributes:
        reference: the reference raster's header.
        query: the query raster's header.
        matches: all matches, in full-resolution pixels of each raster.
        transform: the robust reference → query pixel transform (3×3 matrix
            and inliers), or ``None`` when no consistent transform was found.
        windows: reference windows that were matched.
        residuals: (N,) distance in query pixels between each match and the
            transform's prediction (NaN without a transform).
        method: the matching method asked for (``auto``, ``cstf``, ``dense``).
    """

    reference: RasterInfo
    query: RasterInfo
    matches: Matches
    transform: Transform | None
    windows: list[Window]
    residuals: np.ndarray[Any, np.dtype[np.float64]]
    method: str = 'auto'

    @property
    def inliers(self) -> int:
        """Number of matches consistent with the transform."""
        return 0 if self.transform is None else int(self.transform.inliers.sum())

    @property
    def rmse_px(self) -> float:
        """Root-mean-square residual of the inliers, in query pixels (NaN if none)."""
        if self.transform is None or not self.transform.inliers.any():
            return math.nan
        return float(np.sqrt(np.mean(self.residuals[self.transform.inliers] ** 2)))

    @property
    def rmse_m(self) -> float:
        """:attr:`rmse_px` in the query's map units (metres for projected CRSs)."""
        return self.rmse_px * float(np.mean(self.query.resolution))

    def report(self) -> dict[str, Any]:
        """A JSON-ready summary (counts, RMSE, the fitted model and matrix)."""
        return {
            'reference': self.reference.path,
            'query': self.query.path,
            'method': self.method,
            'transform': None if self.transform is None else self.transform.model,
            'windows': len(self.windows),
            'matches': len(self.matches.confidence),
            'inliers': self.inliers,
            'rmse_px': self.rmse_px,
            'rmse_map_units': self.rmse_m,
            'matrix': None
            if self.transform is None
            else self.transform.matrix.tolist(),
        }


def overlap_in_reference(ref: RasterInfo, qry: RasterInfo) -> Window:
    """The reference pixels covered by the query's footprint.

    Raises:
        CRSError: when the query's footprint cannot be expressed in the
            reference CRS (see
            :func:`~torchgeo_cstf.io.coords.require_transformation`).
        NoOverlapError: when the footprints do not overlap.
    """
    require_transformation(qry.crs, ref.crs, source=qry.path, target=ref.path)
    try:
        left, bottom, right, top = transform_bounds(
            qry.crs, ref.crs, *qry.bounds, densify_pts=21
        )
    except Exception as err:  # rasterio raises CRSError/CPLE_* subclasses
        raise CRSError(
            qry.path, f'footprint cannot be reprojected to {ref.crs}: {err}'
        ) from err
    cols, rows = map_to_pixel(
        ref.transform, [left, right, left, right], [bottom, bottom, top, top]
    )
    col0, col1 = max(float(cols.min()), 0.0), min(float(cols.max()), ref.width)
    row0, row1 = max(float(rows.min()), 0.0), min(float(rows.max()), ref.height)
    if col1 - col0 < 32 or row1 - row0 < 32:
        raise NoOverlapError(
            qry.path, f'its footprint does not overlap the reference {ref.path}'
        )
    return Window(col0, row0, col1 - col0, row1 - row0)


def plan_windows(area: Window, size: int, count: int) -> list[Window]:
    """Up to ``count`` windows of ``size`` spread evenly over ``area`` (a grid)."""
    side = max(1, math.isqrt(count))
    width, height = min(size, int(area.width)), min(size, int(area.height))
    windows = [
        Window(
            round(area.col_off + (area.width - width) * (j + 0.5) / side),
            round(area.row_off + (area.height - height) * (i + 0.5) / side),
            width,
            height,
        )
        for i in range(side)
        for j in range(side)
    ]
    return list(dict.fromkeys(windows))


def georeference_affine(
    ref: RasterInfo, qry: RasterInfo, window: Window
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Window pixel → query pixel map implied by the two georeferences (2×3).

    See :func:`~torchgeo_cstf.io.coords.pixel_map`.
    """
    return pixel_map(
        (ref.transform, ref.crs),
        (qry.transform, qry.crs),
        window.width,
        window.height,
        (window.col_off, window.row_off),
    )


def resample_query(
    src: Any, affine: np.ndarray[Any, Any], height: int, width: int
) -> np.ndarray[Any, Any]:
    """The query resampled into a reference window's frame (bilinear; 0 outside).

    Args:
        src: the open query dataset.
        affine: window pixel → query pixel map (2×3, continuous coordinates).
        height: window rows.
        width: window columns.

    Returns:
        (C, height, width) array in the query's dtype.
    """
    corners = affine @ np.array(
        [[0.0, width, 0.0, width], [0.0, 0.0, height, height], [1.0, 1.0, 1.0, 1.0]]
    )
    col0, row0 = math.floor(corners[0].min()) - 2, math.floor(corners[1].min()) - 2
    col1, row1 = math.ceil(corners[0].max()) + 2, math.ceil(corners[1].max()) + 2
    data = read_window(src, Window(col0, row0, col1 - col0, row1 - row0)).array
    # continuous coordinates: array index i holds the pixel centred at i + 0.5
    a, b, c = affine[0]
    d, e, f = affine[1]
    inverse_map = np.array(
        [[a, b, 0.5 * (a + b) + c - 0.5 - col0], [d, e, 0.5 * (d + e) + f - 0.5 - row0]]
    )
    out = np.stack(
        [
            cv2.warpAffine(
                band.astype(np.float32),
                inverse_map,
                (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            for band in data
        ]
    )
    return out


def coregister(
    reference: str | os.PathLike[str],
    query: str | os.PathLike[str],
    model: CSTFMatcher | str | os.PathLike[str] = DEFAULT_MATCHER,
    options: RegistrationOptions | None = None,
    *,
    device: str | torch.device = 'cpu',
    progress: bool = False,
    **keywords: Any,
) -> Coregistration:
    """Find the transform that maps reference pixels to query pixels.

    The footprints are intersected in the reference CRS; up to ``windows``
    reference windows of ``window`` pixels (see
    :class:`~torchgeo_cstf.options.RegistrationOptions`) spread over the overlap are each
    matched with the query resampled into the window's frame by the affine map
    the two georeferences imply (so the matcher only has to find the
    georeference's residual error, whatever the two rasters' CRSs, pixel sizes
    and orientations). Matches are mapped back to full-resolution query pixels
    through that affine map, and all of them feed one robust fit (MAGSAC++) of
    the whole scene.

    Args:
        reference: the reference raster (the grid to align to).
        query: the raster to align.
        model: CSTF matcher (instance, weights name or checkpoint; see
            :func:`match`); unused by ``dense``.
        options: method (``auto``, ``cstf`` or ``dense``, see
            :mod:`~torchgeo_cstf.inference.methods`; the georeferences are the
            prior, so no rotation search is run), window side, number of
            windows (a square grid: 1, 4, 9, 16, ...), transform model,
            confidence and inlier thresholds (default
            :class:`RegistrationOptions() <torchgeo_cstf.options.RegistrationOptions>`).
        device: where the matcher runs.
        progress: show a progress bar on stderr.
        **keywords: deprecated: ``method``, ``window``, ``max_windows``,
            ``transform_model``, ``min_confidence``, ``threshold`` as keywords;
            they go in the next release.

    Returns:
        The matches, the transform and the residuals.

    Raises:
        EmptyInputError: either raster has no valid pixel (all nodata or NaN;
            see :func:`~torchgeo_cstf.io.raster.read_valid_overview`).
        NoOverlapError: the footprints do not overlap.
        CRSError: the CRSs cannot be reconciled.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from torchgeo_cstf.synthetic import generate_pair
        >>> from torchgeo_cstf.inference.coregister import coregister
        >>> from torchgeo_cstf.options import RegistrationOptions
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = generate_pair(
        ...     folder / 'ref.tif', folder / 'new.tif', 0, size=(512, 512),
        ...     modality='optical', warp='similarity', rotation=(-2, 2),
        ...     scale=(0.98, 1.02),
        ... )  # the new acquisition's georeference is 8 px off
        >>> dense = RegistrationOptions(method='dense')
        >>> result = coregister(folder / 'ref.tif', folder / 'new.tif', options=dense)
        >>> result.transform is not None and result.rmse_px < 1.0
        True
    """
    options = options_or_keywords(
        RegistrationOptions,
        options,
        keywords,
        'coregister',
        {
            'max_windows': 'windows',
            'transform_model': 'transform',
            'threshold': 'inlier_threshold',
        },
    )
    method = options.method
    with open_raster(reference) as src:
        ref = RasterInfo.from_dataset(src)
        read_valid_overview(src, 'match')
    with open_raster(query) as src:
        qry = RasterInfo.from_dataset(src)
        read_valid_overview(src, 'match')
    matcher = None if method == 'dense' else resolve_matcher(model).to(device).eval()
    windows = plan_windows(
        overlap_in_reference(ref, qry), options.window, options.windows
    )
    ref_xy, qry_xy, conf, used = [], [], [], []
    with open_raster(reference) as ref_src, open_raster(query) as qry_src:
        for ref_window in tqdm(windows, unit='window', disable=not progress):
            ref_data = read_window(ref_src, ref_window)
            if ref_data.valid.mean() < MIN_VALID_SHARE:
                continue
            affine = georeference_affine(ref, qry, ref_window)
            height, width = int(ref_window.height), int(ref_window.width)
            qry_pixels = resample_query(qry_src, affine, height, width)
            found = match(
                ref_data.array,
                qry_pixels,
                matcher if matcher is not None else DEFAULT_MATCHER,
                method=method,
                search=False,
                transform_model=options.transform,
                min_confidence=options.min_confidence,
                max_size=max(height, width),
                device=device,
            ).matches
            if len(found.confidence) == 0:
                continue
            used.append(ref_window)
            offset = torch.tensor([ref_window.col_off, ref_window.row_off])
            ref_xy.append(found.ref_xy.double() + offset)
            qry_xy.append(
                found.query_xy.double() @ torch.from_numpy(affine[:, :2]).T
                + torch.from_numpy(affine[:, 2])
            )
            conf.append(found.confidence)
    if not ref_xy:
        return Coregistration(
            ref, qry, Matches.empty(), None, used, np.zeros(0), method
        )
    matches = Matches(torch.cat(ref_xy), torch.cat(qry_xy), torch.cat(conf))
    fitted = estimate_transform(
        matches, options.transform, threshold=options.inlier_threshold
    )
    residuals = np.full(len(matches.confidence), np.nan)
    if fitted is not None:
        predicted = apply_homography(fitted.matrix, matches.ref_xy.numpy())
        residuals = np.linalg.norm(predicted - matches.query_xy.numpy(), axis=1)
    return Coregistration(ref, qry, matches, fitted, used, residuals, method)


def write_tie_points(
    result: Coregistration, path: str | os.PathLike[str], *, layer: str = 'tie_points'
) -> None:
    """Write the matches as points in the reference CRS (GeoPackage or GeoJSON).

    Each point lies where the reference sees the feature; ``query_x``/``query_y``
    is where the query's own georeference puts it (their difference is the
    query's georeference error there).
    """
    ref, qry, m = result.reference, result.query, result.matches
    rx, ry = pixel_to_map(ref.transform, m.ref_xy[:, 0].numpy(), m.ref_xy[:, 1].numpy())
    qx, qy = pixel_to_map(
        qry.transform, m.query_xy[:, 0].numpy(), m.query_xy[:, 1].numpy()
    )
    qx, qy = reproject_xy(qx, qy, qry.crs, ref.crs)
    inliers = (
        result.transform.inliers
        if result.transform is not None
        else np.zeros(len(rx), bool)
    )
    features = [
        Feature(
            Point(float(rx[i]), float(ry[i])),
            {
                'ref_col': float(m.ref_xy[i, 0]),
                'ref_row': float(m.ref_xy[i, 1]),
                'query_col': float(m.query_xy[i, 0]),
                'query_row': float(m.query_xy[i, 1]),
                'query_x': float(qx[i]),
                'query_y': float(qy[i]),
                'confidence': float(m.confidence[i]),
                'inlier': bool(inliers[i]),
                'residual_px': float(result.residuals[i]),
            },
        )
        for i in range(len(rx))
    ]
    write_features(
        path,
        features,
        crs=parse_crs(ref.crs),
        layer=layer,
        schema=TIE_POINT_SCHEMA,
        geometry_type='Point',
    )


def warp_to_reference(
    result: Coregistration,
    path: str | os.PathLike[str],
    *,
    block: int = 1024,
    progress: bool = False,
) -> None:
    """Resample the query onto the reference grid and write a Cloud-Optimized GeoTIFF.

    The output has the reference's CRS, transform and size and the query's
    bands, dtype and metadata tags (acquisition time, ``CSTF_IMAGERY``); pixels
    the query does not cover are nodata. The work is
    done in ``block``-row strips (bilinear, OpenCV ``remap``), each reading only
    the query region it needs, so memory does not grow with the scene.

    Raises:
        InputError: when the co-registration found no transform.
    """
    if result.transform is None:
        raise InputError(result.query.path, 'no transform was found; nothing to warp')
    ref, qry = result.reference, result.query
    matrix = result.transform.matrix
    nodata = qry.nodata if qry.nodata is not None else 0
    profile = {
        'driver': 'GTiff',
        'width': ref.width,
        'height': ref.height,
        'count': qry.count,
        'dtype': qry.dtype,
        'crs': ref.crs,
        'transform': ref.transform,
        'nodata': nodata,
        'tiled': True,
        'blockxsize': 512,
        'blockysize': 512,
        'compress': 'deflate',
        'BIGTIFF': 'IF_SAFER',
    }
    strip = temporary_sibling(path)
    try:
        with open_raster(qry.path) as src, rasterio.open(strip, 'w', **profile) as dst:
            # the same acquisition: its metadata (time, imagery kind) carries over
            dst.update_tags(**src.tags())
            rows = range(0, ref.height, block)
            for row in tqdm(rows, unit='strip', disable=not progress):
                height = min(block, ref.height - row)
                dst.write(
                    _warp_strip(src, matrix, row, height, ref.width, nodata),
                    window=Window(0, row, ref.width, height),
                )
        with atomic_output(path) as temporary:
            rasterio.shutil.copy(
                strip, temporary, driver='COG', compress='DEFLATE', overviews='AUTO'
            )
    finally:
        strip.unlink(missing_ok=True)


def _warp_strip(
    src: Any,
    matrix: np.ndarray[Any, Any],
    row: int,
    height: int,
    width: int,
    nodata: float,
) -> np.ndarray[Any, Any]:
    """One strip of the query resampled on reference rows ``row:row+height``."""
    cols, rows = np.meshgrid(
        np.arange(width, dtype=np.float64) + 0.5,
        np.arange(row, row + height, dtype=np.float64) + 0.5,
    )
    points = np.stack((cols.ravel(), rows.ravel()), axis=1)
    qxy = apply_homography(matrix, points).reshape(height, width, 2)
    out = np.full((src.count, height, width), nodata, dtype=src.dtypes[0])
    finite = np.isfinite(qxy).all(axis=2)
    if not finite.any():
        return out
    x0 = max(math.floor(np.nanmin(qxy[..., 0][finite])) - 1, 0)
    y0 = max(math.floor(np.nanmin(qxy[..., 1][finite])) - 1, 0)
    x1 = min(math.ceil(np.nanmax(qxy[..., 0][finite])) + 2, src.width)
    y1 = min(math.ceil(np.nanmax(qxy[..., 1][finite])) + 2, src.height)
    if x1 <= x0 or y1 <= y0:
        return out
    data = read_window(src, Window(x0, y0, x1 - x0, y1 - y0))
    # pixel centres: continuous coordinate c maps to array index c - 0.5
    map_x = (qxy[..., 0] - x0 - 0.5).astype(np.float32)
    map_y = (qxy[..., 1] - y0 - 0.5).astype(np.float32)
    valid = cv2.remap(
        data.valid.astype(np.uint8),
        map_x,
        map_y,
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).astype(bool)
    for band in range(src.count):
        values = cv2.remap(
            data.array[band].astype(np.float32),
            map_x,
            map_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        if np.issubdtype(out.dtype, np.integer):
            info = np.iinfo(out.dtype)
            values = np.clip(np.rint(values), info.min, info.max)
        out[band][valid] = values[valid].astype(out.dtype)
    return out
