"""Classical dense matching: structure channels + FFT template matching.

The co-registration case — a new acquisition whose georeference is already
within tens of pixels and a few degrees of the truth — is best served by a
method of the CFOG/HOPC family rather than by sparse keypoints:

1. both images become dense modality-invariant channels
   (:func:`~torchgeo_cstf.models.structure.oriented_gradients`), projected
   on their low orientation harmonics (5 components carry what 9 bins do,
   for about half the correlation cost);
2. the query is resampled into the reference frame by a *prior* transform
   (identity when the images are already pre-aligned);
3. a grid of reference templates (``template`` pixels, the flattest dropped)
   is each searched within ``radius`` pixels of the query by zero-normalised
   cross-correlation of the channels, all templates at once in the Fourier
   domain (:func:`ncc_search`);
4. the peak is refined to sub-pixel precision (a parabola through its
   neighbours) and kept when it is strong (``min_ncc``) and distinct (second
   peak no higher than ``max_peak_ratio`` times the first);
5. matched positions are mapped back through the prior, ready for MAGSAC++.

It has no weights, so it does not care which sensors it sees; it fails where
the prior is far off (beyond ``radius``, or rotations beyond ~10°): the
rotation/scale search (:mod:`~torchgeo_cstf.models.search`) or the CSTF
matcher then provide the prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from .matcher import Matches, warp_points
from .structure import (
    DEFAULT_BINS,
    DEFAULT_HARMONICS,
    harmonic_basis,
    oriented_gradients,
)

#: what :meth:`DenseMatcher.match` searches: ``coarse`` (half resolution, the
#: whole radius), ``fine`` (full resolution, ±:data:`FINE_RADIUS` pixels of
#: the prior) or ``both`` (coarse, then fine around the coarse peak)
Stage = Literal['both', 'coarse', 'fine']
#: the stages, in a checkable tuple
STAGES: tuple[Stage, ...] = ('both', 'coarse', 'fine')
#: search radius of the full-resolution stage, pixels
FINE_RADIUS = 3


def warp_image(image: Tensor, matrix: Tensor, size: tuple[int, int]) -> Tensor:
    """Resample images into another frame through homographies (bilinear).

    Args:
        image: (B, C, H, W) source images.
        matrix: (B, 3, 3) maps from output pixels to source pixels (continuous
            pixel coordinates: pixel centres at ``i + 0.5``).
        size: (H', W') of the output.

    Returns:
        (B, C + 1, H', W'): the resampled bands and, last, the share of the
        output pixel covered by the source (1 inside, 0 outside).
    """
    height, width = size
    m = matrix.to(torch.float64).reshape(-1, 3, 3, 1, 1)
    ys = torch.arange(height, dtype=torch.float64, device=image.device) + 0.5
    xs = torch.arange(width, dtype=torch.float64, device=image.device) + 0.5
    ys, xs = ys.reshape(-1, 1), xs.reshape(1, -1)

    def row(i: int) -> Tensor:  # row i of the map at every output pixel
        return m[:, i, 0] * xs + m[:, i, 1] * ys + m[:, i, 2]

    # the same projective division as warp_points, by broadcasting over the grid
    depth = row(2).clamp_min(1e-12)
    src_h, src_w = image.shape[-2:]
    normalised = torch.stack(
        (2 * row(0) / depth / src_w - 1, 2 * row(1) / depth / src_h - 1), -1
    )
    ones = torch.ones_like(image[:, :1])
    return F.grid_sample(
        torch.cat((image, ones), 1),
        normalised.to(image.dtype),
        mode='bilinear',
        padding_mode='zeros',
        align_corners=False,
    )


def box_sums(image: Tensor, side: int) -> Tensor:
    """Sums over every ``side``×``side`` window of (..., H, W) (integral image).

    Returns:
        (..., H - side + 1, W - side + 1) window sums, in float64 precision.
    """
    integral = F.pad(image.double().cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    total = (
        integral[..., side:, side:]
        - integral[..., :-side, side:]
        - integral[..., side:, :-side]
        + integral[..., :-side, :-side]
    )
    return total.to(image.dtype)


def ncc_search(templates: Tensor, regions: Tensor) -> Tensor:
    """Normalised cross-correlation of templates over search regions (FFT).

    Templates and regions are made zero-mean per channel (the region over its
    whole extent: close to the local mean at a fraction of the cost), so the
    correlation ignores per-channel offsets; it is divided by the template's
    norm and by the region window's root energy (channels pooled, one integral
    image), which keeps the score in [-1, 1] (Cauchy–Schwarz).

    Args:
        templates: (K, C, t, t) templates.
        regions: (K, C, t + 2R, t + 2R) regions; template ``k`` is searched in
            region ``k`` only.

    Returns:
        (K, 2R + 1, 2R + 1) scores; entry ``[k, R + dy, R + dx]`` is the score
        of template ``k`` placed ``(dx, dy)`` pixels from the region's centre.
    """
    k, _, t, _ = templates.shape
    side = regions.shape[-1]
    reach = side - t + 1
    zero_mean = templates - templates.mean(dim=(2, 3), keepdim=True)
    regions = regions - regions.mean(dim=(2, 3), keepdim=True)
    spectrum = (
        torch.fft.rfft2(regions) * torch.fft.rfft2(zero_mean, s=(side, side)).conj()
    )
    correlation = torch.fft.irfft2(spectrum.sum(dim=1), s=(side, side))
    correlation = correlation[:, :reach, :reach]
    energy = box_sums(regions.pow(2).sum(dim=1), t).clamp_min(0)
    norm = zero_mean.pow(2).sum(dim=(1, 2, 3)).sqrt().reshape(k, 1, 1)
    scores: Tensor = correlation / (norm * energy.sqrt() + 1e-6)
    return scores


@dataclass(frozen=True)
class Peaks:
    """Best placement of each template in its search region.

    Attributes:
        shift: (K, 2) sub-pixel displacement (dx, dy) from the region's centre.
        score: (K,) score of the peak.
        distinct: (K,) the peak is inside the region (not on its border) and
            the best score outside its 3-pixel neighbourhood is below
            ``ratio`` times it.
    """

    shift: Tensor
    score: Tensor
    distinct: Tensor


def find_peaks(scores: Tensor, ratio: float) -> Peaks:
    """Peaks of (K, S, S) score maps (see :class:`Peaks`)."""
    k, reach, _ = scores.shape
    radius = (reach - 1) / 2
    best, where = scores.reshape(k, -1).max(dim=1)
    rows, cols = where // reach, where % reach
    interior = (rows > 0) & (rows < reach - 1) & (cols > 0) & (cols < reach - 1)
    grid = torch.arange(reach, device=scores.device)
    near = ((grid[None, :, None] - rows[:, None, None]).abs() <= 3) & (
        (grid[None, None, :] - cols[:, None, None]).abs() <= 3
    )
    second = scores.masked_fill(near, -1.0).reshape(k, -1).amax(dim=1)
    rows, cols = rows.clamp(1, reach - 2), cols.clamp(1, reach - 2)
    dx, dy = _subpixel(scores, rows, cols)
    shift = torch.stack(
        (cols.double() + dx.double() - radius, rows.double() + dy.double() - radius), -1
    )
    distinct = interior & (second < ratio * best.clamp_min(1e-6))
    return Peaks(shift, best, distinct)


def gather_windows(image: Tensor, top_left: Tensor, side: int) -> Tensor:
    """(N, C, side, side) windows of a (C, H, W) image at integer top-left corners.

    Windows reaching outside the image are padded with zeros.
    """
    if len(top_left) == 0:
        return image.new_zeros(0, image.shape[0], side, side)
    low = int(top_left.min().clamp_max(0).abs())
    high_y = int((top_left[:, 1].max() + side - image.shape[-2]).clamp_min(0))
    high_x = int((top_left[:, 0].max() + side - image.shape[-1]).clamp_min(0))
    padded = F.pad(image, (low, high_x, low, high_y))
    return torch.stack(
        [
            padded[:, y + low : y + low + side, x + low : x + low + side]
            for x, y in top_left.tolist()
        ]
    )


def _holds_data(images: Tensor) -> Tensor:
    """(B, 1, H, W) 0/1: 0 on patches of zeros (all bands) at least 5×5 wide."""
    zero = (images == 0).all(dim=1, keepdim=True)
    opened = _opening_opencv if images.device.type == 'cpu' else _opening
    return 1 - opened(zero).to(images.dtype)


def _opening(mask: Tensor) -> Tensor:
    """Morphological 5×5 opening of a (B, 1, H, W) bool mask (outside: False).

    The pixels of every 5×5 window that is True throughout, by box sums.
    """
    solid = box_sums(F.pad(mask.float(), (2, 2, 2, 2)), 5) > 24.5
    return box_sums(F.pad(solid.float(), (2, 2, 2, 2)), 5) > 0.5


def _opening_opencv(mask: Tensor) -> Tensor:
    """:func:`_opening` by OpenCV's erosion and dilation (CPU; a fraction of the cost)."""
    square = np.ones((5, 5), np.uint8)

    def opened(plane: np.ndarray[Any, np.dtype[np.uint8]]) -> np.ndarray[Any, Any]:
        eroded = cv2.erode(plane, square, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        return np.asarray(
            cv2.dilate(eroded, square, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        )

    planes = mask[:, 0].to(torch.uint8).numpy()
    return torch.from_numpy(np.stack([opened(p) for p in planes])).bool()[:, None]


@dataclass(frozen=True)
class Described:
    """Images as the dense matcher sees them (:meth:`DenseMatcher.describe`).

    Attributes:
        channels: (B, M, H, W) oriented-gradient channels (M = bins) or their
            harmonics (M = 2 × harmonics + 1), 0 on nodata.
        usable: (B, 1, H, W) 1 on pixels holding data (nodata: patches of
            zeros at least 5×5 wide).
    """

    channels: Tensor
    usable: Tensor


def _subpixel(scores: Tensor, rows: Tensor, cols: Tensor) -> tuple[Tensor, Tensor]:
    """Parabolic peak offsets (in [-0.5, 0.5]) along x and y at interior peaks."""
    index = torch.arange(scores.shape[0], device=scores.device)

    def offset(minus: Tensor, centre: Tensor, plus: Tensor) -> Tensor:
        curvature = minus - 2 * centre + plus
        delta = (
            0.5
            * (minus - plus)
            / torch.where(
                curvature.abs() > 1e-9, curvature, torch.full_like(curvature, -1e-9)
            )
        )
        return delta.clamp(-0.5, 0.5)

    centre = scores[index, rows, cols]
    dx = offset(scores[index, rows, cols - 1], centre, scores[index, rows, cols + 1])
    dy = offset(scores[index, rows - 1, cols], centre, scores[index, rows + 1, cols])
    return dx, dy


@dataclass(frozen=True)
class DenseMatcher:
    """Dense structure matcher (see the module docstring).

    Args:
        template: template side in pixels.
        radius: search radius in pixels around the prior's prediction.
        spacing: distance between template centres (default ``template // 2``).
        bins: orientation channels of the descriptor.
        harmonics: highest orientation harmonic the channels are projected on
            before matching (``None``: the ``bins`` channels themselves).
        sigma: spatial smoothing of the channels.
        pre_sigma: smoothing of the image before its derivatives.
        min_ncc: weakest peak kept.
        max_peak_ratio: a peak is kept when the best score outside its 3-pixel
            neighbourhood is below this share of it.
        max_templates: the most structured templates kept, at most.
    """

    template: int = 64
    radius: int = 40
    spacing: int | None = None
    bins: int = DEFAULT_BINS
    harmonics: int | None = DEFAULT_HARMONICS
    sigma: float = 2.0
    pre_sigma: float = 1.0
    min_ncc: float = 0.2
    max_peak_ratio: float = 0.95
    max_templates: int = 160

    def __post_init__(self) -> None:
        """Check the settings."""
        if self.template < 8:
            raise InputError('template', f'must be at least 8, got {self.template}')
        if self.radius < 2:
            raise InputError('radius', f'must be at least 2, got {self.radius}')
        if self.spacing is not None and self.spacing < 1:
            raise InputError('spacing', f'must be positive, got {self.spacing}')
        if self.harmonics is not None:
            harmonic_basis(self.bins, self.harmonics)  # raises on a bad order

    def describe(self, images: Tensor) -> Described:
        """Structure channels and usable-pixel masks of (B, C, H, W) images.

        Nodata is a patch of zeros at least 5×5 pixels wide (scattered zeros
        are dark pixels: a percentile stretch makes 2 % of them); the channels
        are zero there.
        """
        images = images.float()
        valid = _holds_data(images)
        channels = oriented_gradients(
            images, self.bins, self.sigma, self.pre_sigma, harmonics=self.harmonics
        )
        return Described(channels * valid, valid)

    @property
    def margin(self) -> int:
        """Pixels next to the image's edge that templates keep clear of.

        Smoothing sees padding there: templates touching the edge matched
        off target and biased the fit. (Keeping clear of nodata as well cost more
        matches than it saved on rotated queries, whose corners are nodata.)
        """
        return math.ceil(3 * self.sigma) + 1

    def match(
        self,
        reference: Tensor | Described,
        query: Tensor,
        priors: Tensor | None = None,
        stage: Stage = 'both',
    ) -> list[Matches]:
        """Match a batch of pairs.

        Args:
            reference: (B, C, H, W) in [0, 1] (zeros = no data), or its
                :meth:`describe` (to reuse it across priors).
            query: (B, C', H', W') in [0, 1].
            priors: (B, 3, 3) reference → query pixel maps the matches should
                lie near (identity: the query is already aligned).
            stage: ``both`` searches the whole ``radius`` at half resolution,
                then ±3 pixels of that peak at full resolution; ``coarse`` stops
                after the first (about a pixel precise, a quarter of the cost
                of the second); ``fine`` runs the second alone, around the prior
                itself (for a prior already right to a pixel or two, e.g. the
                fit of a ``coarse`` pass).

        Returns:
            One :class:`~torchgeo_cstf.models.Matches` per pair (reference and
            query positions in their own continuous pixel coordinates,
            confidence = NCC of the peak).
        """
        if isinstance(reference, Tensor):
            if reference.ndim != 4:
                raise InputError('images', 'reference and query must be (B, C, H, W)')
            reference = self.describe(reference)
        if query.ndim != 4:
            raise InputError('images', 'reference and query must be (B, C, H, W)')
        if stage not in STAGES:
            raise InputError('stage', f'must be one of {STAGES}, got {stage!r}')
        b = reference.channels.shape[0]
        size = (reference.channels.shape[-2], reference.channels.shape[-1])
        if priors is None:
            priors = torch.eye(3, dtype=torch.float64).expand(b, 3, 3)
        priors = priors.to(torch.float64).cpu()
        # the query resampled into the reference frame: output pixel x reads the
        # query at prior(x); pixels it does not fully cover hold no data
        aligned = warp_image(query.float(), priors.to(query.device), size)
        covered = (aligned[:, -1:] > 0.99).float()
        seen = self.describe(aligned[:, :-1] * covered)
        return [
            self._match_one(
                reference.channels[i],
                seen.channels[i],
                reference.usable[i, 0],
                seen.usable[i, 0],
                priors[i],
                stage,
            )
            for i in range(b)
        ]

    def _centres(self, ref_valid: Tensor, qry_valid: Tensor) -> Tensor:
        """(N, 2) integer template centres over the grid, fully on data in both."""
        height, width = ref_valid.shape
        half = self.template // 2
        step = self.spacing or max(half, 1)
        reach = half + self.margin
        if height < 2 * reach or width < 2 * reach:
            return torch.zeros(0, 2, dtype=torch.long)
        ys = torch.arange(reach, height - reach + 1, step)
        xs = torch.arange(reach, width - reach + 1, step)
        centres = torch.stack(torch.meshgrid(xs, ys, indexing='xy'), -1).reshape(-1, 2)
        share = box_sums(ref_valid * qry_valid, self.template) / self.template**2
        keep = share[centres[:, 1] - half, centres[:, 0] - half] > 0.9
        return centres[keep.cpu()]

    def _match_one(
        self,
        ref_channels: Tensor,
        qry_channels: Tensor,
        ref_valid: Tensor,
        qry_valid: Tensor,
        prior: Tensor,
        stage: Stage,
    ) -> Matches:
        """Coarse search at half resolution and/or a ±3-pixel search at full."""
        t = self.template
        half = t // 2
        centres = self._centres(ref_valid, qry_valid)
        if len(centres) == 0:
            return Matches.empty()
        patches = gather_windows(ref_channels, centres - half, t)
        # flat templates (fields, water) match anything: keep the structured ones
        strength = (
            (patches - patches.mean(dim=(2, 3), keepdim=True)).pow(2).sum(dim=(1, 2, 3))
        )
        order = strength.argsort(descending=True)
        order = order[strength[order] > 0.25 * strength.max()][: self.max_templates]
        if len(order) == 0:
            return Matches.empty()
        patches, centres = patches[order], centres[order]
        if stage == 'fine':
            shift = torch.zeros(len(centres), 2, dtype=torch.float64)
            keep = torch.ones(len(centres), dtype=torch.bool)
        else:
            coarse = self._coarse(patches, qry_channels, centres)
            # an odd centre's half-resolution region starts half a pixel early
            shift = 2 * coarse.shift - (centres % 2).double()
            keep = coarse.distinct
            if stage == 'coarse':
                keep = keep & (coarse.score >= self.min_ncc)
        if stage != 'coarse':
            start = shift.round().long()
            fine = find_peaks(
                ncc_search(
                    patches,
                    gather_windows(
                        qry_channels,
                        centres - half + start - FINE_RADIUS,
                        t + 2 * FINE_RADIUS,
                    ),
                ),
                1.0 + 1e-6,
            )
            shift = start.double() + fine.shift
            keep = keep & fine.distinct & (fine.score >= self.min_ncc)
            score = fine.score
        else:
            score = coarse.score
        if not keep.any():
            return Matches.empty()
        ref_xy = centres.double()  # the template's centre, continuous coordinates
        query_xy = warp_points(prior[None], (ref_xy + shift)[None])[0]
        keep = keep.cpu()
        return Matches(ref_xy[keep], query_xy[keep], score[keep].float())

    def _coarse(self, patches: Tensor, qry_channels: Tensor, centres: Tensor) -> Peaks:
        """Peaks of the templates over the whole radius, both at half resolution."""
        small_t, small_r = self.template // 2, max(self.radius // 2, 2)
        small_qry = F.avg_pool2d(qry_channels[None], 2)[0]
        return find_peaks(
            ncc_search(
                F.avg_pool2d(patches, 2),
                gather_windows(
                    small_qry,
                    centres // 2 - small_t // 2 - small_r,
                    small_t + 2 * small_r,
                ),
            ),
            self.max_peak_ratio,
        )
