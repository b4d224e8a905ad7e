"""Render a :class:`~.world.World` as an optical, SAR-like or thermal-like image.

An image is a *frame*: ``height × width`` pixels whose continuous pixel
coordinates map to reference (world) pixel coordinates by a 3×3 matrix. The
background is sampled from the world's canvas; objects are rasterised directly
in the frame from their outlines mapped by the inverse matrix, so they stay
sharp at any scale and their boxes are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from ..errors import InputError
from ..ops.homography import apply_homography, translation
from .noise import fractal_noise
from .shapes import Points
from .world import BEACH, BEACH_BAND, LAND, SEA, URBAN, PlacedObject, World

Modality = Literal['optical', 'sar', 'thermal']
Image = np.ndarray[Any, np.dtype[np.float32]]

#: band names per modality and band count
BAND_NAMES: dict[str, dict[int, tuple[str, ...]]] = {
    'optical': {
        1: ('pan',),
        3: ('red', 'green', 'blue'),
        4: ('red', 'green', 'blue', 'nir'),
    },
    'sar': {1: ('vv',), 2: ('vv', 'vh')},
    'thermal': {1: ('tir',)},
}

#: largest digital number written per modality for uint16 output
UINT16_MAX: dict[str, int] = {'optical': 4095, 'sar': 65535, 'thermal': 16383}


@dataclass(frozen=True)
class Frame:
    """Pixel grid of one image and where it lies on the ground.

    Attributes:
        height: rows.
        width: columns.
        to_world: 3×3 matrix mapping this frame's continuous pixel coordinates
            to reference (world) pixel coordinates.
    """

    height: int
    width: int
    to_world: np.ndarray[Any, np.dtype[np.float64]]

    def from_world(self, points: Points) -> Points:
        """Map (K, 2) world points into this frame."""
        return apply_homography(np.linalg.inv(self.to_world), points)


class _Sampler:
    """Samples canvas fields at the frame's pixel centres."""

    def __init__(self, frame: Frame, margin: int) -> None:
        # frame pixel index -> frame continuous (+0.5) -> world -> canvas index
        self.matrix = (
            translation(margin - 0.5, margin - 0.5)
            @ frame.to_world
            @ translation(0.5, 0.5)
        )
        self.frame = frame
        offset = self.matrix[:2, 2]
        linear = self.matrix[:2, :2]
        pure_shift = (
            np.allclose(linear, np.eye(2))
            and np.allclose(self.matrix[2], [0, 0, 1])
            and np.allclose(offset, np.round(offset))
        )
        self.shift = (round(offset[0]), round(offset[1])) if pure_shift else None

    def __call__(
        self, field: np.ndarray[Any, Any], *, nearest: bool = False, fill: float = 0
    ) -> np.ndarray[Any, Any]:
        h, w = self.frame.height, self.frame.width
        if self.shift is not None:
            x0, y0 = self.shift
            if (
                x0 >= 0
                and y0 >= 0
                and y0 + h <= field.shape[0]
                and x0 + w <= field.shape[1]
            ):
                return field[y0 : y0 + h, x0 : x0 + w]
        flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | (
            cv2.WARP_INVERSE_MAP
        )
        return cv2.warpPerspective(
            field,
            self.matrix,
            (w, h),
            flags=flags,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=fill,
        )


