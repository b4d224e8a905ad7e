"""Image-matching and registration metrics (NumPy, float64).

A *warp* is a 3×3 homography mapping reference pixel coordinates ``(x, y)`` to
query pixel coordinates: ``(x', y', w') = H (x, y, 1)``, ``(x'/w', y'/w')``.
Points are (N, 2) arrays (NumPy arrays, CPU/CUDA tensors or nested lists).

* :func:`mean_matching_accuracy`: for each threshold ``t``, the share of
  matches whose reference point, warped by the true warp, lies within ``t``
  pixels of its query point (``<= t``; HPatches uses t = 1..10). No matches give
  0.
* :func:`num_correct_matches` / :func:`correct_matching_ratio`: the count and
  share of such matches at one threshold.
* :func:`corner_error`: mean distance between the image corners warped by the
  estimated and by the true warp. In the package's pixel convention (origin at
  the top-left corner of the top-left pixel) the corners are ``(0, 0), (W, 0),
  (W, H), (0, H)``; the SuperGlue/LoFTR HPatches scripts warp the centres of the
  corner pixels in OpenCV's convention instead, which moves the four points by
  under a pixel and changes the error only by the warps' difference over that
  distance.
* :func:`homography_auc`: for each threshold ``t``, the area under the
  cumulative distribution of the errors on ``[0, t]`` divided by ``t``, i.e.
  the mean of ``max(0, 1 - e / t)``. This is the exact area under the
  empirical (step) distribution; SuperGlue's script interpolates linearly
  between the sorted errors, which gives slightly larger values for few pairs.
* :func:`registration_rmse`: root mean square distance between check points
  warped by the estimated warp and their true positions.

An estimated warp that is ``None``, not finite or singular gives an infinite
error (and counts as a failure in :func:`homography_auc`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from torch import Tensor

from ..errors import InputError

#: Anything convertible to a float64 array: NumPy arrays, tensors, lists.
ArrayLike = npt.ArrayLike | Tensor

#: Relative determinant below which a homography counts as singular.
_SINGULAR = 1e-12


def _array(value: ArrayLike, name: str) -> npt.NDArray[np.float64]:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(name, 'must be numeric array-like') from None


def _points(value: ArrayLike, name: str) -> npt.NDArray[np.float64]:
    points = _array(value, name)
    if points.size == 0:
        return points.reshape(0, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise InputError(name, f'must have shape (N, 2), got {points.shape}')
    if not np.isfinite(points).all():
        raise InputError(name, 'contains NaN or infinite values')
    return points


def _pair(
    ref_xy: ArrayLike, query_xy: ArrayLike, ref_name: str, query_name: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ref, query = _points(ref_xy, ref_name), _points(query_xy, query_name)
    if ref.shape != query.shape:
        raise InputError(
            query_name, f'has {len(query)} points but {ref_name} has {len(ref)}'
        )
    return ref, query


def _true_warp(value: ArrayLike, name: str) -> npt.NDArray[np.float64]:
    warp = _array(value, name)
    if warp.shape != (3, 3):
        raise InputError(name, f'must be a 3x3 matrix, got shape {warp.shape}')
    if _is_singular(warp):
        raise InputError(name, 'must be a finite, invertible homography')
    return warp


def _is_singular(warp: npt.NDArray[np.float64]) -> bool:
    if not np.isfinite(warp).all():
        return True
    scale = float(np.linalg.norm(warp))
    return scale == 0.0 or abs(float(np.linalg.det(warp))) <= _SINGULAR * scale**3


def _estimated_warp(
    value: ArrayLike | None, name: str
) -> npt.NDArray[np.float64] | None:
    """The estimated warp, or None when it is missing, singular or not finite."""
    if value is None:
        return None
    warp = _array(value, name)
    if warp.shape != (3, 3):
        raise InputError(name, f'must be a 3x3 matrix or None, got shape {warp.shape}')
    return None if _is_singular(warp) else warp


def _apply(
    warp: npt.NDArray[np.float64], xy: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    homogeneous = xy @ warp[:, :2].T + warp[:, 2]
    w = homogeneous[:, 2:]
    with np.errstate(divide='ignore', invalid='ignore'):
        out = homogeneous[:, :2] / w
    return np.where(w == 0, np.inf, out)


def _match_errors(
    ref_xy: ArrayLike, query_xy: ArrayLike, warp: ArrayLike
) -> npt.NDArray[np.float64]:
    ref, query = _pair(ref_xy, query_xy, 'ref_xy', 'query_xy')
    matrix = _true_warp(warp, 'warp')
    return np.linalg.norm(_apply(matrix, ref) - query, axis=1)


def _threshold(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(name, f'must be a positive number, got {value!r}')
    return float(value)


def mean_matching_accuracy(
    ref_xy: ArrayLike,
    query_xy: ArrayLike,
    warp: ArrayLike,
    thresholds: Iterable[float] = range(1, 11),
) -> npt.NDArray[np.float64]:
    """Share of matches within each pixel threshold under the true warp.

    Args:
        ref_xy: (N, 2) matched points in the reference image.
        query_xy: (N, 2) their matches in the query image.
        warp: true 3×3 homography, reference → query.
        thresholds: pixel thresholds (default 1, 2, ..., 10).

    Returns:
        (T,) accuracies in [0, 1]; zeros when there is no match.

    Raises:
        InputError: bad shapes, values, warp or thresholds.
    """
    limits = np.array([_threshold(t, 'thresholds') for t in thresholds])
    errors = _match_errors(ref_xy, query_xy, warp)
    if errors.size == 0:
        return np.zeros(limits.shape)
    return np.asarray((errors[:, None] <= limits[None, :]).mean(axis=0), np.float64)


def num_correct_matches(
    ref_xy: ArrayLike, query_xy: ArrayLike, warp: ArrayLike, threshold: float = 3.0
) -> int:
    """Number of matches within ``threshold`` pixels under the true warp.

    Args:
        ref_xy: (N, 2) matched points in the reference image.
        query_xy: (N, 2) their matches in the query image.
        warp: true 3×3 homography, reference → query.
        threshold: pixel threshold (``<=``).

    Returns:
        The count of correct matches.

    Raises:
        InputError: bad shapes, values, warp or threshold.
    """
    limit = _threshold(threshold, 'threshold')
    return int((_match_errors(ref_xy, query_xy, warp) <= limit).sum())


def correct_matching_ratio(
    ref_xy: ArrayLike, query_xy: ArrayLike, warp: ArrayLike, threshold: float = 3.0
) -> float:
    """Share of matches within ``threshold`` pixels under the true warp (CMR).

    Args:
        ref_xy: (N, 2) matched points in the reference image.
        query_xy: (N, 2) their matches in the query image.
        warp: true 3×3 homography, reference → query.
        threshold: pixel threshold (``<=``).

    Returns:
        The ratio in [0, 1]; 0 when there is no match.

    Raises:
        InputError: bad shapes, values, warp or threshold.
    """
    limit = _threshold(threshold, 'threshold')
    errors = _match_errors(ref_xy, query_xy, warp)
    return float((errors <= limit).mean()) if errors.size else 0.0


def corner_error(
    estimated_warp: ArrayLike | None, true_warp: ArrayLike, width: int, height: int
) -> float:
    """Mean distance of the 4 image corners under the estimated vs the true warp.

    Args:
        estimated_warp: estimated 3×3 homography (reference → query), or None
            when estimation failed.
        true_warp: true 3×3 homography.
        width: reference image width in pixels.
        height: reference image height in pixels.

    Returns:
        Mean corner error in pixels; ``inf`` for a missing or singular estimate.

    Raises:
        InputError: bad shapes, a bad true warp or image size.
    """
    for value, name in ((width, 'width'), (height, 'height')):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(name, f'must be a positive int, got {value!r}')
    truth = _true_warp(true_warp, 'true_warp')
    estimate = _estimated_warp(estimated_warp, 'estimated_warp')
    if estimate is None:
        return float('inf')
    w, h = float(width), float(height)
    corners = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
    errors = np.linalg.norm(_apply(estimate, corners) - _apply(truth, corners), axis=1)
    return float(errors.mean())


def homography_auc(
    errors: Sequence[float] | ArrayLike, thresholds: Iterable[float] = (3, 5, 10)
) -> npt.NDArray[np.float64]:
    """Area under the cumulative error curve up to each threshold, over it.

    ``AUC@t = (1/t) ∫_0^t F(e) de`` with ``F`` the empirical distribution of the
    errors, which equals the mean of ``max(0, 1 - e_i / t)``; infinite errors
    (failures) count as 0.

    Args:
        errors: per-pair errors in pixels (e.g. :func:`corner_error`); NaN is
            not allowed, ``inf`` is.
        thresholds: pixel thresholds (default 3, 5, 10).

    Returns:
        (T,) AUC values in [0, 1]; zeros when there is no error value.

    Raises:
        InputError: NaN or negative errors, or bad thresholds.
    """
    values = _array(errors, 'errors').reshape(-1)
    if np.isnan(values).any() or (values < 0).any():
        raise InputError('errors', 'must be non-negative numbers (inf allowed)')
    limits = np.array([_threshold(t, 'thresholds') for t in thresholds])
    if values.size == 0:
        return np.zeros(limits.shape)
    share = np.clip(1.0 - values[:, None] / limits[None, :], 0.0, None)
    return np.asarray(share.mean(axis=0), np.float64)


def registration_rmse(
    estimated_warp: ArrayLike | None, check_ref_xy: ArrayLike, check_query_xy: ArrayLike
) -> float:
    """Root mean square error of check points under the estimated warp.

    Args:
        estimated_warp: estimated 3×3 homography (reference → query), or None.
        check_ref_xy: (N, 2) check points in the reference image, N >= 1.
        check_query_xy: (N, 2) their true positions in the query image.

    Returns:
        RMSE in pixels; ``inf`` for a missing or singular estimate.

    Raises:
        InputError: bad shapes or values, or no check point.
    """
    ref, query = _pair(check_ref_xy, check_query_xy, 'check_ref_xy', 'check_query_xy')
    if ref.shape[0] == 0:
        raise InputError('check_ref_xy', 'needs at least one check point')
    estimate = _estimated_warp(estimated_warp, 'estimated_warp')
    if estimate is None:
        return float('inf')
    squared = ((_apply(estimate, ref) - query) ** 2).sum(axis=1)
    return float(np.sqrt(squared.mean()))
