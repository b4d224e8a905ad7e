"""Match two images — tensors, arrays or georeferenced rasters — with a CSTF matcher."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from affine import Affine
from rasterio.enums import Resampling
from torch import Tensor

from ..errors import InputError
from ..io.coords import (
    parse_crs,
    pixel_map,
    pixel_to_map,
    reproject_xy,
    require_transformation,
)
from ..io.radiometry import percentile_stretch
from ..io.raster import open_raster, read_pixels, refuse_empty
from ..models.dense import DenseMatcher
from ..models.matcher import CSTFMatcher, Matches
from ..models.registry import MATCHERS, resolve_model
from ..models.transform import Transform
from ..ops.homography import Matrix, scaling
from ..options import MatchMethod, TransformModel
from .methods import PairMatcher, check_method

ImageInput = str | os.PathLike[str] | np.ndarray[Any, Any] | Tensor

#: the matcher of calls that name none (its shipped weights), and the model a
#: bare state dict is loaded into
DEFAULT_MATCHER: str = MATCHERS.default or 'cstf_matcher_regnetx_004'


@dataclass(frozen=True)
class LoadedImage:
    """An input image prepared for matching.

    Attributes:
        pixels: (C, h, w) float32 in [0, 1], possibly downsampled.
        scale: original pixels per loaded pixel (1 when not downsampled).
        crs: the raster's CRS (``None`` for arrays and tensors).
        transform: the raster's affine transform (``None`` for arrays).
        name: the path, or ``'array'``.
    """

    pixels: np.ndarray[Any, np.dtype[np.float32]]
    scale: float
    crs: Any
    transform: Affine | None
    name: str


@dataclass(frozen=True)
class MatchResult:
    """Matches between two images, a robust transform and tie points.

    Attributes:
        matches: correspondences in the inputs' full-resolution pixel coordinates.
        transform: reference → query pixel transform (``None`` when no
            consistent one was found).
        tie_points: for georeferenced inputs, (N, 4) ``x_ref, y_ref, x_query,
            y_query`` in the reference CRS: where each matched point lies in
            the reference, and where the query's own georeference puts it.
        crs: the reference CRS of the tie points, as ``AUTHORITY:CODE`` or WKT.
        method: what found the matches (``cstf``, ``dense``, ``cstf+dense``).
    """

    matches: Matches
    transform: Transform | None
    tie_points: np.ndarray[Any, np.dtype[np.float64]] | None
    crs: str | None
    method: str = 'cstf'

    @property
    def inlier_matches(self) -> Matches:
        """The matches consistent with :attr:`transform` (all when none)."""
        if self.transform is None:
            return self.matches
        keep = torch.from_numpy(self.transform.inliers)
        m = self.matches
        return Matches(m.ref_xy[keep], m.query_xy[keep], m.confidence[keep])


def load_image(image: ImageInput, max_size: int) -> LoadedImage:
    """Read and normalise an input, downsampling so its long side ≤ ``max_size``.

    Rasters are read decimated by GDAL (memory bounded by ``max_size``); arrays
    and tensors (``(C, H, W)`` or ``(H, W)``) are used as they are. Values are
    percentile-stretched per band (2–98 %) over valid pixels.

    Args:
        image: a raster path, a NumPy array or a tensor.
        max_size: longest side after loading, in pixels.

    Returns:
        The loaded image.

    Raises:
        InputError: bad array shape, or a raster that cannot be read.
        EmptyInputError: a raster without a valid pixel at the resolution
            read (all nodata or NaN; :func:`~torchgeo_cstf.io.raster.refuse_empty`).
    """
    if isinstance(image, str | os.PathLike):
        with open_raster(image, require_crs=False) as src:
            scale = max(src.height, src.width) / max_size
            scale = max(scale, 1.0)
            shape = (
                src.count,
                max(round(src.height / scale), 1),
                max(round(src.width / scale), 1),
            )
            where = 'a decimated overview'
            data = read_pixels(
                src, where, out_shape=shape, resampling=Resampling.average
            )
            mask = (
                read_pixels(src, where, masks=True, indexes=1, out_shape=shape[1:]) > 0
            ) & np.isfinite(data).all(axis=0)
            # the pixels read are the ones tested: no second, overview read
            refuse_empty(mask, src.name, 'match')
            return LoadedImage(
                percentile_stretch(data, mask),
                src.height / shape[1],
                src.crs,
                src.transform,
                str(Path(image)),
            )
    array = (
        image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    )
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape[1:]) < 32:
        raise InputError(
            'image', f'must be (C, H, W) or (H, W) with H, W >= 32, got {array.shape}'
        )
    if max(array.shape[1:]) > max_size:
        raise InputError(
            'image',
            f'is {array.shape[1]}x{array.shape[2]}, larger than max_size={max_size}',
        )
    return LoadedImage(percentile_stretch(array), 1.0, None, None, 'array')


def resolve_matcher(model: CSTFMatcher | str | os.PathLike[str]) -> CSTFMatcher:
    """The matcher named by ``model``.

    Args:
        model: a :class:`CSTFMatcher`, or what
            :func:`~torchgeo_cstf.models.registry.resolve_model` reads (in its
            order): the path of a ``CSTFMatching`` Lightning checkpoint (built
            from its hyperparameters) or of a state dict of
            :data:`DEFAULT_MATCHER`; a weights name
            (``CSTFMatcherRegNetX004_Weights.SYNTHETIC``); a registered matcher
            name with released weights. A matcher with random weights is used
            only when given as an object (``get_model('cstf_matcher_resnet50')``).

    Returns:
        The matcher.

    Raises:
        ModelNotFoundError: an unknown name, a name without released weights
            or a path that does not exist.
        InputError: weights that are not a matcher's or do not fit it.
    """
    built = resolve_model(model, MATCHERS).model
    if not isinstance(built, CSTFMatcher):  # resolve_model checked the kind
        raise InputError('model', f'{model} is not a matcher')
    return built


def _georeference_prior(ref: LoadedImage, qry: LoadedImage) -> Matrix | None:
    """Loaded reference pixel → loaded query pixel map of the georeferences."""
    if ref.crs is None or qry.crs is None:
        return None
    if ref.transform is None or qry.transform is None:
        return None
    height, width = ref.pixels.shape[1:]
    affine = pixel_map(
        (ref.transform, ref.crs),
        (qry.transform, qry.crs),
        width * ref.scale,
        height * ref.scale,
    )
    full = np.vstack((affine, [0.0, 0.0, 1.0]))
    loaded: Matrix = scaling(1 / qry.scale) @ full @ scaling(ref.scale)
    return loaded


def match(
    reference: ImageInput,
    query: ImageInput,
    model: CSTFMatcher | str | os.PathLike[str] = DEFAULT_MATCHER,
    *,
    method: MatchMethod = 'auto',
    prior: Matrix | None = None,
    search: bool | None = None,
    transform_model: TransformModel | None = None,
    min_confidence: float = 0.2,
    max_size: int = 1024,
    dense: DenseMatcher | None = None,
    device: str | torch.device = 'cpu',
) -> MatchResult:
    """Match a reference and a query image and fit a robust transform.

    The images are matched around a *prior* reference → query map: ``prior``
    when given, else the one the two georeferences imply when both inputs are
    georeferenced rasters; without either, the rotation/scale search
    (:func:`~torchgeo_cstf.models.search.search_rotation_scale`) proposes
    priors under any rotation and scales 0.5–2 (``search`` forces it on or
    off). See :mod:`~torchgeo_cstf.inference.methods` for the methods.

    Args:
        reference: raster path, array or tensor ((C, H, W), any dtype).
        query: raster path, array or tensor.
        model: the CSTF matcher (see :func:`resolve_matcher`); by default the
            shipped :data:`DEFAULT_MATCHER` (unused by ``dense``).
        method: ``auto`` (dense, with CSTF where dense finds too little),
            ``cstf`` or ``dense``.
        prior: 3×3 reference → query map in full-resolution pixels.
        search: search rotations and scales (default: when no prior is known).
        transform_model: ``homography`` or ``affine`` (default: affine around
            an affine prior — georeferences, ``prior`` or identity —, a
            homography when searching; see
            :func:`~torchgeo_cstf.inference.methods.fitted_model`).
        min_confidence: drop CSTF matches less probable than this.
        max_size: images are downsampled so their long side is at most this.
        dense: the dense matcher's settings (default :class:`DenseMatcher`).
        device: where to run the CSTF matcher.

    Returns:
        The matches (full-resolution pixels), the transform, the method that
        produced them and, when both inputs are georeferenced rasters, tie
        points in the reference CRS.

    Raises:
        EmptyInputError: a raster without a valid pixel (all nodata or NaN).
        CRSError: georeferenced rasters whose CRSs PROJ cannot relate.
        InputError: other unusable inputs or arguments.

    Example:
        >>> import cv2
        >>> import numpy as np
        >>> from torchgeo_cstf import match
        >>> noise = np.random.default_rng(0).random((256, 256), dtype=np.float32)
        >>> reference = cv2.GaussianBlur(noise, (0, 0), 2)
        >>> query = np.roll(reference, (5, 3), axis=(0, 1))  # 3 px right, 5 down
        >>> result = match(reference, query, method='dense')
        >>> result.transform.matrix[:2, 2].round()
        array([3., 5.])
    """
    check_method(method)
    matcher = None if method == 'dense' else resolve_matcher(model).to(device).eval()
    ref = load_image(reference, max_size)
    qry = load_image(query, max_size)
    if ref.crs is not None and qry.crs is not None:
        require_transformation(qry.crs, ref.crs, source=qry.name, target=ref.name)
    if prior is not None:
        prior = np.asarray(prior, dtype=np.float64)
        if prior.shape != (3, 3) or not np.isfinite(prior).all():
            raise InputError('prior', f'must be a finite 3x3 matrix, got {prior.shape}')
        loaded_prior: Matrix | None = (
            scaling(1 / qry.scale) @ prior @ scaling(ref.scale)
        )
    else:
        loaded_prior = _georeference_prior(ref, qry)
    pair = PairMatcher(
        method=method,
        cstf=matcher,
        dense=dense or DenseMatcher(),
        transform_model=transform_model,
        min_confidence=min_confidence,
        device=device,
    )
    found = pair(
        torch.from_numpy(ref.pixels),
        torch.from_numpy(qry.pixels),
        loaded_prior,
        search=loaded_prior is None if search is None else search,
    )
    matches = Matches(
        found.matches.ref_xy.double() * ref.scale,
        found.matches.query_xy.double() * qry.scale,
        found.matches.confidence,
    )
    fitted = (
        None
        if found.transform is None
        else found.transform.rescaled(ref.scale, qry.scale)
    )
    tie_points, crs = _tie_points(matches, ref, qry)
    return MatchResult(matches, fitted, tie_points, crs, found.method)


def _tie_points(
    matches: Matches, ref: LoadedImage, qry: LoadedImage
) -> tuple[np.ndarray[Any, np.dtype[np.float64]] | None, str | None]:
    if (
        ref.crs is None
        or qry.crs is None
        or ref.transform is None
        or qry.transform is None
    ):
        return None, None
    ref_crs = parse_crs(ref.crs, subject=ref.name)
    rx, ry = pixel_to_map(
        ref.transform, matches.ref_xy[:, 0].numpy(), matches.ref_xy[:, 1].numpy()
    )
    qx, qy = pixel_to_map(
        qry.transform, matches.query_xy[:, 0].numpy(), matches.query_xy[:, 1].numpy()
    )
    qx, qy = reproject_xy(qx, qy, qry.crs, ref_crs)
    authority = ref_crs.to_authority()
    name = ':'.join(authority) if authority else ref_crs.to_wkt()
    return np.stack((rx, ry, qx, qy), axis=1), name
