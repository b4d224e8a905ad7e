"""Prepare a local folder of real oriented-box detection data.

Reads public repositories that hold the files in their tree (git clones, or git
directories as the search tool's ``fetch`` leaves them, ``MIRRORS/owner+name/repo``)
and writes::

    OUT/hit_uav/rotate_xml/...   HIT-UAV as published (HITUAV(root=OUT/hit_uav/rotate_xml))
    OUT/transfer/<set>/images/<id>.<ext>, labelTxt/<id>.txt
                                 real evaluation-only sets in DOTA's label format:
                                 dota8 (Ultralytics' 8 DOTA-v1 patches, YOLO-OBB
                                 labels converted), dota_devkit (the DOTA devkit's
                                 example images that the snapshot holds), hrsid_mini
                                 (36 HRSID SAR tiles; boxes = minimum-area
                                 rectangles of the ship-mask components, class ship)
    OUT/sources.json             each source, its commit, licence and file count
                                 (HIT-UAV: objects per class, DontCare and difficult)

HIT-UAV keeps its official train/val/test split. The transfer sets are never
trained on. Nothing here is committed; see docs/datasets/real_detection.md for
the sources and their licences.

Usage: python benchmarks/prepare_real_detection.py --mirrors /work/.mirror --out data/real_detection
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from mirrors import Repository, find_repository, write
from PIL import Image

HIT_UAV = 'suojiashun/HIT-UAV-Infrared-Thermal-Dataset'
DOTA8 = 'bcanozter/YOLO-DOTA8'
DOTA_DEVKIT = 'CAPTAIN-WHU/DOTA_devkit'
HRSID_MINI = (
    'atlan-antillia/TensorFlow-FlexUNet-Image-Segmentation-HRSID-Satellite-Imagery-Ship'
)
SOURCES: dict[str, dict[str, str]] = {
    HIT_UAV: {
        'what': '2,898 thermal UAV images, 640x512, oriented boxes of Person, Car, '
        'Bicycle, OtherVehicle (+ DontCare); official train/val/test split',
        'licence': 'CC BY 4.0 (Suo et al., Scientific Data 2023)',
    },
    DOTA8: {
        'what': 'Ultralytics DOTA8: 8 DOTA-v1 1024^2 patches with YOLO-OBB labels',
        'licence': 'AGPL-3.0 (the Ultralytics packaging); DOTA images: academic '
        'use only (Xia et al., CVPR 2018)',
    },
    DOTA_DEVKIT: {
        'what': 'the DOTA devkit example images and labelTxt (those under 4 MiB)',
        'licence': 'devkit code: none stated; DOTA images: academic use only',
    },
    HRSID_MINI: {
        'what': '36 HRSID SAR tiles, 800^2, with ship masks (mini_test)',
        'licence': 'Apache-2.0 (repository); HRSID: research use, cite Wei et '
        'al., IEEE Access 2020',
    },
}
#: DOTA8's class indexes (its dota8.yaml): the 15 DOTA-v1.0 classes in order
DOTA8_CLASSES = (
    'plane',
    'ship',
    'storage-tank',
    'baseball-diamond',
    'tennis-court',
    'basketball-court',
    'ground-track-field',
    'harbor',
    'bridge',
    'large-vehicle',
    'small-vehicle',
    'helicopter',
    'roundabout',
    'soccer-ball-field',
    'swimming-pool',
)
#: mask components smaller than this (pixels) are speckle, not ships
MIN_SHIP_PIXELS = 12


def hit_uav_objects(folder: Path) -> dict[str, int]:
    """Objects per class of the HIT-UAV annotations, and the difficult ones."""
    counts: Counter[str] = Counter()
    for path in sorted((folder / 'Annotations').glob('*.xml')):
        for obj in ET.parse(path).getroot().iter('object'):
            counts[obj.findtext('name') or '?'] += 1
            counts['difficult'] += obj.findtext('difficult') == '1'
    return dict(sorted(counts.items()))


def dota_line(corners: np.ndarray, name: str) -> str:
    """One DOTA label line: four corners, the class, difficult 0."""
    numbers = ' '.join(f'{v:.1f}' for v in corners.reshape(-1))
    return f'{numbers} {name} 0\n'


def prepare_dota8(repo: Repository, out: Path) -> int:
    """DOTA8's images with their YOLO-OBB labels as DOTA label files."""
    folder = out / 'transfer' / 'dota8'
    count = 0
    for name in repo.list('datasets/dota8/images'):
        data = repo.read(name)
        width, height = Image.open(io.BytesIO(data)).size
        stem = Path(name).stem
        split = Path(name).parent.name
        text = repo.read(f'datasets/dota8/labels/{split}/{stem}.txt').decode()
        lines = []
        for row in text.splitlines():
            if not row.strip():
                continue
            values = row.split()
            corners = np.array(values[1:9], float).reshape(4, 2) * (width, height)
            lines.append(dota_line(corners, DOTA8_CLASSES[int(values[0])]))
        write(folder / 'images' / Path(name).name, data)
        write(folder / 'labelTxt' / f'{stem}.txt', ''.join(lines).encode())
        count += 1
    return count


