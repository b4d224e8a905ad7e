"""Rotation and scale search: a coarse reference → query similarity, training-free.

Images without a usable georeference (or with one that is far off) can be
turned by any angle and scaled by any factor relative to each other; neither a
learned matcher trained within ±30° nor the dense matcher can bridge that. This
search tries every combination of ``rotations`` angles and ``scales`` factors
at low resolution: for each, the query is turned and scaled into the
reference's frame, described by oriented-gradient channels
(:func:`~torchgeo_cstf.models.structure.oriented_gradients`, computed *after*
the turn so orientations line up), and the reference's central part (three
quarters of its side) is searched over the translations that put the query's
centre within an eighth of the image side of the reference's, by normalised
cross-correlation (:func:`~torchgeo_cstf.models.dense.ncc_search`, all
candidates in one batch). A large template carries enough structure to stand
out of speckle; a short reach leaves fewer wrong placements to outscore the
right one; light smoothing (each low-resolution pixel already averages
several) keeps neighbouring angles apart (``benchmarks/search_settings.py``
compares the settings on real validation textures). The best-scoring candidates are returned as priors for
a matcher, which then only has to find a residual of a few pixels and
degrees. With 24 angles (15° apart) and scales 2^½ apart, the grid leaves up
to 7.5° and 19 %; the best candidates are then refined on a local grid a
third of an angle step and half a scale step apart (2.5°, 9 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from ..ops.homography import scaling, translation
from .dense import find_peaks, gather_windows, ncc_search, warp_image
from .structure import DEFAULT_HARMONICS, gaussian_blur, oriented_gradients

#: how far the query's centre is looked for from the reference's by default,
#: as a share of the image's short side
MAX_OFFSET = 0.125
#: scale factors (query pixels per reference pixel) tried by default: 0.5–2
DEFAULT_SCALES: tuple[float, ...] = (0.5, 0.71, 1.0, 1.41, 2.0)


@dataclass(frozen=True)
class Candidate:
    """A coarse reference → query similarity found by the search.

    Attributes:
        matrix: 3×3 reference → query pixel map (full resolution).
        score: NCC of its best translation.
        rotation: angle in degrees (counter-clockwise on screen).
        scale: query pixels per reference pixel.
    """

    matrix: np.ndarray[Any, np.dtype[np.float64]]
    score: float
    rotation: float
    scale: float


def similarity(
    angle: float,
    scale: float,
    ref_centre: np.ndarray[Any, Any],
    query_centre: np.ndarray[Any, Any],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Reference → query: turn by ``angle`` and scale about the two centres."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    linear = scale * np.array([[cos, sin], [-sin, cos]])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = query_centre - linear @ ref_centre
    return matrix


def _shrink(image: Tensor, size: int) -> tuple[Tensor, float]:
    """(1, C, h, w) with long side ``size`` (area averaging) and its factor."""
    factor = max(image.shape[-2:]) / size
    if factor <= 1:
        return image.float(), 1.0
    shape = (
        max(round(image.shape[-2] / factor), 8),
        max(round(image.shape[-1] / factor), 8),
    )
    return F.interpolate(image.float(), size=shape, mode='area'), image.shape[
        -2
    ] / shape[0]


def search_rotation_scale(
    reference: Tensor,
    query: Tensor,
    *,
    rotations: int = 24,
    scales: tuple[float, ...] = DEFAULT_SCALES,
    size: int = 128,
    top: int = 3,
    refine: bool = True,
    template_share: float = 0.75,
    max_offset: float = MAX_OFFSET,
    smoothing: float = 1.0,
    harmonics: int | None = DEFAULT_HARMONICS,
) -> list[Candidate]:
    """The best reference → query similarities over angles and scales.

    Args:
        reference: (1, C, H, W) image in [0, 1].
        query: (1, C', H', W') image in [0, 1].
        rotations: angles tried, evenly over 360°.
        scales: scale factors tried.
        size: long side of the low-resolution copies searched.
        top: candidates returned (each its own angle and scale), best first.
        refine: move each of the ``top`` candidates to the best of its
            neighbourhood (a third of an angle step, half a scale step either
            way): residuals of at most 2.5° and 9 % with the defaults, instead
            of 7.5° and 19 % that 64-pixel templates do not bridge.
        template_share: side of the reference's central template, as a share
            of the image's short side.
        max_offset: farthest the query's centre is looked for from the
            reference's, as a share of the image's short side (beyond it, pass
            a prior instead).
        smoothing: spatial Gaussian smoothing of the structure channels, in
            pixels of the low-resolution copies (each already averages several
            full-resolution pixels, so it is smaller than the dense matcher's).
        harmonics: highest orientation harmonic the channels are correlated
            on (:func:`~torchgeo_cstf.models.structure.oriented_gradients`;
            ``None``: the orientation bins themselves).

    Returns:
        Up to ``top`` candidates.

    Raises:
        InputError: bad shapes or settings.
    """
    if reference.ndim != 4 or query.ndim != 4 or reference.shape[0] != 1:
        raise InputError('images', 'reference and query must be (1, C, H, W)')
    if rotations < 1 or not scales or size < 32:
        raise InputError(
            'search',
            f'needs rotations >= 1, scales and size >= 32, got {rotations}, {scales}, {size}',
        )
    if not 0 < template_share <= 1 or not 0 < max_offset <= 0.5 or smoothing < 0:
        raise InputError(
            'search',
            'needs template_share in (0, 1], max_offset in (0, 0.5] and '
            f'smoothing >= 0, got {template_share}, {max_offset} and {smoothing}',
        )
    small_ref, ref_factor = _shrink(reference, size)
    small_qry, qry_factor = _shrink(query, size)
    height, width = small_ref.shape[-2:]
    ref_centre = np.array([width / 2, height / 2])
    qry_centre = np.array([small_qry.shape[-1] / 2, small_qry.shape[-2] / 2])

    def describe(images: Tensor) -> Tensor:
        return oriented_gradients(images, sigma=smoothing, harmonics=harmonics)

    ref_channels = describe(small_ref)
    side = max(round(min(height, width) * template_share), 8)
    reach = max(round(min(height, width) * max_offset), 2)
    top_left = torch.tensor([[(width - side) // 2, (height - side) // 2]])
    template = gather_windows(ref_channels[0], top_left, side)

    def scored(combos: list[tuple[float, float]]) -> list[Candidate]:
        # the query resampled into the reference frame for every combination
        to_query = np.stack(
            [similarity(a, s, ref_centre, qry_centre) for a, s in combos]
        )
        # a scale above 1 shrinks the query: blurred first, so that its
        # speckle and noise do not alias into structure (bilinear reads alone
        # penalised every shrinking candidate)
        blurred = {
            scale: _antialiased(small_qry, scale) for scale in {s for _, s in combos}
        }
        aligned = warp_image(
            torch.cat([blurred[s] for _, s in combos]),
            torch.from_numpy(to_query),
            (height, width),
        )
        covered = (aligned[:, -1:] > 0.99).float()
        channels = describe(aligned[:, :-1]) * covered
        regions = torch.cat(
            [gather_windows(c, top_left - reach, side + 2 * reach) for c in channels]
        )
        peaks = find_peaks(
            ncc_search(template.expand(len(combos), -1, -1, -1), regions), 1.0
        )
        found = []
        for index, (angle, scale) in enumerate(combos):
            small = to_query[index] @ translation(*peaks.shift[index].tolist())
            matrix = scaling(qry_factor) @ small @ scaling(1 / ref_factor)
            found.append(
                Candidate(
                    matrix / matrix[2, 2], float(peaks.score[index]), angle, scale
                )
            )
        return found

    angle_step = 360.0 / rotations
    grid = scored([(angle_step * i, s) for s in scales for i in range(rotations)])
    best = sorted(grid, key=lambda c: c.score, reverse=True)[:top]
    if not refine:
        return best
    # each best candidate moved to the best of its neighbourhood: a third of
    # an angle step and half a scale step either way
    ratio = _scale_step(scales) ** 0.5
    turns = (-angle_step / 3, 0.0, angle_step / 3)
    local = [
        (c.rotation + turn, c.scale * factor)
        for c in best
        for turn in turns
        for factor in (1 / ratio, 1.0, ratio)
    ]
    near = scored(local)
    per_candidate = len(near) // len(best)
    refined = [
        max(near[i * per_candidate : (i + 1) * per_candidate], key=lambda c: c.score)
        for i in range(len(best))
    ]
    return sorted(refined, key=lambda c: c.score, reverse=True)


def _antialiased(image: Tensor, scale: float) -> Tensor:
    """``image`` blurred for a resampling that shrinks it ``scale`` times."""
    if scale <= 1:
        return image
    return gaussian_blur(image, 0.5 * math.sqrt(scale**2 - 1))


def _scale_step(scales: tuple[float, ...]) -> float:
    """The geometric mean ratio between neighbouring scales (1 for one scale)."""
    ordered = sorted(scales)
    if len(ordered) < 2:
        return 1.0
    return float((ordered[-1] / ordered[0]) ** (1 / (len(ordered) - 1)))
