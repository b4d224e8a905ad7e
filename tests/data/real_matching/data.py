#!/usr/bin/env python3
"""Write tiny git repositories in the layouts of the real matching sources.

Each repository holds a few small images in exactly the layout, file formats
and transform conventions of its public original (see
docs/datasets/real_matching.md), so that benchmarks/prepare_real_matching.py
can be tested without the data: ``make_mirrors(folder)`` writes
``folder/owner+name/`` clones and returns the true reference → query
homography of every pair (continuous pixel coordinates).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import scipy.io

SIZE = 96
#: reference → query homographies (continuous pixel coordinates)
NIR_VIS = np.array([[1.02, 0.01, 3.0], [-0.01, 0.99, -2.0], [0.0, 0.0, 1.0]])
STARAINJ = np.array([[0.97, 0.03, 5.0], [-0.02, 1.01, 4.0], [0.0, 0.0, 1.0]])


def texture(seed: int, size: int = SIZE) -> np.ndarray:
    """(size, size, 3) uint8 smooth random colour texture."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size // 8, size // 8, 3)).astype(np.float32)
    big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0, 255).astype(np.uint8)


def _view(image: np.ndarray, reference_to_query: np.ndarray) -> np.ndarray:
    """The query that ``reference_to_query`` implies, in OpenCV's convention."""
    shift = np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    to_reference = np.linalg.inv(shift) @ np.linalg.inv(reference_to_query) @ shift
    return cv2.warpPerspective(
        image,
        to_reference,
        image.shape[1::-1],
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
    )


def _commit(folder: Path) -> None:
    for command in (
        ['git', 'init', '-q'],
        ['git', 'add', '-A'],
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'data'],
    ):
        subprocess.run(command, cwd=folder, check=True, capture_output=True)


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def make_mirrors(folder: Path) -> dict[str, np.ndarray]:
    """Write the five repositories; returns each pair set's true homography."""
    repo = folder / 'VolkovVl+Optical-SAR-dataset'
    meta = []
    for index, (name, tile) in enumerate(
        [('003.png', 'T11SLT'), ('004.png', 'T11SMT'), ('014.png', 'T14RNT')]
    ):
        optical = texture(index)
        _png(repo / 'dataset/opt' / name, optical)
        _png(repo / 'dataset/sar' / name, 255 - optical.mean(axis=2).astype(np.uint8))
        meta.append(
            {
                'fragment_filename': name,
                'opt_tile_name': f'S2A_MSIL1C_20201104T183541_N0209_R027_{tile}_20201104T203551.SAFE',
            }
        )
    (repo / 'dataset/metadata.json').write_text(json.dumps(meta))
    (repo / 'dataset/opt/README.md').write_text('not an image')
    _commit(repo)

    repo = folder / 'JasonLi-UCAS+NIR-VIS-RS'
    shift = np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    opencv = np.linalg.inv(shift) @ NIR_VIS @ shift  # GT_n.txt: OpenCV's centres
    for index, category in enumerate(['City', 'Desert', 'Coast']):
        visible = texture(10 + index)
        _png(repo / 'Dataset' / category / 'VIS_1.png', visible)
        _png(repo / 'Dataset' / category / 'NIR_TF_1.png', _view(visible, NIR_VIS))
        np.savetxt(repo / 'Dataset' / category / 'GT_1.txt', opencv)
    _commit(repo)

    repo = folder / 'StaRainJ+Multi-modality-image-matching-database-metrics-methods'
    base = repo / 'Multimodal_Image_Matching_Datasets/RemoteSensing/SAR_Optical'
    fixed = texture(20)
    _png(base / 'SO1a.png', fixed)
    _png(base / 'SO1b.png', _view(fixed, STARAINJ))
    # MATLAB: [x y 1] @ T maps moving onto fixed, pixel centres on 1-based integers
    matlab = np.array([[1.0, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    moving_to_fixed = np.linalg.inv(matlab) @ np.linalg.inv(STARAINJ) @ matlab
    scipy.io.savemat(base / 'SO1.mat', {'T': moving_to_fixed.T})
    _commit(repo)

    repo = folder / 'opengeos+data'
    for series in ('naip', 'landsat'):
        for year in (2010, 2012, 2014):
            _png(repo / series / f'{series}_{year}.tif', texture(year))
    _commit(repo)

    repo = folder / 'palewithout+RSSCN7'
    for index in range(12):
        _png(repo / 'aGrass' / f'a{index:03d}.jpg', texture(100 + index))
    _commit(repo)
    return {'nir-vis': NIR_VIS, 'multimodal': STARAINJ}


if __name__ == '__main__':
    import sys

    make_mirrors(Path(sys.argv[1]))
