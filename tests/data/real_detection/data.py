#!/usr/bin/env python3
"""Write tiny git repositories in the layouts of the real detection sources.

``make_mirrors(folder)`` writes ``folder/owner+name/`` clones of HIT-UAV (the
fake ``rotate_xml`` of ``tests/data/hit_uav``), DOTA8 (one 64² patch with a
YOLO-OBB label), the DOTA devkit (one example image and its ``labelTxt``) and
HRSID mini (one SAR tile with a two-ship mask), so that
benchmarks/prepare_real_detection.py can be tested without the data (see
docs/datasets/real_detection.md for the real sources).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

HIT_UAV = Path(__file__).resolve().parents[1] / 'hit_uav' / 'rotate_xml'
#: the DOTA8 label: class 9 (large-vehicle), corners normalised to the 64² patch
DOTA8_LABEL = '9 0.25 0.25 0.75 0.25 0.75 0.5 0.25 0.5\n'
#: the HRSID mask's two ships: (x0, y0, x1, y1), pixel edges
SHIPS = ((10, 12, 30, 18), (40, 40, 46, 60))


def _commit(folder: Path) -> None:
    for command in (
        ['git', 'init', '-q'],
        ['git', 'add', '-A'],
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'data'],
    ):
        subprocess.run(command, cwd=folder, check=True, capture_output=True)


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode('.jpg', image)
    assert ok
    return data.tobytes()


def make_mirrors(folder: Path) -> None:
    """Write the four repositories under ``folder``."""
    rng = np.random.default_rng(0)
    hit = folder / 'suojiashun+HIT-UAV-Infrared-Thermal-Dataset'
    shutil.copytree(HIT_UAV, hit / 'rotate_xml')
    _write(hit / 'README.md', 'HIT-UAV\n')
    _commit(hit)

    dota8 = folder / 'bcanozter+YOLO-DOTA8'
    patch = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    _write(dota8 / 'datasets/dota8/images/train/P0001__1024__0___0.jpg', _jpeg(patch))
    _write(dota8 / 'datasets/dota8/labels/train/P0001__1024__0___0.txt', DOTA8_LABEL)
    _commit(dota8)

    devkit = folder / 'CAPTAIN-WHU+DOTA_devkit'
    ok, png = cv2.imencode('.png', rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    assert ok
    _write(devkit / 'example/images/P0706.png', png.tobytes())
    _write(
        devkit / 'example/labelTxt/P0706.txt',
        'imagesource:GoogleEarth\ngsd:0.25\n1 1 20 1 20 9 1 9 ship 0\n',
    )
    _commit(devkit)

    hrsid = folder / (
        'atlan-antillia+TensorFlow-FlexUNet-Image-Segmentation-HRSID-Satellite-Imagery-Ship'
    )
    base = hrsid / 'projects/TensorFlowFlexUNet/HRSID/mini_test'
    mask = np.zeros((64, 64), np.uint8)
    for x0, y0, x1, y1 in SHIPS:
        mask[y0:y1, x0:x1] = 255
    mask[2, 60] = 255  # one speckle pixel: not a ship
    ok, mask_png = cv2.imencode('.png', mask)
    assert ok
    _write(base / 'masks/P0001_0_800_0_800.png', mask_png.tobytes())
    _write(
        base / 'images/P0001_0_800_0_800.jpg',
        _jpeg(rng.integers(0, 80, (64, 64), dtype=np.uint8)),
    )
    _commit(hrsid)


if __name__ == '__main__':
    make_mirrors(Path(__file__).resolve().parent / 'mirrors')
