#!/usr/bin/env python3
"""Write a tiny fake HIT-UAV ``rotate_xml`` folder in the real layout next to this script.

Five 64×48 one-band JPEG images with roLabelImg XML annotations (``robndbox``
cx, cy, w, h, angle in radians), one of each class, a ``DontCare`` region, a
difficult object and an image without objects, and the four
``ImageSets/Main`` lists. Deterministic: running it again gives the same bytes.
"""

import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 64, 48

# image id -> objects (name, difficult, (cx, cy, w, h, angle))
IMAGES: dict[str, list[tuple[str, int, tuple[float, float, float, float, float]]]] = {
    '0_60_90_0_00001': [
        ('Car', 0, (20.5, 15.25, 16.0, 8.0, 0.35)),
        ('Person', 0, (44.0, 33.5, 4.0, 4.0, 0.0)),
    ],
    '1_100_30_0_00002': [
        ('Bicycle', 1, (32.0, 24.0, 10.0, 4.0, 2.2)),
        ('DontCare', 0, (12.0, 36.0, 14.0, 10.0, 0.0)),
    ],
    '0_80_50_1_00003': [],
    '1_130_70_0_00004': [('OtherVehicle', 0, (30.25, 22.75, 24.0, 10.0, 1.2))],
    '0_120_90_0_00005': [
        ('Car', 0, (18.0, 30.0, 14.0, 7.0, 3.0)),
        ('Person', 0, (50.0, 10.0, 3.0, 5.0, 0.5)),
    ],
}
SPLITS = {
    'train': ['0_60_90_0_00001', '1_100_30_0_00002'],
    'val': ['0_80_50_1_00003'],
    'test': ['1_130_70_0_00004', '0_120_90_0_00005'],
}
SPLITS['trainval'] = SPLITS['train'] + SPLITS['val']


def corners(box: tuple[float, float, float, float, float]) -> list[tuple[float, float]]:
    """roLabelImg's corners: c ± (w/2)(cos a, sin a) ± (h/2)(-sin a, cos a)."""
    cx, cy, w, h, a = box
    u = (math.cos(a) * w / 2, math.sin(a) * w / 2)
    v = (-math.sin(a) * h / 2, math.cos(a) * h / 2)
    return [
        (cx + su * u[0] + sv * v[0], cy + su * u[1] + sv * v[1])
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]


def annotation(image_id: str, objects: list) -> str:
    """The roLabelImg XML of one image."""
    parts = [
        '<annotation verified="no">',
        f'  <filename>{image_id}</filename>',
        f'  <size><width>{WIDTH}</width><height>{HEIGHT}</height><depth>1</depth></size>',
    ]
    for name, difficult, (cx, cy, w, h, a) in objects:
        parts += [
            '  <object>',
            '    <type>robndbox</type>',
            f'    <name>{name}</name>',
            f'    <difficult>{difficult}</difficult>',
            f'    <robndbox><cx>{cx}</cx><cy>{cy}</cy><w>{w}</w><h>{h}</h>',
            f'      <angle>{a}</angle></robndbox>',
            '  </object>',
        ]
    return '\n'.join([*parts, '</annotation>', ''])


def main() -> None:
    root = HERE / 'rotate_xml'
    shutil.rmtree(root, ignore_errors=True)
    for folder in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id, objects in IMAGES.items():
        pixels = rng.integers(40, 90, (HEIGHT, WIDTH), dtype=np.uint8)
        image = Image.fromarray(pixels, mode='L')
        draw = ImageDraw.Draw(image)
        for _, _, box in objects:
            draw.polygon(corners(box), fill=220)  # warm objects
        image.save(root / 'JPEGImages' / f'{image_id}.jpg', quality=95)
        (root / 'Annotations' / f'{image_id}.xml').write_text(
            annotation(image_id, objects)
        )
    for split, ids in SPLITS.items():
        (root / 'ImageSets' / 'Main' / f'{split}.txt').write_text(
            ''.join(f'{i}\n' for i in ids)
        )


if __name__ == '__main__':
    main()
