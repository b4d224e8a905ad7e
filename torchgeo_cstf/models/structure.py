"""Modality-invariant structure channels: dense oriented gradients (CFOG-like).

Optical, SAR, thermal and map renderings of the same ground share little
intensity but much *structure*: the orientation of edges. This module turns an
image of any bands into ``bins`` channels, each the magnitude of the
directional derivative along one orientation in [0°, 180°) (the absolute value
makes it blind to contrast inversion: a dark road on bright fields and a bright
road on dark fields give the same channels), smoothed spatially by a Gaussian
and across neighbouring orientations, then normalised per pixel so that the
channels describe the *shape* of the local gradient distribution and not its
strength. The idea is that of CFOG (Ye et al., 2019, "Fast and robust matching
for multimodal remote sensing image registration"); this is our own
formulation in PyTorch (batched, differentiable, runs on the GPU).

It serves as the dense matcher's descriptor
(:class:`~torchgeo_cstf.models.dense.DenseMatcher`), the rotation/scale search
(:mod:`~torchgeo_cstf.models.search`) and as extra input channels of the CSTF
matcher's band adapters (``CSTFMatcher(structure=True)``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

#: orientation bins of the default descriptor (20° apart)
DEFAULT_BINS = 9
#: orientation harmonics that matching keeps by default (see
#: :func:`oriented_gradients`): 5 components instead of 9 bins
DEFAULT_HARMONICS = 2


def gaussian_kernel(sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A normalised 1-D Gaussian kernel of radius ``ceil(3 sigma)``."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of every channel of (B, C, H, W), edges replicated.

    On the CPU, outside autograd, OpenCV filters each plane (the same kernel and
    border, much faster than PyTorch's grouped convolution on one thread);
    elsewhere PyTorch does, batched and differentiable.
    """
    if sigma <= 0:
        return image
    kernel = gaussian_kernel(sigma, image.dtype, image.device)
    if _opencv_can_filter(image):
        taps = kernel.numpy()
        planes = image.detach().reshape(-1, *image.shape[-2:]).numpy()
        blurred = np.empty_like(planes)
        for plane, target in zip(planes, blurred, strict=True):
            cv2.sepFilter2D(
                plane, -1, taps, taps, dst=target, borderType=cv2.BORDER_REPLICATE
            )
        return torch.from_numpy(blurred).reshape(image.shape)
    radius = kernel.numel() // 2
    channels = image.shape[1]
    horizontal = kernel.reshape(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = kernel.reshape(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(
        F.pad(image, (radius, radius, 0, 0), mode='replicate'),
        horizontal,
        groups=channels,
    )
    return F.conv2d(
        F.pad(out, (0, 0, radius, radius), mode='replicate'), vertical, groups=channels
    )


def _opencv_can_filter(image: Tensor) -> bool:
    """Whether :func:`gaussian_blur` may hand ``image`` to OpenCV."""
    return (
        image.device.type == 'cpu'
        and image.dtype in (torch.float32, torch.float64)
        and not (torch.is_grad_enabled() and image.requires_grad)
        and image.shape[-2] > 1
        and image.shape[-1] > 1
    )


def oriented_gradients(
    image: Tensor,
    bins: int = DEFAULT_BINS,
    sigma: float = 2.0,
    pre_sigma: float = 1.0,
    floor: float = 0.05,
    harmonics: int | None = None,
) -> Tensor:
    """Dense oriented-gradient channels, normalised per pixel.

    With ``harmonics``, the channels come as their projection on the circular
    harmonics ``0..harmonics`` of the orientation (:func:`harmonic_basis`).
    Each pixel's bins sample, over [0°, 180°), a sum of rectified cosines
    ``|g| |cos(θ - φ)|``, smoothed across neighbouring orientations; their
    harmonics fall fast (relative amplitudes 1, 0.42, 0.085, 0.036 and 0.020
    for harmonics 0–4, which the [1, 2, 1] orientation smoothing multiplies by
    1, 0.88, 0.59, 0.25 and 0.03 with 9 bins). The projection is orthonormal,
    so inner products and norms — all that normalised cross-correlation
    sees — are kept up to the dropped harmonics: with 2, under 0.1 % of the
    energy, and matching correlates 5 components instead of 9 bins (same
    matches, about half the time: ``docs/design.md``). The projection is
    taken right after rectification: the orientation smoothing is circulant,
    so it scales each harmonic by its own factor, and the spatial blur and
    the per-pixel norm then run on the few components instead of all bins.

    Args:
        image: (B, C, H, W) values (any scale; the bands are averaged).
        bins: orientations in [0°, 180°).
        sigma: spatial Gaussian smoothing of each orientation channel, pixels.
        pre_sigma: Gaussian smoothing of the image before the derivatives
            (tames speckle and sensor noise).
        floor: share of the image's mean gradient energy added to each pixel's
            norm before normalising, so that flat areas stay near zero instead
            of turning noise into unit vectors.
        harmonics: highest orientation harmonic to project on, or None for the
            bins themselves.

    Returns:
        (B, bins, H, W) float channels, or (B, 2 * harmonics + 1, H, W)
        components; each pixel's vector has norm ≤ 1.

    Raises:
        InputError: a bad shape, bin count or harmonic order.
    """
    if image.ndim != 4:
        raise InputError('image', f'must be (B, C, H, W), got {tuple(image.shape)}')
    if bins < 2:
        raise InputError('bins', f'must be at least 2, got {bins}')
    basis = None if harmonics is None else _smoothed_basis(bins, harmonics)
    grey = gaussian_blur(image.float().mean(dim=1, keepdim=True), pre_sigma)
    padded = F.pad(grey, (1, 1, 1, 1), mode='replicate')
    gx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    gy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    angles = torch.arange(bins, dtype=grey.dtype, device=grey.device) * (math.pi / bins)
    directions = angles.cos().reshape(1, -1, 1, 1), angles.sin().reshape(1, -1, 1, 1)
    channels = torch.addcmul(gx * directions[0], gy, directions[1]).abs()
    if basis is None:
        channels = _smooth_orientations(gaussian_blur(channels, sigma))
    else:
        projected = torch.einsum('mc,bchw->bmhw', basis.to(channels), channels)
        channels = gaussian_blur(projected.contiguous(), sigma)
    norm = channels.pow(2).sum(dim=1, keepdim=True).sqrt()
    scale = norm.mean(dim=(2, 3), keepdim=True)
    return channels / (norm + floor * scale + 1e-12)


def _smoothed_basis(bins: int, order: int) -> Tensor:
    """:func:`harmonic_basis` rows that also smooth across orientations.

    Projecting the bins on these rows equals projecting the bins smoothed by
    :func:`_smooth_orientations` on the plain rows (the filter is symmetric,
    so it can be applied to the rows instead of the bins).
    """
    basis = harmonic_basis(bins, order)  # (2 * order + 1, bins)
    return _smooth_orientations(basis.T[None, :, :, None])[0, :, :, 0].T


def _smooth_orientations(channels: Tensor) -> Tensor:
    """[1, 2, 1] / 4 across the orientation channels, circularly (they wrap at 180°).

    Added slice by slice into one new tensor: rolled copies cost twice as much.
    """
    smoothed = 0.5 * channels
    quarter = 0.25 * channels
    smoothed[:, 1:] += quarter[:, :-1]
    smoothed[:, :1] += quarter[:, -1:]
    smoothed[:, :-1] += quarter[:, 1:]
    smoothed[:, -1:] += quarter[:, :1]
    return smoothed


def harmonic_basis(bins: int, order: int) -> Tensor:
    """Orthonormal circular harmonics 0..``order`` over ``bins`` orientations.

    Returns:
        (2 * order + 1, bins) float32 rows: the constant, then the cosine and
        sine of each harmonic ``k`` (``k`` cycles over 180°).

    Raises:
        InputError: ``order`` is negative or the harmonics would not fit in
            ``bins`` samples (``2 * order + 1 > bins``).
    """
    if order < 0 or 2 * order + 1 > bins:
        raise InputError(
            'harmonics',
            f'must be in [0, {(bins - 1) // 2}] for {bins} bins, got {order}',
        )
    phase = 2 * math.pi * torch.arange(bins, dtype=torch.float64) / bins
    rows = [torch.full((bins,), 1 / math.sqrt(bins), dtype=torch.float64)]
    for k in range(1, order + 1):
        rows += [math.sqrt(2 / bins) * (k * phase).cos()]
        rows += [math.sqrt(2 / bins) * (k * phase).sin()]
    return torch.stack(rows).float()
