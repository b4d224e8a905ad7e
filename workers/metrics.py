"""Prometheus metrics of a worker, served by its main process for all pool processes.

Jobs run in prefork children; each child writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and the
main process serves their sum on ``CSTF_METRICS_PORT``. The directory must be
known before ``prometheus_client`` is imported anywhere in the worker, which
Celery's plugins (Flower's) do before our app is loaded: ``cstf worker`` sets
it (a fresh directory, or empties the one given) before it starts Celery. A
worker started with ``celery -A workers.app worker`` and no such directory
serves its main process's samples only (right for ``--pool solo``; it warns
otherwise).

Metrics (``task`` is the Celery task's short name: ``match``, ``detect``,
``detect_chunk``, ``merge_chunks``, ``pipeline``, ``ping``):

- ``cstf_jobs_total{task,status,code}``: jobs that ended (``status``
  succeeded / failed / cancelled; ``code`` the error code, empty on success);
- ``cstf_job_retries_total{task}``: retries after a transient error;
- ``cstf_job_duration_seconds{task}``: run time, histogram;
- ``cstf_job_queue_wait_seconds{queue}``: publish to start, histogram;
- ``cstf_jobs_running{task}``: jobs running now;
- ``cstf_tiles_processed_total``: tiles run through the detector (``rate()`` =
  tiles/s; tiles without valid pixels are skipped, not counted);
- ``cstf_model_load_seconds{kind,model}``: model loads, histogram;
- ``cstf_gpu_memory_bytes{device,type}``: CUDA memory after each job
  (``allocated``, ``reserved``, ``peak``), when the process uses CUDA;
- ``cstf_worker_info{version,queues,device,pool}``: 1 per worker.

The depth of the queues is not a worker metric: a queue with no worker must
still be measured (scale from zero), so ``cstf queue-metrics`` exports it.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

#: where the pool processes write their samples (set by ``cstf worker``)
MULTIPROC_ENV = 'PROMETHEUS_MULTIPROC_DIR'

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

#: buckets of job durations and queue waits: 10 ms to 2 h
SECONDS = (
    *(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    *(120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0),
)

JOBS = Counter(
    'cstf_jobs',
    'Jobs that ended, by task, status and error code',
    ['task', 'status', 'code'],
)
RETRIES = Counter('cstf_job_retries', 'Retries after a transient error', ['task'])
DURATION = Histogram(
    'cstf_job_duration_seconds', 'Run time of a job', ['task'], buckets=SECONDS
)
QUEUE_WAIT = Histogram(
    'cstf_job_queue_wait_seconds',
    'Seconds from publishing a job to its start on a worker',
    ['queue'],
    buckets=SECONDS,
)
RUNNING = Gauge(
    'cstf_jobs_running', 'Jobs running now', ['task'], multiprocess_mode='livesum'
)
TILES = Counter('cstf_tiles_processed', 'Detection tiles run through the model')
MODEL_LOAD = Histogram(
    'cstf_model_load_seconds',
    'Seconds to load a model into a worker process',
    ['kind', 'model'],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
GPU_MEMORY = Gauge(
    'cstf_gpu_memory_bytes',
    'CUDA memory of a worker process after its last job',
    ['device', 'type'],
    multiprocess_mode='livemax',
)
WORKER_INFO = Gauge(
    'cstf_worker_info',
    'A worker: its version, queues, device and pool',
    ['version', 'queues', 'device', 'pool'],
    multiprocess_mode='livemax',
)

#: every metric a worker exports, by name (counters with ``_total``) → type;
#: the alert rules and scaling queries are checked against it (tests/deploy)
EXPORTED: dict[str, str] = {
    family.name + ('_total' if family.type == 'counter' else ''): family.type
    for metric in (
        JOBS,
        RETRIES,
        DURATION,
        QUEUE_WAIT,
        RUNNING,
        TILES,
        MODEL_LOAD,
        GPU_MEMORY,
        WORKER_INFO,
    )
    for family in metric.describe()
}


def short_name(task_name: str) -> str:
    """``cstf.detect_chunk`` → ``detect_chunk``."""
    return task_name.rpartition('.')[2]


def record_outcome(task: str, result: Any) -> None:
    """Count a job that ended, from its manifest (``status`` and ``error.code``)."""
    if not isinstance(result, dict) or 'status' not in result:
        return
    error = result.get('error')
    code = str(error.get('code', '')) if isinstance(error, dict) else ''
    JOBS.labels(task, str(result['status']), code).inc()


def record_gpu_memory() -> None:
    """Sample CUDA memory, when this process has initialised CUDA (never imports torch)."""
    torch = sys.modules.get('torch')
    if torch is None or not torch.cuda.is_initialized():
        return
    for index in range(torch.cuda.device_count()):
        device = f'cuda:{index}'
        GPU_MEMORY.labels(device, 'allocated').set(torch.cuda.memory_allocated(index))
        GPU_MEMORY.labels(device, 'reserved').set(torch.cuda.memory_reserved(index))
        GPU_MEMORY.labels(device, 'peak').set(torch.cuda.max_memory_allocated(index))


class Timer:
    """The start of each running job in this process, by task id."""

    def __init__(self) -> None:
        """No job running."""
        self.started: dict[str, tuple[str, float]] = {}

    def start(self, task_id: str, task: str) -> None:
        """A job starts."""
        self.started[task_id] = (task, time.monotonic())
        RUNNING.labels(task).inc()

    def stop(self, task_id: str) -> float | None:
        """A job ends: its run time (``None`` if its start was not seen)."""
        entry = self.started.pop(task_id, None)
        if entry is None:
            return None
        task, began = entry
        RUNNING.labels(task).dec()
        seconds = time.monotonic() - began
        DURATION.labels(task).observe(seconds)
        return seconds


def multiprocess_dir() -> Path | None:
    """The samples directory of the pool processes (``None``: one process)."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def serve(port: int) -> None:
    """Serve the metrics on ``port`` from this (the main) process, in a thread.

    With ``PROMETHEUS_MULTIPROC_DIR``, the sum of all pool processes' samples;
    without, this process's own.
    """
    if multiprocess_dir() is None:
        start_http_server(port)
        return
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)


def process_exited(pid: int) -> None:
    """Drop the live gauges of a pool process that ended."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_samples() -> None:
    """Remove a temporary samples directory this module made (at worker exit)."""
    directory = multiprocess_dir()
    if directory is not None and directory.name.startswith('cstf-metrics-'):
        shutil.rmtree(directory, ignore_errors=True)