def prepare_dota_devkit(repo: Repository, out: Path) -> int:
    """The devkit's example images that the snapshot holds, with their labels."""
    folder = out / 'transfer' / 'dota_devkit'
    count = 0
    for name in repo.list('example/images'):
        try:
            data = repo.read(name)
        except subprocess.CalledProcessError:  # files of 4 MiB+ are not in snapshots
            print(f'  skipped {name}: not in the snapshot')
            continue
        stem = Path(name).stem
        labels = repo.read(f'example/labelTxt/{stem}.txt')
        write(folder / 'images' / Path(name).name, data)
        write(folder / 'labelTxt' / f'{stem}.txt', labels)
        count += 1
    return count


def mask_boxes(mask: np.ndarray) -> list[np.ndarray]:
    """Minimum-area rectangles (4×2 corners) of a binary mask's components."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    boxes = []
    for index in range(1, count):
        if stats[index, cv2.CC_STAT_AREA] < MIN_SHIP_PIXELS:
            continue
        ys, xs = np.nonzero(labels == index)
        # the corners of every pixel: the rectangle covers whole pixels
        points = np.concatenate(
            [np.stack((xs + dx, ys + dy), 1) for dx in (0, 1) for dy in (0, 1)]
        ).astype(np.float32)
        boxes.append(cv2.boxPoints(cv2.minAreaRect(points)))
    return boxes


def prepare_hrsid_mini(repo: Repository, out: Path) -> int:
    """HRSID mini_test tiles with boxes from their ship masks."""
    base = 'projects/TensorFlowFlexUNet/HRSID/mini_test'
    folder = out / 'transfer' / 'hrsid_mini'
    count = 0
    for name in repo.list(f'{base}/images'):
        stem = Path(name).stem
        mask = np.array(
            Image.open(io.BytesIO(repo.read(f'{base}/masks/{stem}.png'))).convert('L')
        )
        lines = [dota_line(box, 'ship') for box in mask_boxes(mask > 127)]
        write(folder / 'images' / Path(name).name, repo.read(name))
        write(folder / 'labelTxt' / f'{stem}.txt', ''.join(lines).encode())
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--mirrors', type=Path, required=True)
    parser.add_argument('--out', type=Path, default=Path('data/real_detection'))
    args = parser.parse_args()
    record = {}
    repo = find_repository(args.mirrors, HIT_UAV)
    print(f'{HIT_UAV} @ {repo.commit[:12]}')
    count = repo.extract('rotate_xml', args.out / 'hit_uav' / 'rotate_xml')
    record[HIT_UAV] = {
        **SOURCES[HIT_UAV],
        'commit': repo.commit,
        'files': count,
        'objects': hit_uav_objects(args.out / 'hit_uav' / 'rotate_xml'),
    }
    print(f'{"hit_uav/rotate_xml":>32} {count} files')
    for name, step in (
        (DOTA8, prepare_dota8),
        (DOTA_DEVKIT, prepare_dota_devkit),
        (HRSID_MINI, prepare_hrsid_mini),
    ):
        repo = find_repository(args.mirrors, name)
        print(f'{name} @ {repo.commit[:12]}')
        count = step(repo, args.out)
        record[name] = {**SOURCES[name], 'commit': repo.commit, 'images': count}
        print(f'{name.split("/")[1][:32]:>32} {count} images')
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'sources.json').write_text(
        json.dumps({'sources': record}, indent=1) + '\n'
    )
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
