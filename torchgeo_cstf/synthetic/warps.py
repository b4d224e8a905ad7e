"""Random projective warps between the pixel grids of two synthetic acquisitions."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from ..errors import InputError
from ..ops.homography import Matrix, translation

WarpModel = Literal['identity', 'similarity', 'affine', 'homography']
WARP_MODELS: tuple[str, ...] = ('identity', 'similarity', 'affine', 'homography')


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
