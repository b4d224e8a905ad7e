"""Cost of the offline DOTA split: time and disk per patch, and why it is offline.

Makes a textured 3000×3000 stand-in for an aerial image (smoothed noise plus
sensor-like noise, so PNG compression behaves as on real imagery) with a few
labelled objects, in TorchGeo's DOTA layout, then times ``split_dota`` at rate
1.0 and at rates 0.5/1.0/1.5. The peer, in the same run: decoding the whole
source PNG (what on-the-fly splitting would pay for every patch) against decoding
one 1024² patch file.

Usage: python benchmarks/dota_split.py [--out benchmarks/results/dota_split.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from torchgeo_cstf import __version__
from torchgeo_cstf.datasets import split_dota

SIZE = 3000


def make_root(root: Path) -> Path:
    """A one-image DOTA-v1.0 train root with a textured 3000² PNG."""
    rng = np.random.default_rng(0)
    field = cv2.resize(
        rng.random((SIZE // 8, SIZE // 8, 3)).astype(np.float32), (SIZE, SIZE)
    )
    image = np.clip(field * 200 + rng.normal(0, 6, (SIZE, SIZE, 3)), 0, 255).astype(
        np.uint8
    )
    (root / 'train' / 'images').mkdir(parents=True)
    labels = root / 'train' / 'annotations' / 'version1.0'
    labels.mkdir(parents=True)
    source = root / 'train' / 'images' / 'P0000.png'
    Image.fromarray(image).save(source)
    lines = ['imagesource:GoogleEarth\n', 'gsd:0.5\n']
    for x, y in rng.uniform(100, SIZE - 200, size=(20, 2)):
        lines.append(f'{x} {y} {x + 80} {y} {x + 80} {y + 30} {x} {y + 30} ship 0\n')
    (labels / 'P0000.txt').write_text(''.join(lines))
    (root / 'samples.csv').write_text(
        'image_path,annotation_path,split,version\n'
        'train/images/P0000.png,train/annotations/version1.0/P0000.txt,train,1.0\n'
    )
    return source


def decode_seconds(path: Path, repeat: int = 3) -> float:
    """Best time to decode a PNG fully."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with Image.open(path) as image:
            image.load()
        times.append(time.perf_counter() - start)
    return min(times)


def folder_megabytes(folder: Path) -> float:
    """Size of the PNG patches under a folder."""
    return sum(p.stat().st_size for p in folder.rglob('*.png')) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/dota_split.json')
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / 'dota'
        source = make_root(root)
        source_mb = source.stat().st_size / 1e6
        for rates in ((1.0,), (0.5, 1.0, 1.5)):
            out = Path(tmp) / 'split'
            start = time.perf_counter()
            summary = split_dota(root, out, rates=rates, progress=False)
            seconds = time.perf_counter() - start
            patch = next((out / 'train' / 'images').glob('*.png'))
            rows.append(
                {
                    'rates': list(rates),
                    'patches': summary.patches,
                    'seconds': round(seconds, 2),
                    'seconds_per_patch': round(seconds / summary.patches, 3),
                    'patch_megabytes': round(folder_megabytes(out), 1),
                    'disk_over_source': round(folder_megabytes(out) / source_mb, 2),
                    'decode_patch_seconds': round(decode_seconds(patch), 3),
                }
            )
            shutil.rmtree(out)
        decode_source = decode_seconds(source)
    for row in rows:
        print(row)
    print(
        f'decode the whole {SIZE}² source PNG ({source_mb:.1f} MB): {decode_source:.3f} s'
    )
    result = {
        'benchmark': 'dota_split',
        'version': __version__,
        'image': f'{SIZE}x{SIZE} textured PNG, {source_mb:.1f} MB',
        'threads': 1,
        'splits': rows,
        'decode_source_seconds': round(decode_source, 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + '\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
