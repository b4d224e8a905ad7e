"""Pre-aligned matching speed: dense against SIFT, with and without kept memory.

The real matching table (``benchmarks/matching.py --real-root``) times each
method once per set, so its speed ratios carry the VM's run-to-run spread.
This script times only the co-registration case — the real pre-aligned pairs
of the test split, 512² tiles — for SIFT + MAGSAC++ and the library's ``dense``
method, several rounds each, alternating, on one thread. Each allocator
setting runs in its own fresh process (glibc's thresholds are process-wide
and set once): ``kept`` calls :func:`torchgeo_cstf.allocator.keep_freed_memory`
as ``cstf`` and the workers do; ``default`` leaves glibc as it is. Each
process also counts the page faults of its ``dense`` rounds (what kept memory
saves) and profiles one more ``dense`` pass over all pairs (``cProfile``): the
shares of a pair's time in the correlation (``ncc_search``, and its FFTs
alone) and in the description (``DenseMatcher.describe``).

Usage::

    python benchmarks/prealigned_speed.py --real-root data/real

Prints the figures and writes ``benchmarks/results/prealigned_speed.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import torch
from matching import Method, library_method, real_pair_sets, sift_matcher, with_fit

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.inference.methods import PairMatcher

#: the allocator settings compared, each in its own process
SETTINGS = ('kept', 'default')
#: profiled parts of a dense pass: name → (file name ends with, function)
PARTS = {
    'correlation': ('dense.py', 'ncc_search'),
    'fft': ('~', '<built-in method torch._C._fft.fft_rfft2>'),
    'inverse_fft': ('~', '<built-in method torch._C._fft.fft_irfft2>'),
    'description': ('dense.py', 'describe'),
}


def time_methods(root: Path, rounds: int, kept: bool) -> dict[str, Any]:
    """Pairs per second of SIFT and ``dense`` on every pre-aligned pair.

    Args:
        root: the prepared real folder (``prepare_real_matching.py``).
        rounds: timed passes over all pairs per method, alternating methods.
        kept: whether to call :func:`keep_freed_memory` first.

    Returns:
        ``pairs``, ``allocator_keeps_freed_memory``, per method the pairs per
        second of each round, ``dense_page_faults_per_pair`` and
        ``dense_profile``: seconds per pair and the share of each of
        :data:`PARTS` in one profiled pass.
    """
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    applied = keep_freed_memory() if kept else False
    sets, _ = real_pair_sets(root)
    samples = [sample for group in sets.values() for sample in group]
    methods: dict[str, Method] = {
        'sift+magsac': with_fit(sift_matcher(), 'affine'),  # as dense's default here
        'dense': library_method(PairMatcher(method='dense'), search=False),
    }
    for run in methods.values():  # first-call set-up untimed
        run(samples[0]['reference'], samples[0]['query'])
    speeds: dict[str, list[float]] = {name: [] for name in methods}
    faults = 0
    for _ in range(rounds):
        for name, run in methods.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            for sample in samples:
                run(sample['reference'], sample['query'])
            speeds[name].append(round(len(samples) / (time.perf_counter() - start), 3))
            if name == 'dense':
                faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return {
        'pairs': len(samples),
        'allocator_keeps_freed_memory': applied,
        'pairs_per_second': speeds,
        'dense_page_faults_per_pair': round(faults / (rounds * len(samples))),
        'dense_profile': profile_dense(methods['dense'], samples),
    }


def profile_dense(run: Method, samples: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per pair of one profiled ``dense`` pass and the shares of :data:`PARTS`."""
    profiler = cProfile.Profile()
    profiler.enable()
    for sample in samples:
        run(sample['reference'], sample['query'])
    profiler.disable()
    profile = pstats.Stats(profiler).get_stats_profile()
    shares = {
        part: round(
            sum(
                row.cumtime
                for function, row in profile.func_profiles.items()
                if function == name and row.file_name.endswith(suffix)
            )
            / profile.total_tt,
            3,
        )
        for part, (suffix, name) in PARTS.items()
    }
    return {'seconds_per_pair': round(profile.total_tt / len(samples), 4), **shares}


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
            'dense_page_faults_per_pair': run['dense_page_faults_per_pair'],
        }
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
