"""Fast procedural noise fields (value noise upsampled with bicubic interpolation)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

Field = np.ndarray[Any, np.dtype[np.float32]]


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> Field:
    """Smooth noise with features about ``cell`` pixels wide, values ~ N(0, 1).

    Args:
        rng: random generator (consumed).
        shape: (height, width) of the field.
        cell: lattice spacing in pixels (>= 1).

    Returns:
        A float32 field of the given shape.
    """
    height, width = shape
    cell = max(float(cell), 1.0)
    rows = int(np.ceil(height / cell)) + 3
    cols = int(np.ceil(width / cell)) + 3
    lattice = rng.standard_normal((rows, cols)).astype(np.float32)
    big = cv2.resize(
        lattice, (round(cols * cell), round(rows * cell)), interpolation=cv2.INTER_CUBIC
    )
    off = round(cell)
    return np.ascontiguousarray(big[off : off + height, off : off + width])


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cell: float,
    octaves: int = 4,
    persistence: float = 0.5,
) -> Field:
    """Sum of value-noise octaves, rescaled to [0, 1].

    Args:
        rng: random generator (consumed).
        shape: (height, width).
        cell: lattice spacing of the coarsest octave in pixels.
        octaves: number of octaves, each twice as fine as the previous.
        persistence: amplitude factor from one octave to the next.

    Returns:
        A float32 field in [0, 1].
    """
    total = np.zeros(shape, dtype=np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        total += amplitude * value_noise(rng, shape, cell / 2**octave)
        amplitude *= persistence
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)
