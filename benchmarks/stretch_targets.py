"""Where the shipped detector's training images put their 2nd and 98th percentiles.

``detect_scene`` stretches scenes that are not uint8 so that their per-band 2nd
and 98th percentiles land where the detector's training images have theirs;
this script measures those values on synthetic training scenes (uint8 ÷ 255,
as the detector saw them), the ``meta['stretch']`` of
``CSTFDetectorRegNetX002_Weights.SYNTHETIC``.

Usage: python benchmarks/stretch_targets.py [--scenes 32] [--size 512]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from torchgeo_cstf import __version__
from torchgeo_cstf.datasets import SyntheticScenes
from torchgeo_cstf.inference.tiles import STRETCH_PERCENTILES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenes', type=int, default=32)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/stretch_targets.json')
    )
    args = parser.parse_args()
    scenes = SyntheticScenes(split='train', length=args.scenes, size=args.size)
    percentiles = np.stack(
        [
            np.percentile(
                scenes[i]['image'].numpy().reshape(3, -1) / 255,
                STRETCH_PERCENTILES,
                axis=1,
            )
            for i in range(len(scenes))
        ]
    )  # (scenes, 2, bands)
    mean, spread = percentiles.mean(axis=0), percentiles.std(axis=0)
    report = {
        'version': __version__,
        'scenes': args.scenes,
        'size': args.size,
        'percentiles': list(STRETCH_PERCENTILES),
        'low': [round(float(v), 3) for v in mean[0]],
        'high': [round(float(v), 3) for v in mean[1]],
        'low_std_across_scenes': [round(float(v), 3) for v in spread[0]],
        'high_std_across_scenes': [round(float(v), 3) for v in spread[1]],
    }
    print(json.dumps(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n')


if __name__ == '__main__':
    main()
