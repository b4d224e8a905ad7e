"""Robust geometric transforms from matches (OpenCV's MAGSAC++)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..ops.homography import scaling
from ..options import TransformModel
from .matcher import Matches


@dataclass(frozen=True)
class Transform:
    """A transform estimated from matches.

    Attributes:
        matrix: 3×3 reference → query pixel map (float64).
        inliers: (N,) boolean mask of the matches consistent with it.
        model: ``affine`` or ``homography``.
    """

    matrix: np.ndarray[Any, np.dtype[np.float64]]
    inliers: np.ndarray[Any, np.dtype[np.bool_]]
    model: str

    @property
    def num_inliers(self) -> int:
        """Number of inlier matches."""
        return int(self.inliers.sum())

    def rescaled(self, ref_scale: float, query_scale: float) -> Transform:
        """The same map between images resized by the given factors.

        Args:
            ref_scale: new reference pixels per old one.
            query_scale: new query pixels per old one.

        Returns:
            The transform between the resized images (same inliers).
        """
        matrix = scaling(query_scale) @ self.matrix @ scaling(1 / ref_scale)
        return Transform(matrix, self.inliers, self.model)


#: fewest matches a transform must explain: the minimal sample (3 matches for
#: an affine map, 4 for a homography) always fits exactly, so a fit that rests
#: on a handful of matches is no evidence (random matches give one)
MIN_INLIERS = 8


def estimate_transform(
    matches: Matches,
    model: TransformModel = 'homography',
    threshold: float = 3.0,
    confidence: float = 0.999,
    max_iterations: int = 10_000,
    min_inliers: int = MIN_INLIERS,
) -> Transform | None:
    """Fit a transform to matches robustly (MAGSAC++, then least squares on inliers).

    Args:
        matches: correspondences (continuous pixel coordinates).
        model: ``homography`` (8 degrees of freedom, needs 4 matches) or
            ``affine`` (6, needs 3).
        threshold: inlier reprojection distance in query pixels.
        confidence: RANSAC confidence.
        max_iterations: RANSAC iteration cap.
        min_inliers: fewest inliers of a transform (see :data:`MIN_INLIERS`);
            at least the minimal sample.

    Returns:
        The transform, or ``None`` when there are too few matches or no
        consistent model that ``min_inliers`` matches agree with.

    Raises:
        InputError: for an unknown model, a non-positive threshold or a
            ``min_inliers`` below the minimal sample.
    """
    if model not in ('affine', 'homography'):
        raise InputError('model', f'must be affine or homography, got {model!r}')
    if threshold <= 0:
        raise InputError('threshold', f'must be positive, got {threshold}')
    needed = 4 if model == 'homography' else 3
    if min_inliers < needed:
        raise InputError(
            'min_inliers', f'a {model} needs at least {needed}, got {min_inliers}'
        )
    if len(matches) < min_inliers:
        return None
    src = matches.ref_xy.detach().cpu().numpy().astype(np.float64)
    dst = matches.query_xy.detach().cpu().numpy().astype(np.float64)
    if model == 'homography':
        matrix, mask = cv2.findHomography(
            src,
            dst,
            cv2.USAC_MAGSAC,
            threshold,
            maxIters=max_iterations,
            confidence=confidence,
        )
    else:
        affine, mask = cv2.estimateAffine2D(
            src,
            dst,
            method=cv2.USAC_MAGSAC,
            ransacReprojThreshold=threshold,
            maxIters=max_iterations,
            confidence=confidence,
        )
        matrix = None if affine is None else np.vstack((affine, [0.0, 0.0, 1.0]))
    if matrix is None or mask is None or not np.isfinite(matrix).all():
        return None
    if int(mask.sum()) < min_inliers:
        return None
    return Transform(
        matrix=np.asarray(matrix, dtype=np.float64),
        inliers=mask.ravel().astype(bool),
        model=model,
    )
