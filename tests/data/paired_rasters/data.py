#!/usr/bin/env python3
"""Write a tiny PairedRasters dataset: two rasters related by a known homography.

The reference is a 192×160 GeoTIFF of smooth random texture; the query is the
same ground warped by ``HOMOGRAPHY`` (reference pixels → query pixels) into a
176×176 single-band GeoTIFF; ``checkpoints.csv`` holds 12 exact correspondences
and ``pairs.csv`` lists the pair twice (as test and as val).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import rasterio
from affine import Affine

HERE = Path(__file__).resolve().parent
HOMOGRAPHY = np.array(
    [[0.93, 0.26, 6.0], [-0.24, 0.95, 40.0], [1.2e-4, -0.8e-4, 1.0]], dtype=np.float64
)


def texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    field = np.zeros(shape, dtype=np.float32)
    for cell in (48, 16, 6):
        small = rng.standard_normal((shape[0] // cell + 3, shape[1] // cell + 3))
        big = cv2.resize(
            small.astype(np.float32),
            None,
            fx=cell,
            fy=cell,
            interpolation=cv2.INTER_CUBIC,
        )
        field += big[: shape[0], : shape[1]] * cell / 48
    field = (field - field.min()) / (field.max() - field.min())
    return (field * 250 + 3).astype(np.uint8)


def write(path: Path, array: np.ndarray) -> None:
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype='uint8',
        crs='EPSG:32633',
        transform=Affine(1.0, 0, 500_000, 0, -1.0, 4_600_000),
        nodata=0,
        compress='deflate',
    ) as dst:
        dst.write(array)


def main() -> None:
    rng = np.random.default_rng(7)
    reference = np.stack([texture(rng, (160, 192)) for _ in range(3)])
    write(HERE / 'reference.tif', reference)
    # query pixel q shows reference pixel H^-1 q (continuous coordinates; OpenCV
    # indexes pixel centres, hence the half-pixel shifts)
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1.0]])
    to_reference = unshift @ np.linalg.inv(HOMOGRAPHY) @ shift
    grey = reference.mean(axis=0).astype(np.float32)
    query = cv2.warpPerspective(
        grey,
        to_reference,
        (176, 176),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderValue=0,
    )
    write(HERE / 'query.tif', np.round(query)[None].astype(np.uint8))
    points = rng.uniform([20, 20], [170, 140], size=(12, 2))
    homogeneous = np.hstack((points, np.ones((12, 1)))) @ HOMOGRAPHY.T
    mapped = homogeneous[:, :2] / homogeneous[:, 2:]
    with (HERE / 'checkpoints.csv').open('w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['ref_col', 'ref_row', 'query_col', 'query_row'])
        for (x, y), (u, v) in zip(points, mapped, strict=True):
            writer.writerow([f'{x:.6f}', f'{y:.6f}', f'{u:.6f}', f'{v:.6f}'])
    with (HERE / 'pairs.csv').open('w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['reference', 'query', 'checkpoints', 'split'])
        writer.writerow(['reference.tif', 'query.tif', 'checkpoints.csv', 'test'])
        writer.writerow(['reference.tif', 'query.tif', 'checkpoints.csv', 'val'])


if __name__ == '__main__':
    main()
