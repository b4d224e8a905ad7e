"""Projective warps between the pixel grids of two acquisitions."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from ...errors import InputError

Matrix = np.ndarray[Any, np.dtype[np.float64]]
Points = np.ndarray[Any, np.dtype[np.float64]]
WarpModel = Literal['identity', 'similarity', 'affine', 'homography']
WARP_MODELS: tuple[str, ...] = ('identity', 'similarity', 'affine', 'homography')


def apply_homography(matrix: Matrix, points: Points) -> Points:
    """Apply a 3×3 projective map to (K, 2) points.

    Args:
        matrix: 3×3 matrix acting on homogeneous (x, y, 1) column vectors.
        points: (K, 2) coordinates.

    Returns:
        (K, 2) mapped coordinates.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    homogeneous = np.hstack((pts, np.ones((len(pts), 1)))) @ matrix.T
    mapped: Points = homogeneous[:, :2] / homogeneous[:, 2:3]
    return mapped


def jacobian(matrix: Matrix, point: tuple[float, float]) -> Matrix:
    """Local linear part (2×2) of a projective map at a point.

    Args:
        matrix: 3×3 projective map.
        point: (x, y) where to differentiate.

    Returns:
        The 2×2 Jacobian ``d(x', y') / d(x, y)``.
    """
    x, y = point
    (a, b, c), (d, e, f), (g, h, i) = matrix
    w = g * x + h * y + i
    xp = (a * x + b * y + c) / w
    yp = (d * x + e * y + f) / w
    linear: Matrix = np.array([[a - g * xp, b - h * xp], [d - g * yp, e - h * yp]])
    return linear / float(w)


def translation(dx: float, dy: float) -> Matrix:
    """3×3 translation matrix."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def random_warp(
    rng: np.random.Generator,
    reference_shape: tuple[int, int],
    query_shape: tuple[int, int],
    model: WarpModel,
    scale: tuple[float, float],
    rotation: tuple[float, float],
    *,
    max_shift: float = 0.1,
    max_shear: float = 0.1,
    max_perspective: float = 0.1,
) -> Matrix:
    """Draw a warp from reference pixels to query pixels.

    The query image is centred near the reference centre (up to ``max_shift``
    of the reference size away), scaled by ``s`` (query pixels per reference
    pixel, log-uniform in ``scale``) and turned by an angle uniform in
    ``rotation`` (degrees, counter-clockwise on screen). ``affine`` adds
    anisotropy and shear up to ``max_shear``; ``homography`` also adds a
    perspective change of up to ``max_perspective`` of the scale across the
    query half-width.

    Args:
        rng: random generator (consumed).
        reference_shape: (rows, columns) of the reference image.
        query_shape: (rows, columns) of the query image.
        model: warp family.
        scale: (min, max) scale factor, positive.
        rotation: (min, max) rotation in degrees.
        max_shift: largest centre offset as a share of the reference size.
        max_shear: largest anisotropy/shear coefficient.
        max_perspective: largest relative scale change due to perspective.

    Returns:
        3×3 matrix mapping reference to query pixel coordinates.

    Raises:
        InputError: on an unknown model or an invalid range.
    """
    if model not in WARP_MODELS:
        raise InputError('warp', f'must be one of {WARP_MODELS}, got {model!r}')
    if not 0 < scale[0] <= scale[1]:
        raise InputError('scale', f'must be 0 < min <= max, got {scale}')
    if rotation[0] > rotation[1]:
        raise InputError('rotation', f'must be min <= max, got {rotation}')
    ref_rows, ref_cols = reference_shape
    rows, cols = query_shape
    if model == 'identity':
        return translation((cols - ref_cols) / 2, (rows - ref_rows) / 2)
    s = math.exp(rng.uniform(math.log(scale[0]), math.log(scale[1])))
    theta = math.radians(rng.uniform(*rotation))
    cos, sin = math.cos(theta), math.sin(theta)
    linear = s * np.array([[cos, sin], [-sin, cos]])
    if model in ('affine', 'homography'):
        stretch = np.array(
            [
                [
                    1 + rng.uniform(-max_shear, max_shear),
                    rng.uniform(-max_shear, max_shear),
                ],
                [0.0, 1 + rng.uniform(-max_shear, max_shear)],
            ]
        )
        linear = linear @ stretch
    centre = np.array([ref_cols / 2, ref_rows / 2]) + rng.uniform(
        -max_shift, max_shift, size=2
    ) * np.array([ref_cols, ref_rows])
    affine = np.eye(3)
    affine[:2, :2] = linear
    warp = translation(cols / 2, rows / 2) @ affine @ translation(*(-centre))
    if model == 'homography':
        half = max(rows, cols) / 2
        perspective = np.eye(3)
        perspective[2, :2] = rng.uniform(-max_perspective, max_perspective, 2) / half
        warp = (
            translation(cols / 2, rows / 2)
            @ perspective
            @ translation(-cols / 2, -rows / 2)
            @ warp
        )
    return np.asarray(warp / warp[2, 2], dtype=np.float64)


def fit_affine(matrix: Matrix, shape: tuple[int, int], samples: int = 9) -> Matrix:
    """Least-squares affine approximation of a projective map over an image.

    Args:
        matrix: 3×3 projective map.
        shape: (rows, columns) of the image the map acts on.
        samples: grid points per side.

    Returns:
        3×3 affine matrix (last row 0, 0, 1), exact when ``matrix`` is affine.
    """
    rows, cols = shape
    gx, gy = np.meshgrid(np.linspace(0, cols, samples), np.linspace(0, rows, samples))
    source = np.stack((gx.ravel(), gy.ravel()), axis=1)
    target = apply_homography(matrix, source)
    design = np.hstack((source, np.ones((len(source), 1))))
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    affine = np.eye(3)
    affine[:2] = coefficients.T
    return affine


def fit_homography(source: Points, target: Points) -> Matrix:
    """Least-squares homography mapping ``source`` points onto ``target`` points.

    Normalised direct linear transform: both point sets are centred and scaled to
    mean distance √2 before the SVD, which keeps the fit well conditioned for
    map-sized coordinates.

    Args:
        source: (K, 2) points, K >= 4, not all on one line.
        target: (K, 2) corresponding points.

    Returns:
        3×3 matrix with ``H[2, 2] == 1``.

    Raises:
        InputError: fewer than 4 correspondences, mismatched shapes, or a
            degenerate configuration.
    """
    src = np.asarray(source, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(target, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 4:
        raise InputError(
            'points',
            f'need >= 4 correspondences of equal count, got {len(src)}, {len(dst)}',
        )

    def normaliser(points: Points) -> Matrix:
        centre = points.mean(axis=0)
        spread = np.sqrt(((points - centre) ** 2).sum(axis=1)).mean()
        if spread <= 0:
            raise InputError('points', 'all points coincide')
        s = math.sqrt(2) / spread
        return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1.0]])

    ns, nd = normaliser(src), normaliser(dst)
    a = apply_homography(ns, src)
    b = apply_homography(nd, dst)
    rows = []
    for (x, y), (u, v) in zip(a, b, strict=True):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, singular, vt = np.linalg.svd(np.asarray(rows))
    if singular[-2] < 1e-10:
        raise InputError('points', 'degenerate configuration (collinear points)')
    h = vt[-1].reshape(3, 3)
    matrix: Matrix = np.linalg.inv(nd) @ h @ ns
    normalised: Matrix = matrix / matrix[2, 2]
    return normalised
