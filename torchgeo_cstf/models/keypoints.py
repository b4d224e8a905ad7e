"""Scale-invariant keypoints from a difference-of-Gaussians scale space.

The classic SIFT detector (Lowe 2004), written as a handful of batched tensor
operations so that it runs on the matcher's device and costs little beside the
trunk: Gaussian octaves by separable convolutions, extrema of the DoG stack
among their 26 neighbours by separable maxima, Lowe's edge test on the 2×2
Hessian, and a quadratic sub-pixel fit at the selected extrema only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError


def gaussian_blur(image: Tensor, sigmas: list[float]) -> Tensor:
    """Blur (B, 1, H, W) images by each of ``sigmas``: (B, len(sigmas), H, W).

    Separable Gaussians reflected at the edges, all blurs in one grouped
    convolution per direction (a σ of 0 copies the image).
    """
    radius = max(1, *(math.ceil(3 * s) for s in sigmas))
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)
    taps = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    kernels = torch.stack(
        [
            torch.exp(-0.5 * (taps / s) ** 2) if s > 0 else (taps == 0).to(taps)
            for s in sigmas
        ]
    )
    kernels = kernels / kernels.sum(dim=1, keepdim=True)
    count = len(sigmas)
    rows = F.pad(image, (radius, radius, 0, 0), mode='reflect').expand(
        -1, count, -1, -1
    )
    rows = F.conv2d(rows, kernels.view(count, 1, 1, -1), groups=count)
    columns = F.pad(rows, (0, 0, radius, radius), mode='reflect')
    return F.conv2d(columns, kernels.view(count, 1, -1, 1), groups=count)


class DoGKeypoints(nn.Module):
    """Detect the ``num_keypoints`` strongest DoG blobs (maxima and minima).

    No learned weights: SIFT's scale space (``levels`` scales per octave,
    base σ = ``sigma``, the input assumed blurred by 0.5 px), on the mean of
    the bands, octaves down to ``min_size`` pixels. A keypoint is an extremum
    of the DoG among its 26 neighbours in space and scale, at least
    ``border`` octave pixels from the edge, stronger than ``threshold``, that
    passes Lowe's edge test
    (ratio of principal curvatures below ``edge_ratio``); its response is
    the absolute DoG value, which is comparable across octaves (a DoG of
    constant scale ratio approximates the scale-normalised Laplacian), and its
    position is refined by a quadratic fit in space. Reference and query are
    detected independently.

    SIFT upsamples the image ×2 before the first octave to find the finest
    blobs; those are far finer than the matcher's stride-16 descriptors and the
    octave costs more than all the others together, so it is off by default.

    Args:
        num_keypoints: keypoints per image (the strongest responses).
        levels: scales per octave.
        sigma: blur of each octave's first scale.
        min_size: smallest octave side, in pixels.
        border: octave pixels at the edges where no keypoint is kept.
        edge_ratio: Lowe's principal-curvature ratio ``r`` (10 in SIFT).
        threshold: smallest absolute DoG of a keypoint, for images in [0, 1]
            (drops the rounding-noise extrema of flat areas; SIFT's contrast
            threshold, ~0.007, would also drop faint real blobs).
        upsample: start the scale space from the image upsampled ×2.
    """

    def __init__(
        self,
        num_keypoints: int = 256,
        levels: int = 3,
        sigma: float = 1.6,
        min_size: int = 32,
        border: int = 2,
        edge_ratio: float = 10.0,
        threshold: float = 1e-3,
        upsample: bool = False,
    ) -> None:
        """Initialise the detector; see the class docstring."""
        super().__init__()
        if num_keypoints < 1:
            raise InputError(
                'num_keypoints', f'must be at least 1, got {num_keypoints}'
            )
        if levels < 1:
            raise InputError('levels', f'must be at least 1, got {levels}')
        if border < 1:
            raise InputError('border', f'must be at least 1, got {border}')
        self.num_keypoints = num_keypoints
        self.levels = levels
        self.sigma = sigma
        self.min_size = max(min_size, 2 * border + 3)
        self.border = border
        self.edge_ratio = edge_ratio
        self.threshold = threshold
        self.upsample = upsample

    def _octaves(self, grey: Tensor) -> list[Tensor]:
        """DoG stacks (B, levels + 2, h, w), one per octave, finest first."""
        assumed = 1.0 if self.upsample else 0.5
        current = gaussian_blur(grey, [math.sqrt(self.sigma**2 - assumed**2)])
        # scale k of an octave is sigma * 2^(k / levels): blur the octave's
        # first scale by sigma * sqrt(2^(2k / levels) - 1)
        blurs = [
            self.sigma * math.sqrt(2 ** (2 * k / self.levels) - 1)
            for k in range(self.levels + 3)
        ]
        stacks = []
        while min(current.shape[-2:]) >= self.min_size:
            pyramid = gaussian_blur(current, blurs)
            stacks.append(pyramid[:, 1:] - pyramid[:, :-1])
            # the scale of twice the first blur starts the next octave
            current = pyramid[:, self.levels : self.levels + 1, ::2, ::2]
        return stacks

    def _candidates(self, dog: Tensor) -> tuple[Tensor, Tensor]:
        """Responses (B, levels, h, w) of the extrema passing the tests, 0 elsewhere.

        Also returns the DoG of the middle levels, for the sub-pixel fit.
        """
        middle = dog[:, 1:-1]
        extremum = (middle == _neighbourhood_max(dog)) | (
            middle == -_neighbourhood_max(-dog)
        )
        dxx, dyy, dxy = _hessian(middle)
        trace, det = dxx + dyy, dxx * dyy - dxy**2
        ratio = (self.edge_ratio + 1) ** 2 / self.edge_ratio
        not_edge = (det > 0) & (trace**2 < ratio * det)
        response = middle.abs() * (
            extremum & not_edge & (middle.abs() > self.threshold)
        )
        b = self.border
        inner = torch.zeros_like(response)
        inner[..., b:-b, b:-b] = response[..., b:-b, b:-b]
        return inner, middle

    @torch.no_grad()
    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """Detect keypoints.

        Args:
            image: (B, C, H, W) in [0, 1].

        Returns:
            (B, K, 2) positions (x, y) in continuous pixel coordinates and (B, K)
            absolute responses, both float32 (also under mixed precision:
            bfloat16 cannot tell pixel 257 from 258); when an image holds fewer
            than K blobs, the remaining keypoints are padding with a response
            of 0.
        """
        with torch.autocast(image.device.type, enabled=False):
            return self._detect(image.float())

    def _detect(self, image: Tensor) -> tuple[Tensor, Tensor]:
        grey = image.mean(dim=1, keepdim=True)
        height, width = grey.shape[-2:]
        if self.upsample:
            grey = F.interpolate(grey, scale_factor=2.0, mode='bilinear')
        batch = grey.shape[0]
        responses, positions = [], []
        pixel = 0.5 if self.upsample else 1.0
        for octave, dog in enumerate(self._octaves(grey)):
            response, middle = self._candidates(dog)
            levels, h, w = response.shape[1:]
            count = min(self.num_keypoints, levels * h * w)
            value, index = response.flatten(1).topk(count, dim=1)
            level, rest = index // (h * w), index % (h * w)
            row, col = rest // w, rest % w
            offset = _subpixel(middle, level, row, col)
            size = pixel * 2**octave
            x = (col.to(offset.dtype) + offset[..., 0]) * size + 0.5 * pixel
            y = (row.to(offset.dtype) + offset[..., 1]) * size + 0.5 * pixel
            responses.append(value)
            positions.append(torch.stack((x, y), -1))
        if not responses:
            xy = torch.zeros(batch, self.num_keypoints, 2, device=image.device)
            return xy, torch.zeros(batch, self.num_keypoints, device=image.device)
        value = torch.cat(responses, dim=1)
        xy = torch.cat(positions, dim=1)
        if value.shape[1] < self.num_keypoints:
            missing = self.num_keypoints - value.shape[1]
            value = F.pad(value, (0, missing))
            xy = F.pad(xy, (0, 0, 0, missing))
        value, order = value.topk(self.num_keypoints, dim=1)
        xy = xy.gather(1, order[..., None].expand(-1, -1, 2))
        xy[..., 0] = xy[..., 0].clamp(0.0, float(width))
        xy[..., 1] = xy[..., 1].clamp(0.0, float(height))
        return xy, value

    def detect_pair(
        self, first: Tensor, second: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Keypoints of two batches of images, in one pass when their sizes agree.

        Every image is detected on its own (on the mean of its bands), so one
        batch of both batches' grey images gives what two calls give, with half
        the calls; the band counts may differ.

        Args:
            first: (B, C, H, W) in [0, 1].
            second: (B', C', H', W') in [0, 1].

        Returns:
            Positions and responses of ``first``, then those of ``second``
            (see :meth:`forward`).
        """
        if first.shape[-2:] != second.shape[-2:]:
            return (*self(first), *self(second))
        greys = torch.cat(
            [x.float().mean(dim=1, keepdim=True) for x in (first, second)]
        )
        xy, response = self(greys)
        b = first.shape[0]
        return xy[:b], response[:b], xy[b:], response[b:]


