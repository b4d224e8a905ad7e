"""Accuracy of the demo pipeline on held-out scenes, and on the demo's own scene.

``cstf demo`` scores one generated acquisition pair; one scene is a noisy
measurement (a 1024² scene holds ~45 objects, so one missed vehicle moves
mAP by a point or two). This script runs the same pipeline
(:func:`torchgeo_cstf.demo.run_demo`: generate, co-register, detect, score)
on held-out seeds that the demo does not use, for each scene size, and
reports mAP07 per seed, their mean and spread, and the co-registration RMSE
next to the raw georeference error of the same pair (the peer: what one gets
without co-registration).

Usage: python benchmarks/demo_accuracy.py [--sizes 1024 2048] [--seeds 100 ... 104]
       [--out benchmarks/results/demo_accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from matplotlib.figure import Figure

from torchgeo_cstf import __version__
from torchgeo_cstf.demo import DEFAULT_SEED, run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 2048])
    parser.add_argument('--seeds', type=int, nargs='+', default=list(range(100, 105)))
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/demo_accuracy.json')
    )
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for size in args.sizes:
        for seed in [DEFAULT_SEED, *args.seeds]:
            with tempfile.TemporaryDirectory() as folder:
                summary = run_demo(folder, size=size, seed=seed, progress=False)
            row = {
                'size': size,
                'seed': seed,
                'demo_scene': seed == DEFAULT_SEED,
                'objects': summary.objects_true,
                'map07': round(summary.map07, 4),
                'ap_per_class': {
                    k: round(v, 4) for k, v in summary.ap_per_class.items()
                },
                'registration_rmse_px': summary.registration_rmse_px,
                'georeference_error_px': round(summary.georeference_error_px, 3),
                'seconds': round(summary.seconds, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    by_size = {}
    for size in args.sizes:
        held_out = [r for r in rows if r['size'] == size and not r['demo_scene']]
        maps = [r['map07'] for r in held_out]
        rmses = [
            r['registration_rmse_px']
            for r in held_out
            if r['registration_rmse_px'] is not None
        ]
        by_size[str(size)] = {
            'held_out_seeds': len(held_out),
            'map07_mean': round(statistics.mean(maps), 4),
            'map07_std': round(statistics.stdev(maps), 4) if len(maps) > 1 else 0.0,
            'map07_min': min(maps),
            'registration_rmse_px_median': round(statistics.median(rmses), 3)
            if rmses
            else None,
            'georeference_error_px_median': round(
                statistics.median(r['georeference_error_px'] for r in held_out), 3
            ),
            'demo_scene_map07': next(
                r['map07'] for r in rows if r['size'] == size and r['demo_scene']
            ),
        }
    result = {
        'benchmark': 'demo_accuracy',
        'version': __version__,
        'machine': f'{platform.machine()} {platform.processor() or ""}'.strip(),
        'seconds': round(time.perf_counter() - start, 1),
        'rows': rows,
        'by_size': by_size,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(by_size, indent=2))

    figure = Figure(figsize=(8, 3.5), layout='constrained')
    axes = figure.subplots(1, len(args.sizes), squeeze=False)[0]
    for ax, size in zip(axes, args.sizes, strict=True):
        picked = [r for r in rows if r['size'] == size]
        labels = [('demo ' if r['demo_scene'] else '') + str(r['seed']) for r in picked]
        colours = ['tab:orange' if r['demo_scene'] else 'tab:blue' for r in picked]
        ax.bar(labels, [r['map07'] for r in picked], color=colours)
        ax.axhline(0.8, color='grey', linestyle='--', linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_title(
            f'{size}² scenes: mean {by_size[str(size)]["map07_mean"]:.3f} (held out)'
        )
        ax.set_xlabel('seed')
        ax.set_ylabel('mAP07')
    png = Path('docs/assets/demo_accuracy.png')
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    print(f'wrote {args.out} and {png}')


if __name__ == '__main__':
    main()
