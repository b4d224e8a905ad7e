"""Simulate another modality from a real image (for pairs made from real rasters).

Real rasters carry no second modality, so a SAR-like or thermal-like view is
made from the image itself: a nonlinear, partly inverted intensity mapping that
no global curve undoes, plus the sensor's typical noise. It is coarser than the
material-based rendering of synthetic scenes, but applies to any imagery.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ...errors import InputError

FloatImage = np.ndarray[Any, np.dtype[np.float32]]


def _grey(image: FloatImage) -> FloatImage:
    return np.asarray(image[:3].mean(axis=0), dtype=np.float32)


def simulate_modality(
    image: FloatImage, modality: str, bands: int, rng: np.random.Generator
) -> FloatImage:
    """View a [0, 1] image as another sensor would.

    - ``optical``: random gamma, gain and offset per band, Gaussian noise;
    - ``sar``: backscatter rising with local structure (gradient magnitude:
      edges and buildings are bright) and falling on smooth dark areas (water),
      multiplicative 4-look speckle, on a dB scale;
    - ``thermal``: inverted, gamma-distorted brightness at half resolution, with
      noise.

    Args:
        image: (C, H, W) values in [0, 1].
        modality: ``optical``, ``sar`` or ``thermal``.
        bands: output bands (optical: 1 = mean of the first three, else the first
            ``bands``; SAR: 1 VV-like or 2 with a VH-like band; thermal: 1).
        rng: random generator (consumed).

    Returns:
        (bands, H, W) float32 values in [0, 1].

    Raises:
        InputError: for an unknown modality or band count.
    """
    if modality == 'optical':
        if bands == 1:
            source = _grey(image)[None]
        elif bands <= image.shape[0]:
            source = image[:bands]
        else:
            raise InputError(
                'bands', f'the image has {image.shape[0]} bands, asked {bands}'
            )
        gamma = rng.uniform(0.7, 1.4, size=(len(source), 1, 1))
        gain = rng.uniform(0.8, 1.2, size=(len(source), 1, 1))
        out = gain * np.power(np.clip(source, 0, 1), gamma) + rng.uniform(-0.05, 0.05)
        out = out + rng.normal(0, 0.01, size=out.shape)
    elif modality == 'sar':
        if bands not in (1, 2):
            raise InputError('bands', f'SAR views have 1 or 2 bands, got {bands}')
        grey = _grey(image)
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
        structure = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), 1.0)
        sigma = 0.02 + 0.4 * np.power(grey, 2.0) + 1.5 * structure
        layers = [sigma, 0.3 * sigma * (0.5 + grey)][:bands]
        speckled = np.stack(layers) * rng.gamma(4.0, 0.25, size=(bands, *grey.shape))
        out = (10 * np.log10(np.maximum(speckled, 1e-4)) + 28.0) / 38.0
    elif modality == 'thermal':
        if bands != 1:
            raise InputError('bands', f'thermal views have 1 band, got {bands}')
        grey = _grey(image)
        small = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, grey.shape[::-1], interpolation=cv2.INTER_LINEAR)
        out = (1.0 - np.power(coarse, rng.uniform(0.6, 1.6)))[None]
        out = out + rng.normal(0, 0.01, size=out.shape)
    else:
        raise InputError(
            'modality', f'must be optical, sar or thermal, got {modality!r}'
        )
    return np.clip(out, 0, 1).astype(np.float32)