def _background(
    world: World, frame: Frame, modality: Modality
) -> tuple[Image, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Background bands (C, h, w) in [0, 1] (SAR: linear backscatter) and validity."""
    sample = _Sampler(frame, world.margin)
    material = sample(world.material, nearest=True, fill=255)
    valid = material != 255
    # the coastline comes from the interpolated terrain, so it stays smooth
    # however much the frame magnifies the canvas
    elevation = sample(world.elevation)
    sea = elevation < world.sea_level
    beach = ~sea & (elevation < world.sea_level + BEACH_BAND)
    inland = np.where(np.isin(material, (SEA, BEACH)), LAND, material)
    material = np.where(sea, SEA, np.where(beach, BEACH, inland)).astype(np.uint8)
    tone = sample(world.parcel_tone[world.parcel_id])
    texture = sample(world.texture)
    waves = sample(world.waves)
    street = sample(world.street, nearest=True) > 0.5
    depth = np.clip((world.sea_level - elevation) / 0.15, 0, 1)
    bands = 4 if modality == 'optical' else 2 if modality == 'sar' else 1
    out = np.zeros((bands, frame.height, frame.width), dtype=np.float32)
    for code in (SEA, LAND, URBAN, BEACH):
        mask = material == code
        if not mask.any():
            continue
        fields = {
            'tone': tone[mask],
            'texture': texture[mask],
            'waves': waves[mask],
            'street': street[mask],
            'depth': depth[mask],
        }
        out[:, mask] = _MATERIALS[modality](code, fields)
    return out, valid


def _lerp(a: tuple[float, ...], b: tuple[float, ...], t: Any) -> Any:
    return np.asarray(a)[:, None] * (1 - t) + np.asarray(b)[:, None] * t


def _optical(code: int, f: dict[str, Any]) -> Any:
    t, tex = f['tone'], f['texture']
    if code == SEA:
        colour = _lerp((0.10, 0.17, 0.15, 0.03), (0.03, 0.06, 0.09, 0.01), f['depth'])
        return colour * (0.85 + 0.3 * f['waves'])
    if code == LAND:
        colour = _lerp((0.07, 0.13, 0.05, 0.42), (0.27, 0.23, 0.16, 0.30), t)
        return colour * (0.8 + 0.4 * tex) * np.where(f['street'], 0.55, 1.0)
    if code == URBAN:
        grey = 0.25 + 0.45 * t
        roof = np.stack(
            (grey * (1 + 0.25 * (t > 0.75)), grey * 0.97, grey * 0.93, grey * 0.8)
        )
        asphalt = np.array([0.13, 0.13, 0.14, 0.12])[:, None]
        return np.where(f['street'], asphalt, roof) * (0.9 + 0.2 * tex)
    return np.array([0.45, 0.42, 0.34, 0.38])[:, None] * (0.9 + 0.2 * tex)


def _sar(code: int, f: dict[str, Any]) -> Any:
    t, tex = f['tone'], f['texture']
    if code == SEA:
        vv = 0.012 * (0.4 + 1.6 * f['waves'])
        return np.stack((vv, 0.05 * vv))
    if code == LAND:
        vv = (0.04 + 0.18 * t) * (0.6 + 0.8 * tex) * np.where(f['street'], 1.8, 1.0)
        return np.stack((vv, 0.35 * vv))
    if code == URBAN:
        vv = np.where(f['street'], 0.02, 0.3 + 1.2 * t) * (0.7 + 0.6 * tex)
        return np.stack((vv, 0.15 * vv))
    vv = 0.03 * (0.8 + 0.4 * tex)
    return np.stack((vv, 0.1 * vv))


def _thermal(code: int, f: dict[str, Any]) -> Any:
    t, tex = f['tone'], f['texture']
    if code == SEA:
        value = 0.62 + 0.04 * f['waves']
    elif code == LAND:
        value = 0.28 + 0.22 * t + 0.06 * tex + 0.03 * f['street']
    elif code == URBAN:
        value = np.where(f['street'], 0.72, 0.5 + 0.15 * t) + 0.03 * tex
    else:
        value = 0.45 + 0.04 * tex
    return value[None]


_MATERIALS = {'optical': _optical, 'sar': _sar, 'thermal': _thermal}


def _object_value(obj: PlacedObject, tone: float, hot: bool, modality: Modality) -> Any:
    if modality == 'optical':
        return np.clip(obj.colour * tone, 0, 1)
    if modality == 'sar':
        vv = obj.backscatter * tone
        return np.array([vv, 0.2 * vv])
    return np.array([0.95 if hot else float(np.clip(obj.temperature * tone, 0, 1))])


#: sub-samples per pixel side when rasterising outlines
SUPERSAMPLING = 4


def polygon_coverage(
    polygon: Points, origin: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Share of each pixel of a window covered by a polygon (even-odd rule).

    Each pixel is sampled on a regular
    :data:`SUPERSAMPLING` × :data:`SUPERSAMPLING` grid, so the coverage is exact
    to 1/16 of a pixel and unbiased: a polygon's rendered area and centroid match
    its geometry. (OpenCV's ``fillPoly`` includes boundary pixels and its
    anti-aliased mode shifts shapes by up to half a pixel.)

    Args:
        polygon: (K, 2) vertices in continuous pixel coordinates.
        origin: (x0, y0) pixel index of the window's top-left pixel.
        shape: (rows, columns) of the window.

    Returns:
        (rows, columns) coverage in [0, 1].
    """
    rows, cols = shape
    s = SUPERSAMPLING
    offsets = (np.arange(s) + 0.5) / s
    ys = (origin[1] + np.arange(rows)[:, None] + offsets[None, :]).ravel()
    xs = (origin[0] + np.arange(cols)[:, None] + offsets[None, :]).ravel()
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    # edges crossing each sub-row, and where (K edges × R sub-rows)
    crosses = (y1[:, None] > ys[None, :]) != (y2[:, None] > ys[None, :])
    with np.errstate(divide='ignore', invalid='ignore'):
        at = (
            x1[:, None] + (ys[None, :] - y1[:, None]) * ((x2 - x1) / (y2 - y1))[:, None]
        )
    at = np.where(crosses, at, -np.inf)
    # a sub-sample is inside when an odd number of crossings lie to its right
    right = (at[:, :, None] > xs[None, None, :]).sum(axis=0) % 2
    inside = right.reshape(rows, s, cols, s).astype(np.float32)
    return inside.mean(axis=(1, 3))


def _coverage(
    polygon: Points, frame: Frame
) -> tuple[tuple[slice, slice], np.ndarray[Any, Any]] | None:
    """Coverage (0–1) of a frame-space polygon in its bounding window."""
    x0 = max(math.floor(polygon[:, 0].min()), 0)
    y0 = max(math.floor(polygon[:, 1].min()), 0)
    x1 = min(math.ceil(polygon[:, 0].max()), frame.width)
    y1 = min(math.ceil(polygon[:, 1].max()), frame.height)
    if x1 <= x0 or y1 <= y0:
        return None
    alpha = polygon_coverage(polygon, (x0, y0), (y1 - y0, x1 - x0))
    return (slice(y0, y1), slice(x0, x1)), alpha


def _draw(
    image: Image,
    obj: PlacedObject,
    frame: Frame,
    modality: Modality,
    world: World,
    rng: np.random.Generator,
) -> None:
    to_frame = np.linalg.inv(frame.to_world)
    if modality == 'optical' and obj.label in (1, 2):
        shift = np.array(world.sun) * (0.35 * obj.width + 1.0)
        shadow = apply_homography(to_frame, obj.to_world(obj.parts[0].polygon) + shift)
        covered = _coverage(shadow, frame)
        if covered is not None:
            window, alpha = covered
            image[:, window[0], window[1]] *= 1 - 0.45 * alpha * obj.alpha
    for part in obj.parts:
        polygon = apply_homography(to_frame, obj.to_world(part.polygon))
        covered = _coverage(polygon, frame)
        if covered is None:
            continue
        window, alpha = covered
        alpha *= obj.alpha
        value = _object_value(obj, part.tone, part.hot, modality)
        region = image[:, window[0], window[1]]
        region *= 1 - alpha
        region += value[:, None, None] * alpha
    if modality == 'sar' and obj.label == 0:
        # strong point scatterers on the superstructure
        points = rng.uniform(-0.9, 0.9, size=(int(rng.integers(2, 6)), 2)) * [1, 0.6]
        for x, y in apply_homography(to_frame, obj.to_world(points)):
            col, row = int(x), int(y)
            if 0 <= row < frame.height and 0 <= col < frame.width:
                image[:, row, col] += obj.backscatter * 6


def _visible(obj: PlacedObject, frame: Frame) -> bool:
    corners = frame.from_world(obj.corners())
    return bool(
        corners[:, 0].max() >= 0
        and corners[:, 1].max() >= 0
        and corners[:, 0].min() <= frame.width
        and corners[:, 1].min() <= frame.height
    )


def render(
    world: World,
    frame: Frame,
    modality: Modality,
    rng: np.random.Generator,
    *,
    cloud_cover: float = 0.0,
) -> tuple[Image, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Render all bands of a modality in [0, 1] and the validity mask.

    Optical images have 4 bands (R, G, B, NIR), SAR images 2 (VV, VH, already
    speckled and log-scaled), thermal images 1.

    Args:
        world: the ground.
        frame: the image grid.
        modality: ``optical``, ``sar`` or ``thermal``.
        rng: random generator for sensor noise and speckle (consumed).
        cloud_cover: share of the image under clouds (optical only).

    Returns:
        (C, h, w) float32 image and (h, w) validity mask.
    """
    image: np.ndarray[Any, Any]
    image, valid = _background(world, frame, modality)
    for obj in (*world.distractors, *world.objects):
        if _visible(obj, frame):
            _draw(image, obj, frame, modality, world, rng)
    shape = (frame.height, frame.width)
    if modality == 'optical':
        image = cv2.GaussianBlur(image.transpose(1, 2, 0), (0, 0), 0.6)
        image = np.atleast_3d(image).transpose(2, 0, 1) * world.illumination
        image += rng.normal(0, 0.008, size=image.shape).astype(np.float32)
        if cloud_cover > 0:
            clouds = fractal_noise(rng, shape, max(shape) / 3, octaves=5)
            level = float(np.quantile(clouds[::4, ::4], 1 - cloud_cover))
            alpha = np.clip((clouds - level) / 0.08, 0, 1)
            image = image * (1 - alpha) + 0.92 * alpha
    elif modality == 'sar':
        looks = 4.0
        image *= np.asarray(
            rng.gamma(looks, 1 / looks, size=image.shape), dtype=np.float32
        )
        image = (10 * np.log10(np.maximum(image, 1e-4)) + 28.0) / 38.0
    else:
        image = cv2.GaussianBlur(image[0], (0, 0), 1.2)[None]
        image += rng.normal(0, 0.01, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32), valid


def select_bands(image: Image, modality: Modality, bands: int) -> Image:
    """Keep or combine rendered bands to the requested band count.

    Args:
        image: output of :func:`render`.
        modality: its modality.
        bands: wanted number of bands (see :data:`BAND_NAMES`).

    Returns:
        (bands, h, w) image.

    Raises:
        InputError: for a band count the modality does not offer.
    """
    if bands not in BAND_NAMES[modality]:
        raise InputError(
            'bands',
            f'{modality} images have {sorted(BAND_NAMES[modality])} bands, got {bands}',
        )
    if modality == 'optical' and bands == 1:
        return image[:3].mean(axis=0, keepdims=True)
    return image[:bands]


def quantize(
    image: Image,
    valid: np.ndarray[Any, np.dtype[np.bool_]],
    dtype: str,
    modality: Modality,
) -> np.ndarray[Any, Any]:
    """Scale [0, 1] bands to digital numbers; 0 is reserved for nodata.

    Args:
        image: (C, h, w) values in [0, 1].
        valid: (h, w) validity mask.
        dtype: ``uint8`` or ``uint16``.
        modality: selects the uint16 range (:data:`UINT16_MAX`).

    Returns:
        Array of the given dtype, 0 outside ``valid``.
    """
    if dtype not in ('uint8', 'uint16'):
        raise InputError('dtype', f'must be uint8 or uint16, got {dtype!r}')
    top = 255 if dtype == 'uint8' else UINT16_MAX[modality]
    digital = np.clip(np.rint(image * (top - 1)) + 1, 1, top).astype(dtype)
    digital[:, ~valid] = 0
    return np.asarray(digital)
