#!/usr/bin/env python3
"""Write a tiny fake HRSC2016 in the real layout next to this script.

Six 64×48 RGB .bmp images with 0–3 ships each (one difficult, one image without
ships), XML annotations with HRSC2016's element names, and the four ImageSets
lists. Deterministic: running it again gives the same bytes.
"""

import math
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 64, 48

# image id -> objects (Class_ID, difficult, (mbox_cx, mbox_cy, mbox_w, mbox_h, mbox_ang))
IMAGES: dict[int, list[tuple[int, int, tuple[float, float, float, float, float]]]] = {
    100000001: [
        (100000005, 0, (20.5, 15.25, 24.0, 7.0, 0.35)),
        (100000018, 0, (44.0, 33.5, 18.0, 6.5, -1.1)),
    ],
    100000002: [(100000001, 1, (32.0, 24.0, 8.0, 26.0, 0.2))],
    100000003: [],
    100000004: [
        (100000007, 0, (14.0, 12.0, 16.0, 5.0, 1.2)),
        (100000027, 0, (40.0, 14.0, 14.0, 4.0, -0.4)),
        (100000016, 1, (34.0, 35.0, 22.0, 8.0, 0.05)),
    ],
    100000005: [(100000003, 0, (30.25, 22.75, 20.0, 6.0, -0.75))],
    100000006: [
        (100000033, 0, (18.0, 30.0, 26.0, 9.0, 1.5)),
        (100000004, 1, (46.0, 18.0, 15.0, 5.5, -0.3)),
    ],
}
SPLITS = {
    'train': [100000001, 100000002],
    'val': [100000003, 100000004],
    'test': [100000005, 100000006],
}
SPLITS['trainval'] = SPLITS['train'] + SPLITS['val']


def corners(
    mbox: tuple[float, float, float, float, float],
) -> list[tuple[float, float]]:
    """MMRotate's corners: c ± (w/2)(cos a, sin a) ± (h/2)(-sin a, cos a)."""
    cx, cy, w, h, a = mbox
    ux, uy = 0.5 * w * math.cos(a), 0.5 * w * math.sin(a)
    vx, vy = -0.5 * h * math.sin(a), 0.5 * h * math.cos(a)
    return [
        (cx - ux - vx, cy - uy - vy),
        (cx + ux - vx, cy + uy - vy),
        (cx + ux + vx, cy + uy + vy),
        (cx - ux + vx, cy - uy + vy),
    ]


def add(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def annotation(image_id: int, objects: list) -> ET.ElementTree:
    root = ET.Element('HRSC_Image')
    add(root, 'Img_ID', str(image_id))
    add(root, 'Img_FileName', str(image_id))
    add(root, 'Img_FileFmt', 'bmp')
    add(root, 'Img_Location', '-117.1600,32.6900')
    add(root, 'Img_SizeWidth', str(WIDTH))
    add(root, 'Img_SizeHeight', str(HEIGHT))
    add(root, 'Img_SizeDepth', '3')
    add(root, 'Img_Resolution', '1.07')
    add(root, 'Annotated', '1' if objects else '0')
    container = ET.SubElement(root, 'HRSC_Objects')
    for number, (class_id, difficult, mbox) in enumerate(objects):
        obj = ET.SubElement(container, 'HRSC_Object')
        xs, ys = zip(*corners(mbox), strict=True)
        cx, cy, w, _, a = mbox
        add(obj, 'Object_ID', str(image_id * 10 + number))
        add(obj, 'Class_ID', str(class_id))
        add(obj, 'Object_NO', str(number + 1))
        add(obj, 'truncated', '0')
        add(obj, 'difficult', str(difficult))
        add(obj, 'box_xmin', str(math.floor(min(xs))))
        add(obj, 'box_ymin', str(math.floor(min(ys))))
        add(obj, 'box_xmax', str(math.ceil(max(xs))))
        add(obj, 'box_ymax', str(math.ceil(max(ys))))
        for tag, value in zip(
            ('mbox_cx', 'mbox_cy', 'mbox_w', 'mbox_h'), mbox[:4], strict=True
        ):
            add(obj, tag, f'{value:.4f}')
        add(obj, 'mbox_ang', f'{a:.6f}')
        add(obj, 'header_x', str(round(cx + 0.5 * w * math.cos(a))))
        add(obj, 'header_y', str(round(cy + 0.5 * w * math.sin(a))))
    ET.indent(root)
    return ET.ElementTree(root)


def image(objects: list, rng: np.random.Generator) -> Image.Image:
    sea = np.stack(
        [
            rng.normal(mean, 6.0, (HEIGHT, WIDTH)).clip(0, 255)
            for mean in (30.0, 55.0, 80.0)
        ],
        axis=-1,
    ).astype(np.uint8)
    picture = Image.fromarray(sea, mode='RGB')
    draw = ImageDraw.Draw(picture)
    for _, _, mbox in objects:
        draw.polygon(corners(mbox), fill=(200, 200, 190))
    return picture


def main() -> None:
    for folder in ('ImageSets', 'FullDataSet'):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    images = HERE / 'FullDataSet' / 'AllImages'
    annotations = HERE / 'FullDataSet' / 'Annotations'
    lists = HERE / 'ImageSets'
    for folder in (images, annotations, lists):
        folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id, objects in IMAGES.items():
        image(objects, rng).save(images / f'{image_id}.bmp', format='BMP')
        annotation(image_id, objects).write(
            annotations / f'{image_id}.xml', encoding='utf-8', xml_declaration=True
        )
    for split, ids in SPLITS.items():
        (lists / f'{split}.txt').write_text(''.join(f'{i}\n' for i in ids))


if __name__ == '__main__':
    main()
