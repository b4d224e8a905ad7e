"""Speed of the synthetic acquisition generator, on one core.

Times ``synthesize_scene`` (in memory) and ``generate_scene`` (GeoTIFF written)
for several sizes and modalities, next to a peer in the same run: writing an
array of the same shape as a GeoTIFF with rasterio, i.e. the I/O floor any
generator pays. The issue's target: a 1024×1024 scene in well under a second.

Usage: python benchmarks/synthetic.py [--repeat 5] [--out benchmarks/results/synthetic.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from affine import Affine
from matplotlib.figure import Figure

from torchgeo_cstf import __version__
from torchgeo_cstf.io import write_geotiff
from torchgeo_cstf.synthetic import (
    generate_pair,
    generate_scene,
    plot_scene,
    synthesize_pair,
    synthesize_scene,
)


def best_of(repeat: int, run: Callable[[int], object]) -> float:
    """Median wall time of ``run(seed)`` over ``repeat`` seeds, after one warm-up."""
    run(10_000)
    times = []
    for seed in range(repeat):
        start = time.perf_counter()
        run(seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gallery(path: Path) -> None:
    """A scene and three pairs (optical→SAR, →thermal, multi-temporal) with truth."""
    figure = Figure(figsize=(20, 10), layout='constrained')
    axes = figure.subplots(2, 4)
    scene = synthesize_scene((1024, 1024), seed=1)
    plot_scene(scene.image, scene.truth, axes[0, 0], title='scene, optical RGB')
    crop = scene.image[:, 300:556, 300:556]
    axes[1, 0].imshow(crop[:3].transpose(1, 2, 0))
    axes[1, 0].set_title('detail (256 px)')
    axes[1, 0].set_axis_off()
    for column, (modality, title) in enumerate(
        [
            ('sar', 'query: SAR-like'),
            ('thermal', 'query: thermal-like'),
            ('optical', 'query: optical, later date, clouds'),
        ],
        start=1,
    ):
        pair = synthesize_pair(
            column, modality=modality, cloud_cover=0.2 if modality == 'optical' else 0.0
        )
        plot_scene(
            pair.reference, pair.truth.reference, axes[0, column], title='reference'
        )
        plot_scene(
            pair.query,
            pair.truth.query,
            axes[1, column],
            title=f'{title}, {pair.truth.warp_model}',
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=55)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/synthetic.json')
    )
    parser.add_argument(
        '--gallery', type=Path, default=Path('docs/assets/synthetic_gallery.png')
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size, modality in [
            (512, 'optical'),
            (1024, 'optical'),
            (1024, 'sar'),
            (1024, 'thermal'),
            (2048, 'optical'),
        ]:
            memory = best_of(
                args.repeat,
                lambda seed, s=size, m=modality: synthesize_scene(
                    (s, s), seed, modality=m
                ),
            )
            written = best_of(
                args.repeat,
                lambda seed, s=size, m=modality: generate_scene(
                    folder / 'scene.tif', (s, s), seed, modality=m
                ),
            )
            bands = {'optical': 3, 'sar': 2, 'thermal': 1}[modality]
            dtype = 'uint8' if modality == 'optical' else 'uint16'
            rng = np.random.default_rng(0)
            array = rng.integers(1, 255, size=(bands, size, size)).astype(dtype)
            peer = best_of(
                args.repeat,
                lambda seed, a=array: write_geotiff(
                    folder / 'peer.tif',
                    a,
                    crs='EPSG:32633',
                    transform=Affine(0.5, 0, 500_000, 0, -0.5, 4_600_000),
                ),
            )
            rows.append(
                {
                    'size': size,
                    'modality': modality,
                    'synthesize_s': round(memory, 4),
                    'generate_geotiff_s': round(written, 4),
                    'peer_write_geotiff_s': round(peer, 4),
                    'generate_over_peer': round(written / peer, 2),
                }
            )
        pair = best_of(
            args.repeat,
            lambda seed: generate_pair(folder / 'r.tif', folder / 'q.tif', seed),
        )

    print(
        f'{"size":>6} {"modality":>8} {"in memory":>10} {"GeoTIFF":>9} '
        f'{"peer write":>10} {"ratio":>6}'
    )
    for row in rows:
        print(
            f'{row["size"]:>6} {row["modality"]:>8} {row["synthesize_s"]:>9.3f}s '
            f'{row["generate_geotiff_s"]:>8.3f}s {row["peer_write_geotiff_s"]:>9.3f}s '
            f'{row["generate_over_peer"]:>6.1f}'
        )
    print(f'pair 512² optical→SAR (homography), both GeoTIFFs: {pair:.3f}s')
    result = {
        'benchmark': 'synthetic',
        'version': __version__,
        'machine': platform.processor() or platform.machine(),
        'threads': 1,
        'repeat': args.repeat,
        'scenes': rows,
        'pair_512_seconds': round(pair, 4),
        'target': '1024x1024 scene well under 1 s on one core',
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + '\n')
    gallery(args.gallery)
    print(f'wrote {args.out} and {args.gallery}')


if __name__ == '__main__':
    main()
