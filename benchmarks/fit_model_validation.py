"""The fitted model on pre-aligned real pairs: affine against homography, off the test split.

The choice behind :func:`~torchgeo_cstf.inference.methods.fitted_model` —
an affine fit around an affine prior, where every method fitted a homography
before — measured on real co-registered pairs that ``benchmarks/matching.py
--real-root`` does not report: the visible–NIR **validation** pairs, the
Landsat dates (**validation**) and the NAIP dates (pairs of the training
split: the learned matcher has seen those textures; dense matching, which
settles every one of them for ``auto`` too, learns nothing). As in the real
table: the first 512² tile of each pair, the query resampled into the
reference frame and moved by up to ±40 px, ±3°, ±3 % (identity prior, no
search); success is a mean corner error under 10 px. ``dense`` and ``auto``
(default CSTF weights) each fit both models.

Usage: python benchmarks/fit_model_validation.py --real-root data/real
       [--out benchmarks/results/fit_model_validation.json]

Prints and writes per set, method and model: pairs, success, median and
largest corner error (px; ``None``: no transform) and each pair's error.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path
from typing import Any

import torch
from matching import Sample, library_method, score

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.datasets import PairedRasters
from torchgeo_cstf.inference.matching import DEFAULT_MATCHER, resolve_matcher
from torchgeo_cstf.inference.methods import PairMatcher
from torchgeo_cstf.options import TransformModel

#: the pair sets (folders of OUT/pairs) and the split each is read from
SETS = {'nir-vis': 'val', 'landsat-dates': 'val', 'naip-dates': 'train'}
#: the models compared
MODELS: tuple[TransformModel, ...] = ('homography', 'affine')


def first_tiles(root: Path, name: str, split: str) -> list[Sample]:
    """The first 512² tile of each pair of a set, pre-aligned as in the real table."""
    data = PairedRasters(root / 'pairs' / name, split=split, size=512, resample=True)
    first: dict[int, int] = {}
    for index, (pair, _, _) in enumerate(data.tiles):
        first.setdefault(pair, index)
    return [data[index] for index in first.values()]


def summary(errors: list[float | None]) -> dict[str, Any]:
    """Success, median and largest corner error of one row."""
    found = [e for e in errors if e is not None]
    return {
        'pairs': len(errors),
        'success': round(sum(e < 10 for e in found) / len(errors), 4),
        'median_corner_error': round(statistics.median(found), 2) if found else None,
        'largest_corner_error': None if len(found) < len(errors) else max(found),
        'corner_errors': errors,
    }


def main() -> None:
    """Run every set, method and model; print and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--real-root', type=Path, required=True)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/fit_model_validation.json')
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    kept = keep_freed_memory()
    cstf = resolve_matcher(DEFAULT_MATCHER).eval()
    results: dict[str, Any] = {}
    for name, split in SETS.items():
        samples = first_tiles(args.real_root, name, split)
        for method in ('dense', 'auto'):
            for model in MODELS:
                pair = PairMatcher(method=method, cstf=cstf, transform_model=model)
                scored = score(library_method(pair, search=False), samples)
                row = summary(scored['corner_errors'])
                results[f'{name}/{method}/{model}'] = row
                print(f'{name:>14} {method:>6} {model:>10}', row, flush=True)
    out = {
        'benchmark': 'fit_model_validation',
        'imagery': 'real (see docs/datasets/real_matching.md)',
        'version': __version__,
        'machine': platform.machine(),
        'device': 'cpu',
        'threads': 1,
        'allocator_keeps_freed_memory': kept,
        'weights': DEFAULT_MATCHER,
        'splits': SETS,
        'results': results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + '\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
