"""Pre-aligned matching speed: dense against SIFT, with and without kept memory.

The real matching table (``benchmarks/matching.py --real-root``) times each
method once per set, so its speed ratios carry the VM's run-to-run spread.
This script times only the co-registration case — the real pre-aligned pairs
of the test split, 512² tiles — for SIFT + MAGSAC++ and the library's ``dense``
method, several rounds each, alternating, on one thread. Each allocator
setting runs in its own fresh process (glibc's thresholds are process-wide
and set once): ``kept`` calls :func:`torchgeo_cstf.allocator.keep_freed_memory`
as ``cstf`` and the workers do; ``default`` leaves glibc as it is.

Usage::

    python benchmarks/prealigned_speed.py --real-root data/real

Prints the figures and writes ``benchmarks/results/prealigned_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import torch
from matching import (
    Method,
    library_method,
    real_pair_sets,
    sift_matcher,
    with_homography,
)

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.inference.methods import PairMatcher

#: the allocator settings compared, each in its own process
SETTINGS = ('kept', 'default')


def time_methods(root: Path, rounds: int, kept: bool) -> dict[str, Any]:
    """Pairs per second of SIFT and ``dense`` on every pre-aligned pair.

    Args:
        root: the prepared real folder (``prepare_real_matching.py``).
        rounds: timed passes over all pairs per method, alternating methods.
        kept: whether to call :func:`keep_freed_memory` first.

    Returns:
        ``pairs``, ``allocator_keeps_freed_memory`` and, per method, the
        pairs per second of each round.
    """
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    applied = keep_freed_memory() if kept else False
    sets, _ = real_pair_sets(root)
    samples = [sample for group in sets.values() for sample in group]
    methods: dict[str, Method] = {
        'sift+magsac': with_homography(sift_matcher()),
        'dense': library_method(PairMatcher(method='dense'), search=False),
    }
    for run in methods.values():  # first-call set-up untimed
        run(samples[0]['reference'], samples[0]['query'])
    speeds: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, run in methods.items():
            start = time.perf_counter()
            for sample in samples:
                run(sample['reference'], sample['query'])
            speeds[name].append(round(len(samples) / (time.perf_counter() - start), 3))
    return {
        'pairs': len(samples),
        'allocator_keeps_freed_memory': applied,
        'pairs_per_second': speeds,
    }


def summarise(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Median pairs/s per setting and method, and the ratios that matter.

    Returns:
        Per setting: the median pairs/s of each method and ``dense_vs_sift``;
        ``dense_kept_vs_default``: how much kept memory speeds ``dense``.
    """
    summary: dict[str, Any] = {}
    for setting, run in runs.items():
        medians = {
            name: round(statistics.median(values), 3)
            for name, values in run['pairs_per_second'].items()
        }
        summary[setting] = {
            **medians,
            'dense_vs_sift': round(medians['dense'] / medians['sift+magsac'], 3),
        }
    if set(SETTINGS) <= set(summary):
        summary['dense_kept_vs_default'] = round(
            summary['kept']['dense'] / summary['default']['dense'], 3
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--real-root', type=Path, required=True)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/prealigned_speed.json')
    )
    parser.add_argument('--child', choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.real_root / 'pairs').is_dir():
        parser.error(
            f'--real-root {args.real_root}: no pairs/ folder; prepare it with '
            'benchmarks/prepare_real_matching.py'
        )
    if args.child:
        figures = time_methods(args.real_root, args.rounds, args.child == 'kept')
        print(json.dumps(figures))
        return
    runs: dict[str, dict[str, Any]] = {}
    for setting in SETTINGS:
        command = [
            sys.executable,
            __file__,
            '--real-root',
            str(args.real_root),
            '--rounds',
            str(args.rounds),
            '--child',
            setting,
        ]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        runs[setting] = json.loads(done.stdout.strip().splitlines()[-1])
        print(setting, runs[setting], flush=True)
    result = {
        'benchmark': 'prealigned_speed',
        'imagery': 'real pre-aligned test pairs (see docs/datasets/real_matching.md)',
        'version': __version__,
        'machine': platform.machine(),
        'device': 'cpu',
        'threads': 1,
        'rounds': args.rounds,
        'runs': runs,
        'summary': summarise(runs),
    }
    print(json.dumps(result['summary'], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + '\n')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
