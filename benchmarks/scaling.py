"""Horizontal scaling of the workers, measured: a burst of detection jobs and one chunked scene.

Runs N real ``cstf worker`` processes (N = 1, 2 by default; one torch thread
each) on the real Redis (``--redis``, default ``redis://127.0.0.1:6379/13``,
emptied first) and measures for each N, in the same run:

- a burst of ``--jobs`` detection jobs (``--size``² synthetic scenes, tiles of
  ``--tile`` px, each at most ``--chunk-tiles`` tiles so none fans out)
  submitted at once: throughput (jobs/s from the first publish
  to the last finish), the queue-wait distribution (each manifest's
  ``times``: publish to start), run time per job and per tile;
- one large scene (``--big``² px) fanned out as a chord of chunks of
  ``--chunk-tiles`` tiles: wall time from submit to the merged result, the
  chunks' spread over the workers, the merge (the serial step) — against the
  same scene detected by one direct call in this process (the peer); and
  again without the quicklook PNG, the larger part of the merge;
- Redis memory per queued detection job (``--queued`` specs, no worker).

Each measurement is repeated ``--repeat`` times (3) with the same workers; the
trial with the median throughput (burst) or wall time (chord) is reported, all
trials are kept. These are the inputs of the capacity model in
docs/operations.md. The figures
of a CPU run say how the queue scales, not how fast a GPU detects: read a GPU
worker's per-tile time from its ``cstf_job_duration_seconds`` and
``cstf_tiles_processed_total`` and put it into the same model.

Usage: python benchmarks/scaling.py [--workers 1 2] [--jobs 24] [--big 2048]
       [--out benchmarks/results/scaling.json] [--plot docs/assets/scaling.png]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis
from celery.result import AsyncResult
from job_queue import detection_spec, start_workers, stop_workers, worker_env
from matplotlib.figure import Figure

from torchgeo_cstf import __version__
from torchgeo_cstf.inference import count_tiles
from torchgeo_cstf.jobs import DetectionJob, JobClient, JobSettings, job_id
from torchgeo_cstf.options import TilingOptions
from torchgeo_cstf.synthetic import generate_scene


def _percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {
        'p50': round(float(np.percentile(array, 50)), 3),
        'p90': round(float(np.percentile(array, 90)), 3),
        'max': round(float(array.max()), 3),
    }


def _median_trial(trials: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The trial whose ``key`` is the median (the lower one of an even count)."""
    ranked = sorted(trials, key=lambda trial: trial[key])
    return ranked[(len(ranked) - 1) // 2]


def _warm(client: JobClient, scenes: list[Path], out: Path, workers: int) -> None:
    """Every worker loads its model: 2 jobs per worker, in parallel."""
    jobs = [
        client.app.send_task('cstf.detect', args=[detection_spec(scene, out)])
        for scene in scenes[: 2 * workers]
    ]
    for job in jobs:
        assert job.get(timeout=300)['status'] == 'succeeded'


def _burst(
    client: JobClient, scenes: list[Path], out: Path, **parameters: Any
) -> dict[str, Any]:
    jobs = [
        client.app.send_task(
            'cstf.detect', args=[detection_spec(scene, out, **parameters)]
        )
        for scene in scenes
    ]
    manifests = [job.get(timeout=1800) for job in jobs]
    assert all(m['status'] == 'succeeded' for m in manifests), manifests
    times = [m['times'] for m in manifests]
    wall = max(t['finished'] for t in times) - min(t['published'] for t in times)
    runs = [t['finished'] - t['started'] for t in times]
    tiles = [m['summary']['tiles'] - m['summary']['skipped_tiles'] for m in manifests]
    return {
        'jobs': len(manifests),
        'wall_s': round(wall, 2),
        'jobs_per_s': round(len(manifests) / wall, 3),
        'queue_wait_s': _percentiles([t['started'] - t['published'] for t in times]),
        'queue_waits': [round(t['started'] - t['published'], 3) for t in times],
        'run_s_median': round(statistics.median(runs), 3),
        'tile_s': round(sum(runs) / sum(tiles), 4),
        'tiles_per_job': statistics.median(tiles),
        'workers_used': sorted({m['worker'].split('@')[0] for m in manifests}),
    }


def _chord(
    client: JobClient, scene: Path, out: Path, chunk_tiles: int, **parameters: Any
) -> dict[str, Any]:
    spec = detection_spec(scene, out, **parameters)
    tiles = count_tiles(
        scene,
        TilingOptions(
            **{k: spec['parameters']['tiling'][k] for k in ('tile', 'overlap')}
        ),
    )
    chunks = -(-tiles // chunk_tiles)
    submitted = time.time()
    handle = client.app.send_task('cstf.detect', args=[spec])
    merged = handle.get(timeout=1800)
    assert merged['status'] == 'succeeded', merged
    parts = [
        AsyncResult(f'{handle.id}-chunk-{index}', app=client.app).get(timeout=60)
        for index in range(chunks)
    ]
    merge = merged['times']
    spans = [
        {
            'worker': part['worker'].split('@')[0],
            'started': round(part['times']['started'] - submitted, 3),
            'finished': round(part['times']['finished'] - submitted, 3),
        }
        for part in parts
    ]
    return {
        'tiles': tiles,
        'chunks': chunks,
        'wall_s': round(merge['finished'] - submitted, 2),
        'merge_s': round(merge['finished'] - merge['started'], 3),
        'merge_wait_s': round(merge['started'] - merge['published'], 3),
        'chunk_s_median': round(
            statistics.median(s['finished'] - s['started'] for s in spans), 3
        ),
        'workers_used': sorted({s['worker'] for s in spans}),
        'spans': spans,
        'merge_span': [
            round(merge['started'] - submitted, 3),
            round(merge['finished'] - submitted, 3),
        ],
        'merge_worker': merged['worker'].split('@')[0],
        'objects': merged['summary']['objects'],
    }


def _direct(scene: Path, warm: Path, out: Path, **parameters: Any) -> float:
    """Seconds of one in-process detection of the scene (model loaded before)."""
    import torch

    from workers import run

    torch.set_num_threads(1)
    first = DetectionJob.model_validate(detection_spec(warm, out / 'warm'))
    run.detect_scene_job(first, job_id(first), lambda *_: None)
    job = DetectionJob.model_validate(detection_spec(scene, out, **parameters))
    tick = time.perf_counter()
    run.detect_scene_job(job, job_id(job), lambda *_: None)
    return time.perf_counter() - tick


def _queued_bytes(
    client: JobClient, server: Any, scene: Path, out: Path, count: int
) -> float:
    """Redis memory per queued detection job (no worker running)."""
    server.flushdb()
    before = int(server.info('memory')['used_memory'])
    for _ in range(count):
        client.app.send_task('cstf.detect', args=[detection_spec(scene, out)])
    after = int(server.info('memory')['used_memory'])
    assert int(server.llen('detection')) == count
    server.flushdb()
    return (after - before) / count


def _plot(result: dict[str, Any], path: Path) -> None:
    figure = Figure(figsize=(10, 3.6), layout='constrained')
    left, right = figure.subplots(1, 2)
    runs = result['runs']
    for run in runs:
        waits = sorted(run['burst']['queue_waits'])
        share = np.arange(1, len(waits) + 1) / len(waits)
        left.step(
            waits,
            share,
            where='post',
            label=f'{run["workers"]} worker(s): {run["burst"]["jobs_per_s"]} jobs/s',
        )
    left.set_xlabel('queue wait (s)')
    left.set_ylabel('share of jobs')
    left.set_title(f'burst of {runs[0]["burst"]["jobs"]} detection jobs')
    left.legend(loc='lower right', fontsize=8)
    labels = []
    for run in runs:
        chord = run['chord']
        names = sorted(
            {span['worker'] for span in chord['spans']} | {chord['merge_worker']}
        )
        for name in names:
            row = len(labels)
            labels.append(f'{run["workers"]} worker(s), {name}')
            for span in chord['spans']:
                if span['worker'] == name:
                    right.barh(
                        row,
                        span['finished'] - span['started'],
                        left=span['started'],
                        height=0.6,
                        color='tab:blue',
                        edgecolor='white',
                    )
            if chord['merge_worker'] == name:
                start, end = chord['merge_span']
                right.barh(row, end - start, left=start, height=0.6, color='black')
    right.set_yticks(range(len(labels)), labels, fontsize=8)
    right.invert_yaxis()
    first = runs[0]['chord']
    right.set_xlabel('seconds after submit (blue: chunks; black: merge)')
    walls = ', '.join(f'{r["workers"]}: {r["chord"]["wall_s"]} s' for r in runs)
    right.set_title(
        f'one scene, {first["tiles"]} tiles in {first["chunks"]} chunks\n'
        f'wall by workers {walls}; direct call {result["direct_scene_s"]} s',
        fontsize=9,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--redis', default='redis://127.0.0.1:6379/13')
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--jobs', type=int, default=24)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--tile', type=int, default=256)
    parser.add_argument('--overlap', type=int, default=32)
    parser.add_argument('--big', type=int, default=2048)
    parser.add_argument('--chunk-tiles', type=int, default=16)
    parser.add_argument('--queued', type=int, default=500)
    parser.add_argument(
        '--repeat', type=int, default=3, help='trials per worker count (median kept)'
    )
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/scaling.json')
    )
    parser.add_argument('--plot', type=Path, default=Path('docs/assets/scaling.png'))
    args = parser.parse_args()
    tiling = {'tile': args.tile, 'overlap': args.overlap}
    server = redis.Redis.from_url(args.redis)
    server.flushdb()
    result: dict[str, Any] = {
        'benchmark': 'scaling',
        'version': __version__,
        'imagery': 'synthetic scenes (the package renders)',
        'device': f'CPU, {platform.machine()}, {os.cpu_count()} cores; '
        'one torch thread per worker',
        'settings': {
            'repeat': args.repeat,
            'jobs': args.jobs,
            'size': args.size,
            'big': args.big,
            'chunk_tiles': args.chunk_tiles,
            **tiling,
        },
        'runs': [],
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        env = worker_env(args.redis, root)
        env['CSTF_CHUNK_TILES'] = str(args.chunk_tiles)
        os.environ.update(env)  # the direct peer runs with the workers' settings
        client = JobClient(JobSettings.from_env(env))
        count = args.jobs + 2 * max(args.workers)
        scenes = []
        for index in range(count):
            path = root / f'scene-{index:03d}.tif'
            generate_scene(path, (args.size, args.size), index, num_objects=8)
            scenes.append(path)
        per_job = count_tiles(
            scenes[0], TilingOptions(tile=args.tile, overlap=args.overlap)
        )
        if per_job > args.chunk_tiles:
            parser.error(
                f'a burst job has {per_job} tiles, more than --chunk-tiles '
                f'{args.chunk_tiles}: it would fan out; use a smaller --size'
            )
        big = root / 'big.tif'
        generate_scene(big, (args.big, args.big), 999, num_objects=60)
        if (
            count_tiles(big, TilingOptions(tile=args.tile, overlap=args.overlap))
            <= args.chunk_tiles
        ):
            parser.error(
                f'the --big scene has no more than --chunk-tiles {args.chunk_tiles} '
                'tiles: it would not fan out; use a larger --big'
            )
        warm, burst = scenes[: 2 * max(args.workers)], scenes[2 * max(args.workers) :]

        for workers in args.workers:
            server.flushdb()
            processes = start_workers(workers, env, root, '--queues', 'detection,light')
            bursts, chords, bare = [], [], []
            try:
                _warm(client, warm, root / f'warm-{workers}', workers)
                for trial in range(args.repeat):
                    folder = root / f'{workers}-{trial}'
                    bursts.append(_burst(client, burst, folder / 'burst', **tiling))
                    chords.append(
                        _chord(
                            client, big, folder / 'chord', args.chunk_tiles, **tiling
                        )
                    )
                    bare.append(
                        _chord(
                            client,
                            big,
                            folder / 'bare',
                            args.chunk_tiles,
                            quicklook=False,
                            **tiling,
                        )
                    )
            finally:
                stop_workers(processes)
            run = {
                'workers': workers,
                'burst': _median_trial(bursts, 'jobs_per_s'),
                'chord': _median_trial(chords, 'wall_s'),
                'chord_no_quicklook': _median_trial(bare, 'wall_s'),
                'trials': {
                    'burst_jobs_per_s': [b['jobs_per_s'] for b in bursts],
                    'chord_wall_s': [c['wall_s'] for c in chords],
                    'chord_merge_s': [c['merge_s'] for c in chords],
                    'chord_no_quicklook_wall_s': [c['wall_s'] for c in bare],
                    'chord_no_quicklook_merge_s': [c['merge_s'] for c in bare],
                },
            }
            result['runs'].append(run)
            summary = {k: v for k, v in run['burst'].items() if k != 'queue_waits'}
            chord = {k: v for k, v in run['chord'].items() if k != 'spans'}
            print(f'{workers} worker(s): burst {summary}', flush=True)
            print(f'{workers} worker(s): chord {chord}', flush=True)
            print(f'{workers} worker(s): trials {run["trials"]}', flush=True)

        result['direct_scene_s'] = round(
            _direct(big, warm[0], root / 'direct', **tiling), 2
        )
        result['redis_bytes_per_queued_job'] = round(
            _queued_bytes(client, server, burst[0], root / 'queued', args.queued), 1
        )
    runs = result['runs']
    result['summary'] = {
        'burst_speedup': round(
            runs[-1]['burst']['jobs_per_s'] / runs[0]['burst']['jobs_per_s'], 3
        ),
        'chord_speedup': round(
            runs[0]['chord']['wall_s'] / runs[-1]['chord']['wall_s'], 3
        ),
        'chord_no_quicklook_speedup': round(
            runs[0]['chord_no_quicklook']['wall_s']
            / runs[-1]['chord_no_quicklook']['wall_s'],
            3,
        ),
        'chord_one_worker_vs_direct': round(
            runs[0]['chord']['wall_s'] / result['direct_scene_s'], 3
        ),
        'workers': [runs[0]['workers'], runs[-1]['workers']],
    }
    print('summary:', result['summary'], flush=True)
    print('direct scene s:', result['direct_scene_s'], '; Redis bytes per queued job:',
          result['redis_bytes_per_queued_job'], flush=True)  # fmt: skip
    server.flushdb()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    _plot(result, args.plot)
    print(f'wrote {args.out} and {args.plot}')


if __name__ == '__main__':
    main()
