#!/usr/bin/env python3
"""Write tiny fake DOTA roots in TorchGeo's layout next to this script.

``tests/data/dota`` is a root of four small images (train P0000, P0001; val
P0002, P0003, the last without objects) with version 1.0 and 1.5 annotations:
``samples.csv`` (image_path, annotation_path, split, version),
``{split}/images/<id>.png`` and ``{split}/annotations/version{v}/<id>.txt``.
Label files hold ``x1 y1 ... x4 y4 class difficult`` lines, some after the
optional ``imagesource:``/``gsd:`` header; there are difficult objects, a
quadrilateral that is not a rectangle and, in version 1.5 only, a
container-crane.

``tests/data/dota/large`` is a second root with one 3000×3000 train image,
P1000: flat ground, a black no-data square (x, y >= 2200) and eight objects,
some straddling the borders of the standard 1024-px patches with a 200-px gap
(patch offsets 0, 824, 1648, 1976), so that splitting has to decide by IoF.

Deterministic: running it again gives the same bytes.
"""

import csv
import math
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
HEADER = 'imagesource:GoogleEarth\ngsd:0.146343590398\n'
GROUND = (96, 112, 88)
PAINT = (230, 228, 215)

Polygon = list[tuple[float, float]]
# (polygon, class, difficult)
Object = tuple[Polygon, str, int]


def rotated(cx: float, cy: float, w: float, h: float, angle: float) -> Polygon:
    """Corners of a box turned by ``angle`` degrees counter-clockwise on screen."""
    a = math.radians(angle)
    ux, uy = 0.5 * w * math.cos(a), -0.5 * w * math.sin(a)
    vx, vy = 0.5 * h * math.sin(a), 0.5 * h * math.cos(a)
    return [
        (round(cx - ux - vx, 1), round(cy - uy - vy, 1)),
        (round(cx + ux - vx, 1), round(cy + uy - vy, 1)),
        (round(cx + ux + vx, 1), round(cy + uy + vy, 1)),
        (round(cx - ux + vx, 1), round(cy - uy + vy, 1)),
    ]


def rectangle(x1: float, y1: float, x2: float, y2: float) -> Polygon:
    """Axis-aligned rectangle, corners clockwise on screen from the top left."""
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


# image id -> (split, width, height, header, objects of version 1.0)
SMALL: dict[str, tuple[str, int, int, bool, list[Object]]] = {
    'P0000': (
        'train',
        64,
        48,
        True,
        [
            (rotated(20, 16, 24, 10, 30), 'plane', 0),
            (rectangle(40, 30, 52, 38), 'small-vehicle', 1),
            ([(10, 36), (30, 34), (34, 44), (6, 46)], 'harbor', 0),
        ],
    ),
    'P0001': (
        'train',
        56,
        64,
        False,
        [
            (rotated(28, 20, 30, 8, -60), 'ship', 0),
            (rotated(14, 50, 12, 12, 15), 'storage-tank', 0),
        ],
    ),
    'P0002': (
        'val',
        64,
        64,
        True,
        [
            (rotated(32, 32, 28, 14, 80), 'tennis-court', 0),
            (rectangle(4, 4, 60, 12), 'bridge', 1),
            (rotated(50, 52, 10, 8, 0), 'swimming-pool', 0),
        ],
    ),
    'P0003': ('val', 48, 40, True, []),
}
# objects that only version 1.5 annotates
V15_EXTRA: dict[str, list[Object]] = {
    'P0001': [(rotated(44, 48, 16, 6, 45), 'container-crane', 0)]
}

LARGE_SIZE = 3000
NO_DATA_FROM = 2200
LARGE: list[Object] = [
    # only in the patch at (0, 0)
    (rotated(400, 400, 100, 40, 30), 'plane', 0),
    # crosses x = 1024: 80 % inside patch (0, 0), whole in (824, 0)
    (rectangle(944, 300, 1044, 340), 'small-vehicle', 0),
    # crosses x = 1024: 40 % inside patch (0, 0), whole in (824, 0)
    (rectangle(984, 500, 1084, 540), 'large-vehicle', 0),
    # crosses y = 1024 at 45°: half inside the patches of row 0
    (rotated(2300, 1024, 90, 30, 45), 'ship', 0),
    (rotated(1500, 2000, 60, 60, 10), 'storage-tank', 1),
    ([(560, 1470), (650, 1480), (640, 1530), (570, 1520)], 'harbor', 0),
    # near the corner shared by patches (824, 824), (824, 1648), (1648, 824),
    # (1648, 1648): 64 %, 80 %, 80 % and 100 % inside
    (rectangle(1800, 1800, 1860, 1860), 'plane', 0),
    (rotated(2900, 400, 80, 50, -20), 'tennis-court', 0),
]


def label_text(objects: list[Object], header: bool) -> str:
    lines = [
        ' '.join(f'{v:.1f}' for point in polygon for v in point) + f' {name} {hard}\n'
        for polygon, name, hard in objects
    ]
    return (HEADER if header else '') + ''.join(lines)


def draw(
    width: int, height: int, objects: list[Object], no_data_from: int | None
) -> Image.Image:
    """Flat ground, objects painted, black no-data from (no_data_from, no_data_from)."""
    picture = Image.new('RGB', (width, height), GROUND)
    pen = ImageDraw.Draw(picture)
    if no_data_from is not None:
        pen.rectangle((no_data_from, no_data_from, width, height), fill=(0, 0, 0))
    for polygon, _, _ in objects:
        pen.polygon(polygon, fill=PAINT)
    return picture


def write_root(
    root: Path,
    images: dict[str, tuple[str, int, int, bool, dict[str, list[Object]]]],
    no_data_from: int | None = None,
) -> None:
    """Write images, label files per version and samples.csv under ``root``."""
    rows = []
    for image_id, (split, width, height, header, versions) in images.items():
        image_path = f'{split}/images/{image_id}.png'
        (root / split / 'images').mkdir(parents=True, exist_ok=True)
        draw(width, height, versions['1.0'], no_data_from).save(
            root / image_path, format='PNG', optimize=True
        )
        for version, objects in versions.items():
            annotation_path = f'{split}/annotations/version{version}/{image_id}.txt'
            (root / annotation_path).parent.mkdir(parents=True, exist_ok=True)
            (root / annotation_path).write_text(label_text(objects, header))
            rows.append((image_path, annotation_path, split, version))
    with open(root / 'samples.csv', 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(('image_path', 'annotation_path', 'split', 'version'))
        writer.writerows(sorted(rows, key=lambda row: (row[3], row[0])))


def main() -> None:
    for folder in ('train', 'val', 'large'):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    (HERE / 'samples.csv').unlink(missing_ok=True)
    small = {
        image_id: (
            split,
            width,
            height,
            header,
            {'1.0': objects, '1.5': objects + V15_EXTRA.get(image_id, [])},
        )
        for image_id, (split, width, height, header, objects) in SMALL.items()
    }
    write_root(HERE, small)
    large = {'P1000': ('train', LARGE_SIZE, LARGE_SIZE, True, {'1.0': LARGE})}
    write_root(HERE / 'large', large, no_data_from=NO_DATA_FROM)


if __name__ == '__main__':
    main()
