"""Metrics, probes and queue depth, against real worker processes and a real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from torchgeo_cstf.jobs import submit_detection
from torchgeo_cstf.jobs.depth import (
    PRIORITY_SEPARATOR,
    UNACKED_KEY,
    QueueDepthCollector,
    queue_depths,
)
from torchgeo_cstf.jobs.stamp import PUBLISHED_HEADER

from .conftest import Worker, free_port, job_client, write_scene

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Samples of a metrics page by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10) as r:
        return parse(r.read().decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def probe(env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, '-m', 'workers.probe', *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.redis
@pytest.mark.slow
def test_worker_metrics_heartbeat_and_probes(
    redis_url: str, roots: Path, tmp_path: Path, start_worker: Callable[..., Worker]
) -> None:
    port = free_port()
    heartbeat = tmp_path / 'heartbeat'
    env, client = job_client(
        redis_url,
        roots,
        CSTF_HEARTBEAT_FILE=str(heartbeat),
        CSTF_HEARTBEAT_INTERVAL='1',
    )
    scenes = [write_scene(roots / f'scene-{i}.tif', seed=i) for i in range(2)]
    worker = start_worker(
        'm1', env, 'matching,detection,light', '--metrics-port', str(port)
    )
    assert heartbeat.read_text().strip() == 'ready'
    assert probe(env).returncode == 0
    assert probe(env, '--ready').returncode == 0
    idle = scrape(port)
    assert (
        value(idle, 'cstf_jobs_total', task='detect', status='succeeded', code='') == 0
    )
    info = [k for k in idle if k[0] == 'cstf_worker_info']
    assert dict(info[0][1])['queues'] == 'detection,light,matching'

    handles = [
        submit_detection(
            scene, output_dir=roots / 'out', client=client, tile=128, overlap=32
        )
        for scene in scenes
    ]
    bad = client.app.send_task('cstf.detect', args=[{'kind': 'detect', 'scene': 7}])
    manifests = [handle.wait(timeout=120) for handle in handles]
    rejected = bad.get(timeout=60)
    assert [m['status'] for m in manifests] == ['succeeded', 'succeeded']
    assert rejected['error']['code'] == 'BAD_JOB_SPEC'

    samples = scrape(port)
    ok = value(samples, 'cstf_jobs_total', task='detect', status='succeeded', code='')
    failed = value(
        samples, 'cstf_jobs_total', task='detect', status='failed', code='BAD_JOB_SPEC'
    )
    assert (ok, failed) == (2, 1)
    assert value(samples, 'cstf_job_duration_seconds_count', task='detect') == 3
    assert value(samples, 'cstf_job_queue_wait_seconds_count', queue='detection') == 3
    assert value(samples, 'cstf_jobs_running', task='detect') == 0
    tiles = sum(
        m['summary']['tiles'] - m['summary']['skipped_tiles'] for m in manifests
    )
    assert tiles == 18  # 256² scenes in 128² tiles with 32 px overlap: 3 × 3
    assert value(samples, 'cstf_tiles_processed_total') == tiles
    loads = value(
        samples,
        'cstf_model_load_seconds_count',
        kind='detector',
        model='cstf_detector_regnetx_002',
    )
    assert loads == 1  # loaded once, kept for the next jobs
    # the manifests' times agree with the histogram of waits
    waits = [
        m['times']['started'] - m['times']['published'] for m in [*manifests, rejected]
    ]
    assert all(wait >= 0 for wait in waits)
    measured = value(samples, 'cstf_job_queue_wait_seconds_sum', queue='detection')
    assert measured == pytest.approx(sum(waits), abs=0.1)
    for m in manifests:
        assert (
            m['times']['published'] <= m['times']['started'] <= m['times']['finished']
        )

    # warm shutdown: no longer ready; the heartbeat ages
    worker.stop()
    assert heartbeat.read_text().strip() == 'stopping'
    not_ready = probe(env, '--ready')
    assert not_ready.returncode == 1
    assert 'stopping' in not_ready.stderr
    time.sleep(2.2)
    stale = probe(env, '--max-age', '2')
    assert stale.returncode == 1 and 'last heartbeat' in stale.stderr


@pytest.mark.redis
@pytest.mark.slow
def test_queue_depth_counts_the_jobs_workers_hold(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    """The list length alone misses running jobs: the reserved count has them."""
    env, client = job_client(redis_url, roots)
    scenes = [write_scene(roots / f'scene-{i}.tif', seed=i, size=384) for i in range(3)]
    start_worker('d1', env, 'detection')
    broker = client.settings.broker_redis()
    handles = [
        submit_detection(
            scene, output_dir=roots / 'out', client=client, tile=128, overlap=32
        )
        for scene in scenes
    ]
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
        h.state == 'succeeded' for h in handles
    ):
        (depth,) = queue_depths(broker, ['detection'])
        seen.add((depth.waiting, depth.reserved))
        time.sleep(0.02)
    assert all(h.state == 'succeeded' for h in handles)
    # one running, two waiting: a list-length scaler would see 2, not 3
    assert (2, 1) in seen
    # the last one running on an empty list: a list-length scaler sees 0
    assert (0, 1) in seen
    assert all(reserved <= 1 for _, reserved in seen)  # prefetch of one
    # a late ack follows the stored result: the last job leaves ``unacked``
    # a moment after its handle reads succeeded
    deadline = time.monotonic() + 10
    (done,) = queue_depths(broker, ['detection'])
    while done.reserved and time.monotonic() < deadline:
        time.sleep(0.05)
        (done,) = queue_depths(broker, ['detection'])
    assert (done.waiting, done.reserved, done.depth) == (0, 0, 0)


def _message(published: float | None) -> bytes:
    headers = {} if published is None else {PUBLISHED_HEADER: published}
    return json.dumps({'body': '', 'headers': headers, 'properties': {}}).encode()


@pytest.mark.redis
def test_queue_depths_read_lists_priorities_and_unacked(redis_url: str) -> None:
    broker = redis.Redis.from_url(redis_url)
    now = 1_000_000.0
    # kombu pushes left, pops right: the right end is the oldest
    broker.lpush('detection', _message(now - 90), _message(now - 30))
    broker.lpush(f'detection{PRIORITY_SEPARATOR}6', _message(now - 5))
    broker.lpush('matching', _message(None))
    unacked = {
        'tag-1': json.dumps([{'headers': {}}, '', 'detection']),
        'tag-2': json.dumps([{'headers': {}}, '', 'light']),
        'tag-3': json.dumps([{'headers': {}}, '', 'detection']),
        'broken': 'not json',
    }
    broker.hset(UNACKED_KEY, mapping=unacked)
    depths = {d.queue: d for d in queue_depths(broker, now=now)}
    assert (depths['detection'].waiting, depths['detection'].reserved) == (3, 2)
    assert depths['detection'].depth == 5
    assert depths['detection'].oldest_age == pytest.approx(90)
    assert (depths['matching'].waiting, depths['matching'].oldest_age) == (1, None)
    assert (depths['light'].waiting, depths['light'].reserved) == (0, 1)


@pytest.mark.redis
def test_queue_metrics_command_serves_the_depths(redis_url: str, roots: Path) -> None:
    env, _ = job_client(redis_url, roots)
    broker = redis.Redis.from_url(redis_url)
    broker.lpush('light', _message(time.time() - 12))
    broker.hset(UNACKED_KEY, 'tag', json.dumps([{}, '', 'light']))
    once = subprocess.run(
        [sys.executable, '-m', 'torchgeo_cstf.cli', 'queue-metrics', '--once'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    samples = parse(once.stdout)
    assert value(samples, 'cstf_queue_depth', queue='light') == 2
    assert value(samples, 'cstf_queue_oldest_age_seconds', queue='light') >= 12
    assert value(samples, 'cstf_redis_up') == 1

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, '-m', 'torchgeo_cstf.cli', 'queue-metrics', '--port', str(port),
         '--address', '127.0.0.1'],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f':{port}/metrics' in banner and 'redis://127.0.0.1' in banner
        broker.lpush('detection', _message(time.time()))
        served = scrape(port)
        assert value(served, 'cstf_queue_waiting', queue='detection') == 1
        assert value(served, 'cstf_queue_reserved', queue='light') == 1
    finally:
        server.terminate()
        server.wait(10)


def test_an_unreachable_broker_is_reported_not_read_as_empty() -> None:
    registry_text = parse_collector(
        QueueDepthCollector(redis.Redis(port=free_port(), socket_timeout=1))
    )
    assert value(registry_text, 'cstf_redis_up') == 0
    assert not any(name.startswith('cstf_queue_') for name, _ in registry_text)


def parse_collector(collector: QueueDepthCollector) -> Samples:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(collector)
    return parse(generate_latest(registry).decode())
