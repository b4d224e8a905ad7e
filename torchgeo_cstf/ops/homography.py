"""Projective geometry between pixel grids: apply, differentiate and fit 3×3 maps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError

Matrix = np.ndarray[Any, np.dtype[np.float64]]
Points = np.ndarray[Any, np.dtype[np.float64]]


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
    """3×3 map shifting pixel coordinates by ``(dx, dy)``."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def scaling(factor: float) -> Matrix:
    """3×3 map multiplying pixel coordinates by ``factor``."""
    return np.diag([factor, factor, 1.0])


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
