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

from ..errors import InputError

FloatImage = np.ndarray[Any, np.dtype[np.float32]]


def _grey(image: FloatImage) -> FloatImage:
    return np.asarray(image[:3].mean(axis=0), dtype=np.float32)


def _smooth_field(
    shape: tuple[int, int], rng: np.random.Generator, scale: float
) -> FloatImage:
    """Smooth random field in [0, 1] with features about ``scale`` pixels wide."""
    rows, cols = shape
    small = rng.random((max(2, round(rows / scale)), max(2, round(cols / scale))))
    field = cv2.resize(
        small.astype(np.float32), (cols, rows), interpolation=cv2.INTER_CUBIC
    )
    low, high = float(field.min()), float(field.max())
    return np.asarray((field - low) / max(high - low, 1e-6), dtype=np.float32)


def _resolution(image: FloatImage, factor: float) -> FloatImage:
    """The image as a sensor ``factor`` times coarser would see it (same grid)."""
    if factor <= 1.01:
        return image
    rows, cols = image.shape[-2:]
    small = cv2.resize(
        image.transpose(1, 2, 0),
        (max(2, round(cols / factor)), max(2, round(rows / factor))),
        interpolation=cv2.INTER_AREA,
    )
    back = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)
    return np.asarray(back.reshape(rows, cols, -1).transpose(2, 0, 1), np.float32)


def _later_date(source: FloatImage, rng: np.random.Generator) -> FloatImage:
    """Another date of an optical scene: light, season, haze, clouds, moved objects."""
    bands, rows, cols = source.shape
    gamma = rng.uniform(0.7, 1.4, size=(bands, 1, 1))
    gain = rng.uniform(0.8, 1.2, size=(bands, 1, 1))  # season / colour shift
    light = 1.0 + rng.uniform(-0.25, 0.25) * (
        _smooth_field((rows, cols), rng, max(rows, cols) / 2) - 0.5
    )
    out = gain * np.power(np.clip(source, 0, 1), gamma) * light
    out = out + rng.uniform(-0.05, 0.05)
    # moved objects: a few patches copied elsewhere
    for _ in range(int(rng.integers(0, 6))):
        side = int(rng.integers(6, max(7, min(rows, cols) // 12)))
        y0, x0 = rng.integers(0, rows - side), rng.integers(0, cols - side)
        y1, x1 = rng.integers(0, rows - side), rng.integers(0, cols - side)
        out[:, y1 : y1 + side, x1 : x1 + side] = out[:, y0 : y0 + side, x0 : x0 + side]
    if rng.random() < 0.5:  # haze: airlight mixed in, unevenly
        haze = rng.uniform(0.05, 0.35) * _smooth_field((rows, cols), rng, cols / 3)
        out = out * (1 - haze) + haze * rng.uniform(0.7, 1.0)
    if rng.random() < 0.3:  # clouds over up to a fifth of the scene
        field = _smooth_field((rows, cols), rng, cols / 6)
        cover = np.clip(
            (field - np.quantile(field, 1 - rng.uniform(0.02, 0.2))) * 8, 0, 1
        )
        out = out * (1 - cover) + cover * rng.uniform(0.85, 1.0)
    return np.asarray(out + rng.normal(0, 0.01, size=out.shape), np.float32)


def simulate_modality(
    image: FloatImage, modality: str, bands: int, rng: np.random.Generator
) -> FloatImage:
    """View a [0, 1] image as another sensor would, at another date.

    Every modality first sees the scene at a sensor resolution up to 2× coarser.

    - ``optical``: a later date: gamma, gain (season/colour shift) and an
      uneven illumination per band, a few objects moved, haze (half of the
      time), clouds over up to a fifth of the scene (30 % of the time), noise;
    - ``sar``: backscatter rising with local structure (edges and buildings are
      bright), bright layover-like edges facing a random look direction, dark
      smooth areas (water), multiplicative speckle of 1–8 looks, on a dB scale;
    - ``thermal``: inverted, gamma-distorted brightness, blurred, at 1.5–4×
      lower resolution, with noise.

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
    if modality not in ('optical', 'sar', 'thermal'):
        raise InputError(
            'modality', f'must be optical, sar or thermal, got {modality!r}'
        )
    if modality == 'thermal' and bands != 1:
        raise InputError('bands', f'thermal views have 1 band, got {bands}')
    if modality == 'sar' and bands not in (1, 2):
        raise InputError('bands', f'SAR views have 1 or 2 bands, got {bands}')
    if modality == 'optical' and bands > image.shape[0] and bands != 1:
        raise InputError(
            'bands', f'the image has {image.shape[0]} bands, asked {bands}'
        )
    image = _resolution(np.asarray(image, np.float32), rng.uniform(1.0, 2.0))
    out: np.ndarray[Any, Any]
    if modality == 'optical':
        source = _grey(image)[None] if bands == 1 else image[:bands]
        out = _later_date(source, rng)
    elif modality == 'sar':
        grey = _grey(image)
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
        structure = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), 1.0)
        look = rng.uniform(0, 2 * np.pi)
        facing = np.maximum(gx * np.cos(look) + gy * np.sin(look), 0)
        layover = cv2.GaussianBlur(facing, (0, 0), 0.7) * rng.uniform(0.5, 3.0)
        sigma = 0.02 + 0.4 * np.power(grey, 2.0) + 1.5 * structure + layover
        layers = [sigma, 0.3 * sigma * (0.5 + grey)][:bands]
        looks = float(rng.choice([1, 2, 4, 8]))
        speckle = rng.gamma(looks, 1 / looks, size=(bands, *grey.shape))
        speckled = np.stack(layers) * speckle
        out = (10 * np.log10(np.maximum(speckled, 1e-4)) + 28.0) / 38.0
    else:
        grey = _grey(image)
        factor = rng.uniform(1.5, 4.0)
        coarse = _resolution(grey[None], factor)[0]
        coarse = cv2.GaussianBlur(coarse, (0, 0), rng.uniform(0.5, 1.5))
        out = (1.0 - np.power(np.clip(coarse, 0, 1), rng.uniform(0.6, 1.6)))[None]
        out = out + rng.normal(0, 0.01, size=out.shape)
    return np.clip(out, 0, 1).astype(np.float32)
