"""The job queue's cost: per-job overhead, scaling over workers, a 1000-job burst.

Runs real ``cstf worker`` processes on the real Redis (``--redis``, default
``redis://127.0.0.1:6379/14``, emptied first) and measures, each against a
peer in the same run:

- per-job overhead: the round trip of a job through the queue (submit,
  deliver, run, store the result, read it back) minus the same work called
  directly in this process: a no-op (``cstf.ping``) and a small detection
  job (a 256² scene, one tile, detections + quicklook + manifest written);
- throughput of small detection jobs with 1 and with 2 worker processes
  (one torch thread each), and the ratio;
- a burst of 1000 no-op jobs: time to enqueue them, Redis memory they take
  while queued, and time for 2 workers to drain them.

Targets of the issue: overhead ≤ 50 ms per job; 2 workers ≥ 1.8× one
worker's throughput on 2 cores.

Usage: python benchmarks/job_queue.py [--redis URL] [--jobs 40] [--burst 1000]
       [--out benchmarks/results/job_queue.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from matplotlib.figure import Figure

from torchgeo_cstf import __version__
from torchgeo_cstf.jobs import DetectionJob, JobClient, JobSettings, build, job_id
from torchgeo_cstf.synthetic import generate_scene


def worker_env(url: str, root: Path) -> dict[str, str]:
    """Environment of benchmark workers and clients: one torch thread, CPU."""
    env = dict(os.environ)
    env.update(
        CSTF_BROKER_URL=url,
        CSTF_ALLOWED_ROOTS=str(root),
        CSTF_TORCH_THREADS='1',
        CSTF_DEVICE='cpu',
        CSTF_CHUNK_TILES='1000',
    )
    return env


def start_workers(
    count: int, env: dict[str, str], root: Path, *options: str
) -> list[Any]:
    """Start ``count`` real ``cstf worker`` processes (logs under ``root``)."""
    workers = []
    for index in range(count):
        log = (root / f'worker-{index}.log').open('wb')
        command = [
            sys.executable, '-m', 'torchgeo_cstf.cli', 'worker',
            '--name', f'bench{index}@%h', '--loglevel', 'warning', *options,
        ]  # fmt: skip
        workers.append(
            subprocess.Popen(
                command, env=env, stdout=log, stderr=log, start_new_session=True
            )
        )
    return workers


def stop_workers(workers: list[Any]) -> None:
    """Warm shutdown of the workers; wait for them to exit."""
    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.wait(30)


def _warm(client: JobClient, scenes: list[Path], out: Path, count: int) -> None:
    """Load the model in every worker process (one job each, in parallel)."""
    jobs = [
        client.app.send_task('cstf.detect', args=[detection_spec(scene, out)])
        for scene in scenes[:count]
    ]
    for job in jobs:
        job.get(timeout=300)
    pings = [client.app.send_task('cstf.ping') for _ in range(4 * count)]
    for ping in pings:
        ping.get(timeout=60)


def detection_spec(scene: Path, out: Path, **parameters: Any) -> dict[str, Any]:
    """The JSON spec of a detection job (tile 256 unless given)."""
    job = build(
        DetectionJob,
        scene=str(scene),
        output_dir=str(out),
        parameters={'tile': 256, **parameters},
    )
    return job.model_dump(mode='json')


def _sequential(client: JobClient, name: str, specs: list[Any]) -> list[float]:
    times = []
    for spec in specs:
        tick = time.perf_counter()
        args = [] if spec is None else [spec]
        result = client.app.send_task(name, args=args).get(timeout=120)
        assert result['status'] == 'succeeded', result
        times.append(time.perf_counter() - tick)
    return times


def _direct(scenes: list[Path], out: Path, warm: Path) -> list[float]:
    import torch

    from workers import run

    torch.set_num_threads(1)
    job = DetectionJob.model_validate(detection_spec(warm, out / 'warm'))
    run.detect_scene_job(job, job_id(job), lambda *_: None)  # load the model first
    times = []
    for scene in scenes:
        job = DetectionJob.model_validate(detection_spec(scene, out))
        tick = time.perf_counter()
        run.detect_scene_job(job, job_id(job), lambda *_: None)
        times.append(time.perf_counter() - tick)
    return times


def _direct_ping() -> float:
    """Seconds of one call of the no-op task's body, in this process."""
    from workers.tasks import ping

    tick = time.perf_counter()
    for _ in range(1000):
        ping()
    return (time.perf_counter() - tick) / 1000


def _scene(path: Path, seed: int) -> Path:
    generate_scene(path, (256, 256), seed)
    return path


