"""Scene-level detection: wall time, tiles/s, peak RSS and pipeline overhead.

For each scene size (default 2048², 8192², 20480² px, 3-band uint8 GeoTIFFs
made by tiling one synthetic 2048² scene, so no generator cost enters), a fresh
Python process runs :func:`torchgeo_cstf.inference.detect_scene` with the demo
detector and reports:

- wall time and tiles/s;
- model time (forward, decoding and per-tile NMS), the time to build the
  detector and load its weights (once per process: a worker keeps its model),
  and the pipeline overhead, ``(wall - load - model) / model``: reading,
  normalising, queueing, merging;
- peak resident memory of the process (``ru_maxrss``), which must not grow
  with the scene: tiles are read by a background thread into a bounded queue;
- the trend of resident memory through the run: the median of samples taken
  every 0.25 s (from the end of the first batch) in the last quarter of the
  run against the first quarter.

Peers, in the same run: for time, the model itself, timed around each
batch's forward pass (the overhead is what the pipeline adds to it); for
memory, the detector alone in a fresh process, on the scene's first batch as
many times as the scene has batches (no reading, queueing or merging). Each
size and its peer run ``--repeat`` times, each in a fresh process, and the
medians are reported: a process's peak moves with the allocator's state
(threads free the activations in different orders), so one run per size
cannot check a ±10 % target. Targets of the issue: overhead ≤ 10 %, peak RSS
within ±10 % from the smallest to the largest scene.

``--allocator kept`` runs each child as ``cstf`` and the workers run:
glibc keeping freed memory for reuse
(:func:`torchgeo_cstf.allocator.keep_freed_memory`); the default leaves glibc
as it is, as a library user's own process would.

Usage: python benchmarks/scene.py [--sizes 2048 8192 20480] [--tile 1024]
       [--repeat 3] [--allocator default|kept]
       [--out benchmarks/results/scene.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from matplotlib.figure import Figure
from rasterio.windows import Window

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.options import TilingOptions
from torchgeo_cstf.synthetic import synthesize_scene

BASE = 2048
#: the shipped demo detector, and the overlap of detect_scene's default tiling
DETECTOR = 'cstf_detector_regnetx_002'
OVERLAP = 200


def write_tiled_scene(path: Path, size: int) -> None:
    """A size² scene made of copies of one synthetic 2048² scene, written by strips."""
    base = synthesize_scene((BASE, BASE), seed=11).image
    profile = {
        'driver': 'GTiff',
        'width': size,
        'height': size,
        'count': 3,
        'dtype': 'uint8',
        'crs': 'EPSG:32633',
        'transform': rasterio.Affine(0.5, 0, 400000, 0, -0.5, 5300000),
        'tiled': True,
        'blockxsize': 512,
        'blockysize': 512,
        'compress': 'deflate',
        'BIGTIFF': 'IF_SAFER',
    }
    with rasterio.open(path, 'w', **profile) as dst:
        for row in range(0, size, BASE):
            height = min(BASE, size - row)
            strip = np.tile(base[:, :height], (1, 1, -(-size // BASE)))[..., :size]
            dst.write(strip, window=Window(0, row, size, height))


class MemorySampler:
    """Samples the resident memory of this process every ``interval`` seconds.

    Samples count from :meth:`begin` on (the end of the first batch), so that
    loading the model and the first forward pass are not mistaken for growth.
    """

    def __init__(self, interval: float = 0.25) -> None:
        """Start sampling on a daemon thread."""
        self.interval = interval
        self.samples: list[float] = []
        self._begun = threading.Event()
        self._stop = threading.Event()
        self._page = resource.getpagesize() / 2**20
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def begin(self) -> None:
        """Keep the samples from now on."""
        self._begun.set()

    def _run(self) -> None:
        statm = Path('/proc/self/statm')
        while statm.exists() and not self._stop.wait(self.interval):
            if self._begun.is_set():
                self.samples.append(int(statm.read_text().split()[1]) * self._page)

    def trend(self) -> float | None:
        """Median of the last quarter of samples over that of the first, minus 1."""
        self._stop.set()
        self._thread.join()
        quarter = len(self.samples) // 4
        if quarter < 2:
            return None
        first = statistics.median(self.samples[:quarter])
        return statistics.median(self.samples[-quarter:]) / first - 1


def child(path: str, tile: int, batch_size: int) -> None:
    """Run one scene in this process and print its figures as JSON."""
    import torch

    from torchgeo_cstf.inference import detect_scene

    torch.set_num_threads(max(torch.get_num_threads(), 1))
    sampler = MemorySampler()
    result = detect_scene(
        path,
        DETECTOR,
        on_tiles=lambda done, planned: sampler.begin(),
        options=TilingOptions(tile=tile, overlap=OVERLAP, batch_size=batch_size),
    )
    print(
        json.dumps(
            {
                'seconds': result.timings.seconds,
                'model_seconds': result.timings.model_seconds,
                'load_seconds': result.timings.load_seconds,
                'tiles': result.timings.tiles,
                'objects': len(result),
                'tiles_per_s': result.timings.tiles / result.timings.seconds,
                'overhead': result.timings.overhead,
                'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                / 1024,
                'rss_trend': sampler.trend(),
            }
        )
    )


def model_only(path: str, tile: int, batch_size: int, batches: int) -> None:
    """The peer: the detector alone, ``batches`` times on the scene's first batch.

    No reading, queueing or merging: what the model's own allocations do to
    peak RSS over as many forward passes as the scene takes.
    """
    import numpy as np
    import torch

    from torchgeo_cstf.inference import count_tiles, resolve_detector
    from torchgeo_cstf.inference.tiles import TileReader

    torch.set_num_threads(max(torch.get_num_threads(), 1))
    loaded = resolve_detector(DETECTOR)
    first = range(
        min(batch_size, count_tiles(path, TilingOptions(tile=tile, overlap=OVERLAP)))
    )
    reader = TileReader(
        path,
        loaded.model.in_channels,
        tile,
        OVERLAP,
        batch_size,
        indexes=list(first),
        targets=loaded.stretch,
    )
    tiles = list(reader)
    images = torch.from_numpy(np.stack([t.pixels for t in tiles]))
    with torch.inference_mode():
        for _ in range(batches):
            loaded.model.predict(images, None, loaded.score_threshold)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'peak_rss_mb': peak}))


def run_child(
    path: Path,
    tile: int,
    batch_size: int,
    model_only_batches: int = 0,
    allocator: str = 'default',
) -> dict[str, Any]:
    """Figures of one run of a scene (or of the model-only peer) in a fresh process."""
    peer = ['--model-only', str(model_only_batches)] if model_only_batches else []
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            '--child',
            str(path),
            '--tile',
            str(tile),
            '--batch-size',
            str(batch_size),
            '--allocator',
            allocator,
            *peer,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, Any] = json.loads(output)
    return figures


def summarise(size: int, written: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row per size: medians over the runs, and each run's peak RSS."""
    keys = (
        'seconds',
        'load_seconds',
        'model_seconds',
        'tiles_per_s',
        'overhead',
        'peak_rss_mb',
    )
    row = {
        'size': size,
        'write_seconds': written,
        'tiles': runs[0]['tiles'],
        'objects': runs[0]['objects'],
        **{key: statistics.median(r[key] for r in runs) for key in keys},
        'peak_rss_mb_runs': [r['peak_rss_mb'] for r in runs],
    }
    trends = [r['rss_trend'] for r in runs if r['rss_trend'] is not None]
    row['rss_trend'] = statistics.median(trends) if trends else None
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Overhead and peak RSS against scene size."""
    figure = Figure(figsize=(10, 4), layout='constrained')
    left, right = figure.subplots(1, 2)
    labels = [f'{int(r["size"])}²' for r in rows]
    left.bar(labels, [100 * r['overhead'] for r in rows], color='#4c72b0')
    left.axhline(10, color='red', ls='--', lw=1, label='target 10 %')
    left.set_ylabel('pipeline overhead (% of model time)')
    left.legend()
    peaks = [r['peak_rss_mb'] for r in rows]
    spans = [
        [p - min(r['peak_rss_mb_runs']) for p, r in zip(peaks, rows, strict=True)],
        [max(r['peak_rss_mb_runs']) - p for p, r in zip(peaks, rows, strict=True)],
    ]
    right.bar(labels, peaks, yerr=spans, capsize=6, color='#55a868', label='scene')
    right.plot(
        labels,
        [r['model_only_peak_rss_mb'] for r in rows],
        'kD',
        label='model alone, as many batches',
    )
    right.legend(loc='lower right')
    right.set_ylabel('peak RSS (MiB), median and range of runs')
    for ax in (left, right):
        ax.set_xlabel('scene size (px)')
    figure.suptitle('detect_scene: tiled inference cost (CPU)')
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main() -> None:
    """Run the benchmark (or, with --child, one scene)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[2048, 8192, 20480])
    parser.add_argument('--tile', type=int, default=1024)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument(
        '--repeat', type=int, default=3, help='fresh processes per size'
    )
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/scene.json')
    )
    parser.add_argument(
        '--figure', type=Path, default=Path('docs/assets/scene_benchmark.png')
    )
    parser.add_argument(
        '--allocator',
        choices=('default', 'kept'),
        default='default',
        help="glibc's defaults, or freed memory kept for reuse as cstf does",
    )
    parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--model-only', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and args.allocator == 'kept' and not keep_freed_memory():
        parser.error('--allocator kept: this C library or environment keeps its own')
    if args.child and args.model_only:
        model_only(args.child, args.tile, args.batch_size, args.model_only)
        return
    if args.child:
        child(args.child, args.tile, args.batch_size)
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            path = Path(folder) / f'scene_{size}.tif'
            start = time.perf_counter()
            write_tiled_scene(path, size)
            written = time.perf_counter() - start
            runs = [
                run_child(path, args.tile, args.batch_size, allocator=args.allocator)
                for _ in range(args.repeat)
            ]
            row = summarise(size, written, runs)
            batches = -(-int(row['tiles']) // args.batch_size)
            peers = [
                run_child(path, args.tile, args.batch_size, batches, args.allocator)[
                    'peak_rss_mb'
                ]
                for _ in range(args.repeat)
            ]
            row['model_only_peak_rss_mb'] = statistics.median(peers)
            row['model_only_peak_rss_mb_runs'] = peers
            rows.append(row)
            print(
                f'{size:>6}²: {row["tiles"]:>4} tiles, {row["seconds"]:8.1f} s, '
                f'{row["tiles_per_s"]:.2f} tiles/s, overhead '
                f'{100 * row["overhead"]:.1f} %, peak RSS {row["peak_rss_mb"]:.0f} MiB '
                f'(runs {", ".join(f"{m:.0f}" for m in row["peak_rss_mb_runs"])}); '
                f'model alone {row["model_only_peak_rss_mb"]:.0f} MiB'
            )
            path.unlink()
    rss = [r['peak_rss_mb'] for r in rows]
    alone = [r['model_only_peak_rss_mb'] for r in rows]
    report = {
        'version': __version__,
        'machine': platform.platform(),
        'processor': platform.processor(),
        'tile': args.tile,
        'batch_size': args.batch_size,
        'repeat': args.repeat,
        'allocator': args.allocator,
        'rows': rows,
        'rss_spread': (max(rss) - min(rss)) / min(rss),
        'model_only_rss_spread': (max(alone) - min(alone)) / min(alone),
        'max_overhead': max(r['overhead'] for r in rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n')
    plot(rows, args.figure)
    print(
        f'peak RSS spread {100 * report["rss_spread"]:.1f} % (model alone '
        f'{100 * report["model_only_rss_spread"]:.1f} %), max overhead '
        f'{100 * report["max_overhead"]:.1f} %; {args.out}, {args.figure}'
    )


if __name__ == '__main__':
    main()