def _neighbourhood_max(dog: Tensor) -> Tensor:
    """Maximum over the 3×3×3 neighbourhood of each middle level of (B, L, h, w).

    Separable maxima of shifted views (columns, rows, then scales): several
    times faster on a CPU than ``max_pool3d`` or ``max_pool2d``.
    """
    padded = F.pad(dog, (1, 1, 1, 1), value=float('-inf'))
    columns = torch.maximum(
        torch.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:]
    )
    rows = torch.maximum(
        torch.maximum(columns[..., :-2, :], columns[..., 1:-1, :]), columns[..., 2:, :]
    )
    return torch.maximum(torch.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _hessian(dog: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Second derivatives in space of (B, L, h, w) maps (edges replicated)."""
    padded = F.pad(dog, (1, 1, 1, 1), mode='replicate')
    centre = padded[..., 1:-1, 1:-1]
    dxx = padded[..., 1:-1, 2:] + padded[..., 1:-1, :-2] - 2 * centre
    dyy = padded[..., 2:, 1:-1] + padded[..., :-2, 1:-1] - 2 * centre
    dxy = (
        padded[..., 2:, 2:]
        - padded[..., 2:, :-2]
        - padded[..., :-2, 2:]
        + padded[..., :-2, :-2]
    ) / 4
    return dxx, dyy, dxy


def _subpixel(dog: Tensor, level: Tensor, row: Tensor, col: Tensor) -> Tensor:
    """Offsets (B, K, 2) of the quadratic fit's extremum, within half a pixel.

    Args:
        dog: (B, L, h, w) DoG maps.
        level: (B, K) level of each point.
        row: (B, K) rows.
        col: (B, K) columns.
    """
    _, _, h, w = dog.shape
    flat = dog.flatten(1)

    def at(dr: int, dc: int) -> Tensor:
        r = (row + dr).clamp(0, h - 1)
        c = (col + dc).clamp(0, w - 1)
        return flat.gather(1, (level * h + r) * w + c)

    centre = at(0, 0)
    gx = (at(0, 1) - at(0, -1)) / 2
    gy = (at(1, 0) - at(-1, 0)) / 2
    dxx = at(0, 1) + at(0, -1) - 2 * centre
    dyy = at(1, 0) + at(-1, 0) - 2 * centre
    dxy = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4
    det = dxx * dyy - dxy**2
    safe = det.abs() > 1e-12
    det = torch.where(safe, det, torch.ones_like(det))
    dx = -(dyy * gx - dxy * gy) / det
    dy = -(dxx * gy - dxy * gx) / det
    offset = torch.stack((dx, dy), -1) * safe[..., None]
    return offset.clamp(-0.5, 0.5)