def _throughput(client: JobClient, scenes: list[Path], out: Path) -> float:
    tick = time.perf_counter()
    jobs = [
        client.app.send_task('cstf.detect', args=[detection_spec(s, out)])
        for s in scenes
    ]
    for job in jobs:
        assert job.get(timeout=600)['status'] == 'succeeded'
    return len(scenes) / (time.perf_counter() - tick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--redis', default='redis://127.0.0.1:6379/14')
    parser.add_argument('--jobs', type=int, default=40)
    parser.add_argument('--burst', type=int, default=1000)
    parser.add_argument(
        '--out', type=Path, default=Path('benchmarks/results/job_queue.json')
    )
    args = parser.parse_args()
    server = redis.Redis.from_url(args.redis)
    server.flushdb()
    result: dict[str, Any] = {
        'benchmark': 'queue',
        'version': __version__,
        'machine': f'{platform.machine()} {os.cpu_count()} cores',
        'jobs': args.jobs,
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        env = worker_env(args.redis, root)
        os.environ.update(env)  # the direct peers run with the workers' settings
        client = JobClient(JobSettings.from_env(env))
        scenes = [
            _scene(root / f'scene-{i:03d}.tif', i) for i in range(4 * args.jobs + 4)
        ]
        warm, overhead, one, two = (
            scenes[:4],
            scenes[4 : 4 + args.jobs],
            scenes[4 + args.jobs : 4 + 2 * args.jobs],
            scenes[4 + 2 * args.jobs :],
        )

        # per-job overhead, one worker
        workers = start_workers(1, env, root)
        _warm(client, warm, root / 'warm', 1)
        ping = _sequential(client, 'cstf.ping', [None] * 200)
        queued = _sequential(
            client,
            'cstf.detect',
            [detection_spec(s, root / 'queued') for s in overhead],
        )
        noop_direct = _direct_ping()
        direct = _direct(overhead, root / 'direct', warm[0])
        result['overhead_ms'] = {
            'noop_queued': round(1000 * statistics.median(ping), 2),
            'noop_direct': round(1000 * noop_direct, 4),
            'noop_overhead': round(1000 * (statistics.median(ping) - noop_direct), 2),
            'detect_queued': round(1000 * statistics.median(queued), 1),
            'detect_direct': round(1000 * statistics.median(direct), 1),
            'detect_overhead': round(
                1000 * (statistics.median(queued) - statistics.median(direct)), 1
            ),
        }
        print('overhead (ms, medians):', result['overhead_ms'], flush=True)
        one_rate = _throughput(client, one[: args.jobs], root / 'one')
        stop_workers(workers)

        # two workers
        workers = start_workers(2, env, root)
        _warm(client, warm, root / 'warm2', 2)
        two_rate = _throughput(client, two[: args.jobs], root / 'two')
        result['throughput_jobs_per_s'] = {
            'one_worker': round(one_rate, 3),
            'two_workers': round(two_rate, 3),
            'ratio': round(two_rate / one_rate, 3),
        }
        print('throughput:', result['throughput_jobs_per_s'], flush=True)

        # a burst of no-op jobs
        before = int(server.info('memory')['used_memory'])
        stop_workers(workers)
        tick = time.perf_counter()
        burst = [client.app.send_task('cstf.ping') for _ in range(args.burst)]
        enqueue = time.perf_counter() - tick
        queued_memory = int(server.info('memory')['used_memory']) - before
        length = int(server.llen('light'))
        workers = start_workers(2, env, root)
        tick = time.perf_counter()
        for job in burst:
            job.get(timeout=600)
        drain = time.perf_counter() - tick
        stop_workers(workers)
        result['burst'] = {
            'jobs': args.burst,
            'queue_length_after_enqueue': length,
            'enqueue_s': round(enqueue, 3),
            'enqueue_jobs_per_s': round(args.burst / enqueue, 1),
            'redis_memory_queued_bytes': queued_memory,
            'bytes_per_queued_job': round(queued_memory / args.burst, 1),
            'drain_s_two_workers': round(drain, 2),
            'drain_jobs_per_s': round(args.burst / drain, 1),
        }
        print('burst:', result['burst'], flush=True)
    server.flushdb()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))

    figure = Figure(figsize=(9, 3.2), layout='constrained')
    left, middle, right = figure.subplots(1, 3)
    o = result['overhead_ms']
    left.bar(['direct', 'queued'], [o['detect_direct'], o['detect_queued']])
    left.set_title(f'small detection job (ms)\noverhead {o["detect_overhead"]} ms')
    t = result['throughput_jobs_per_s']
    middle.bar(['1 worker', '2 workers'], [t['one_worker'], t['two_workers']])
    middle.set_title(f'throughput (jobs/s)\nratio {t["ratio"]}×')
    b = result['burst']
    right.bar(['enqueue', 'drain'], [b['enqueue_s'], b['drain_s_two_workers']])
    right.set_title(f'{b["jobs"]} no-op jobs (s)')
    png = Path('docs/assets/queue_benchmark.png')
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    print(f'wrote {args.out} and {png}')


if __name__ == '__main__':
    main()
