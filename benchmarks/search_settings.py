"""Rotation/scale search settings, compared on real validation textures.

The search (:func:`torchgeo_cstf.models.search.search_rotation_scale`) scores
each angle and scale by one central reference template searched over the
query's translations. This script compares template sizes, reaches and the
channels' smoothing on the
**validation** textures of the real folder (real RSSCN7 scenes and Sentinel-2
tiles of the val split; never the test split the real table reports), with
simulated SAR-like, thermal-like and later-date views under any rotation and
scale 0.7–1.4, as ``benchmarks/matching.py`` draws them:

- ``hit``: share of pairs where one of the best three candidates lies within
  70 px mean corner error of the truth (what the dense pass can bridge: its
  40 px radius plus the similarity's misfit of a perspective warp);
- ``success``: share of pairs whose final dense homography (each candidate as
  prior, the one with most inliers kept, as ``PairMatcher`` does, but without
  its wider second search: the setting alone is measured) has a mean corner
  error under 10 px;
- ``seconds_per_pair`` of the search alone, on one thread, freed memory kept
  for reuse as ``cstf`` and the workers run
  (:func:`torchgeo_cstf.allocator.keep_freed_memory`).

Usage: python benchmarks/search_settings.py --real-root data/real [--pairs 30]
       [--out benchmarks/results/search_settings.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.datasets import CrossModalPairs
from torchgeo_cstf.inference.methods import PairMatcher
from torchgeo_cstf.metrics import corner_error
from torchgeo_cstf.models.search import search_rotation_scale

#: the settings compared: name → keywords of search_rotation_scale
SETTINGS: dict[str, dict[str, float]] = {
    'half side, quarter reach, smoothing 2 (before)': {
        'template_share': 0.5,
        'max_offset': 0.25,
        'smoothing': 2.0,
    },
    'three quarters, quarter reach, smoothing 2': {
        'template_share': 0.75,
        'max_offset': 0.25,
        'smoothing': 2.0,
    },
    'three quarters, eighth reach, smoothing 2': {
        'template_share': 0.75,
        'max_offset': 0.125,
        'smoothing': 2.0,
    },
    'three quarters, eighth reach, smoothing 1 (default)': {
        'template_share': 0.75,
        'max_offset': 0.125,
        'smoothing': 1.0,
    },
    'half side, quarter reach, smoothing 1': {
        'template_share': 0.5,
        'max_offset': 0.25,
        'smoothing': 1.0,
    },
}
#: simulated modality of each set (CrossModalPairs' names)
MODALITIES = {'sar': 'sar', 'thermal': 'thermal', 'later-date': 'optical'}
#: a candidate this close to the truth (mean corner error, px) is a hit
HIT_PX = 70.0


def evaluate(
    samples: list[dict[str, Any]], settings: dict[str, float]
) -> dict[str, float]:
    """Hit rate, end-to-end success and search time of one setting on one set."""
    matcher = PairMatcher(method='dense')
    hits, successes, seconds = [], [], 0.0
    for sample in samples:
        reference, query = sample['reference'].float(), sample['query'].float()
        warp = sample['warp'].numpy()
        height, width = reference.shape[-2:]
        start = time.perf_counter()
        candidates = search_rotation_scale(reference[None], query[None], **settings)
        seconds += time.perf_counter() - start
        errors = [corner_error(c.matrix, warp, width, height) for c in candidates]
        hits.append(min(errors) < HIT_PX)
        results = [matcher(reference, query, prior=c.matrix) for c in candidates]
        best = max(results, key=lambda r: r.inliers)
        fitted = None if best.transform is None else best.transform.matrix
        successes.append(corner_error(fitted, warp, width, height) < 10)
    return {
        'pairs': len(samples),
        'hit': round(float(np.mean(hits)), 4),
        'success': round(float(np.mean(successes)), 4),
        'seconds_per_pair': round(seconds / len(samples), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--real-root', type=Path, required=True)
    parser.add_argument('--pairs', type=int, default=30)
    parser.add_argument('--size', type=int, default=384)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/search_settings.json')
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    kept = keep_freed_memory()  # as cstf and the workers run
    table: dict[str, dict[str, float]] = {}
    for set_name, modality in MODALITIES.items():
        data = CrossModalPairs(
            root=args.real_root / 'textures',
            split='val',
            length=args.pairs,
            size=args.size,
            seed=1,
            modalities=(modality,),
            scale=(0.7, 1.4),
            rotation=(-180.0, 180.0),
        )
        samples = [data[i] for i in range(len(data))]
        for name, settings in SETTINGS.items():
            table[f'{set_name}/{name}'] = evaluate(samples, settings)
            print(f'{set_name:>10} {name:>40}', table[f'{set_name}/{name}'], flush=True)
    result = {
        'benchmark': 'search_settings',
        'imagery': 'real validation textures, simulated modalities, any rotation',
        'version': __version__,
        'machine': platform.machine(),
        'device': 'cpu',
        'threads': 1,
        'allocator_keeps_freed_memory': kept,
        'settings': SETTINGS,
        'results': table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + '\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
