"""Turn digital numbers of any sensor and data type into comparable floats."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

FloatImage = np.ndarray[Any, np.dtype[np.float32]]


def percentile_stretch(
    array: np.ndarray[Any, Any],
    valid: np.ndarray[Any, np.dtype[np.bool_]] | None = None,
    *,
    low: float = 2.0,
    high: float = 98.0,
) -> FloatImage:
    """Scale each band linearly so that its ``low``–``high`` percentiles map to 0–1.

    Percentiles are taken over valid pixels only; values are clipped to [0, 1] and
    invalid pixels set to 0. The same rule serves uint8 optical, 12-bit optical,
    16-bit SAR and float reflectance alike, and is insensitive to a few saturated
    or dead pixels.

    Args:
        array: (C, H, W) band values of any numeric dtype.
        valid: optional (H, W) mask of pixels holding data.
        low: lower percentile.
        high: upper percentile (> ``low``).

    Returns:
        (C, H, W) float32 values in [0, 1].

    Raises:
        InputError: on a bad shape or percentile pair.
    """
    if array.ndim != 3:
        raise InputError('array', f'must be (C, H, W), got shape {array.shape}')
    if not 0.0 <= low < high <= 100.0:
        raise InputError(
            'percentiles', f'need 0 <= low < high <= 100, got {low}, {high}'
        )
    mask = np.ones(array.shape[1:], dtype=bool) if valid is None else valid
    out = np.zeros(array.shape, dtype=np.float32)
    if not mask.any():
        return out
    for index, band in enumerate(array):
        values = band[mask].astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        lo, hi = np.percentile(values, [low, high])
        scaled = (band.astype(np.float64) - lo) / max(hi - lo, 1e-12)
        out[index] = np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0)
    out[:, ~mask] = 0.0
    return out


def fit_bands(pixels: np.ndarray[Any, Any], channels: int) -> np.ndarray[Any, Any]:
    """Adapt an image's band count to what a model expects.

    One band wanted: the mean of all bands. More bands than wanted: the first
    ones. Fewer: the last band repeated.

    Args:
        pixels: (C, H, W).
        channels: wanted band count.

    Returns:
        (channels, H, W).
    """
    count = pixels.shape[0]
    if count == channels:
        return pixels
    if channels == 1:
        return pixels.mean(axis=0, keepdims=True)
    if count > channels:
        return pixels[:channels]
    return np.concatenate([pixels, np.repeat(pixels[-1:], channels - count, axis=0)])
