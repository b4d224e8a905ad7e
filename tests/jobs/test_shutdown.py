"""Scale-in without losing a job: warm shutdown finishes it, soft shutdown requeues it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from torchgeo_cstf.jobs import JobHandle, submit_detection
from torchgeo_cstf.jobs.depth import queue_depths

from .conftest import Worker, job_client, write_scene

#: one task for the whole scene, long enough to be stopped half-way
LONG = {'CSTF_CHUNK_TILES': '100000'}


def _running(handle: JobHandle, timeout: float = 90) -> None:
    """Wait until the job has processed some tiles (its model is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = handle.progress
        if progress is not None and 0 < progress < 100:
            return
        time.sleep(0.05)
    raise AssertionError(f'{handle.id} did not start: {handle.state}')


def _exit_code(worker: Worker, timeout: float) -> int:
    try:
        return worker.process.wait(timeout)
    except Exception as err:  # pragma: no cover - the assertion says why
        raise AssertionError(f'worker still running:\n{worker.text()}') from err


@pytest.mark.redis
@pytest.mark.slow
def test_sigterm_lets_the_running_job_finish_and_takes_no_other(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    env, client = job_client(redis_url, roots, **LONG)
    big = write_scene(roots / 'big.tif', seed=3, size=1536, objects=20)
    small = write_scene(roots / 'small.tif', seed=4)
    worker = start_worker('drained', env, 'detection')
    running = submit_detection(
        big, output_dir=roots / 'out', client=client, tile=128, overlap=16
    )
    waiting = submit_detection(small, output_dir=roots / 'out', client=client)
    _running(running)
    os.kill(worker.process.pid, signal.SIGTERM)  # what tini forwards on scale-in
    assert _exit_code(worker, 120) == 0
    assert running.wait(5)['status'] == 'succeeded'
    # the queued job stayed in Redis for the next worker
    (depth,) = queue_depths(client.settings.broker_redis(), ['detection'])
    assert (depth.waiting, depth.reserved) == (1, 0)
    assert waiting.state == 'queued'


@pytest.mark.redis
@pytest.mark.slow
def test_soft_shutdown_requeues_the_running_job_at_once(
    redis_url: str, roots: Path, start_worker: Callable[..., Worker]
) -> None:
    """Short notice (spot nodes): REMAP_SIGTERM=SIGQUIT + CSTF_SOFT_SHUTDOWN_TIMEOUT."""
    env, client = job_client(
        redis_url,
        roots,
        CSTF_SOFT_SHUTDOWN_TIMEOUT='1',
        REMAP_SIGTERM='SIGQUIT',
        **LONG,
    )
    big = write_scene(roots / 'big.tif', seed=3, size=1536, objects=20)
    first = start_worker('preempted', env, 'detection')
    job = submit_detection(
        big, output_dir=roots / 'out', client=client, tile=128, overlap=16
    )
    _running(job)
    stopped = time.monotonic()
    os.kill(first.process.pid, signal.SIGTERM)
    _exit_code(first, 60)
    # back in the queue well before the visibility timeout (61 s here)
    broker = client.settings.broker_redis()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (depth,) = queue_depths(broker, ['detection'])
        if (depth.waiting, depth.reserved) == (1, 0):
            break
        time.sleep(0.1)
    assert (depth.waiting, depth.reserved) == (1, 0), depth
    assert time.monotonic() - stopped < 30
    start_worker('replacement', env, 'detection')
    manifest = job.wait(120)
    assert manifest['status'] == 'succeeded'
    assert manifest['worker'].startswith('replacement@')
