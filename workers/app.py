"""The workers' Celery application, configured from the environment.

Start a worker with ``cstf worker`` (which wraps ``celery -A workers.app
worker`` with the right options) or directly::

    celery -A workers.app worker -Q matching,detection,light -c 1 --prefetch-multiplier 1

With ``CSTF_METRICS_PORT`` the main process serves Prometheus metrics of all
its pool processes (:mod:`workers.metrics`); with ``CSTF_HEARTBEAT_FILE`` the
consumer keeps a heartbeat file for probes (:mod:`workers.heartbeat`).
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery, signals
from celery.utils.log import get_logger

from torchgeo_cstf import __version__
from torchgeo_cstf.allocator import keep_freed_memory
from torchgeo_cstf.jobs.settings import JobSettings, WorkerSettings
from torchgeo_cstf.jobs.stamp import published_at, stamp_published_messages

from . import metrics
from .heartbeat import Heartbeat

logger = get_logger(__name__)

#: the settings this worker runs with (``CSTF_*`` environment variables)
settings = JobSettings.from_env()
#: what only the worker process reads (device, metrics port, heartbeat)
worker_settings = WorkerSettings.from_env()

app = Celery('cstf', include=['workers.tasks'])
app.conf.update(settings.celery_config())
app.steps['consumer'].add(Heartbeat)
stamp_published_messages()

_timer = metrics.Timer()


@signals.worker_init.connect(weak=False)
def _keep_freed_memory(**_: Any) -> None:
    """Main process, before the pool forks: its children inherit the setting."""
    keep_freed_memory()


@signals.worker_init.connect(weak=False)
def _serve_metrics(sender: Any = None, **_: Any) -> None:
    """Main process, before the pool starts: the metrics endpoint and worker info."""
    if not worker_settings.metrics_port:
        return
    pool = getattr(sender.pool_cls, '__module__', str(sender.pool_cls))
    pool = pool.rpartition('.')[2]  # celery.concurrency.prefork → prefork
    if metrics.multiprocess_dir() is None and pool != 'solo':
        logger.warning(
            'CSTF_METRICS_PORT without %s: only the main process is measured, '
            'not the jobs of the %s pool; start the worker with `cstf worker`',
            metrics.MULTIPROC_ENV,
            pool,
        )
    metrics.serve(worker_settings.metrics_port)
    queues = ','.join(sorted(sender.app.amqp.queues.consume_from or ()))
    metrics.WORKER_INFO.labels(
        __version__, queues, worker_settings.device or 'auto', pool
    ).set(1)


@signals.worker_shutdown.connect(weak=False)
def _remove_samples(**_: Any) -> None:
    metrics.remove_samples()


@signals.worker_process_shutdown.connect(weak=False)
def _process_down(pid: int | None = None, **_: Any) -> None:
    if pid is not None:
        metrics.process_exited(pid)


@signals.task_prerun.connect(weak=False)
def _job_started(task_id: str = '', task: Any = None, **_: Any) -> None:
    name = metrics.short_name(task.name)
    _timer.start(task_id, name)
    published = published_at(task.request)
    queue = (task.request.delivery_info or {}).get('routing_key')
    if published is not None and queue:
        metrics.QUEUE_WAIT.labels(queue).observe(max(0.0, time.time() - published))


@signals.task_postrun.connect(weak=False)
def _job_ended(
    task_id: str = '', task: Any = None, retval: Any = None, **_: Any
) -> None:
    _timer.stop(task_id)
    metrics.record_outcome(metrics.short_name(task.name), retval)
    metrics.record_gpu_memory()


@signals.task_retry.connect(weak=False)
def _job_retried(sender: Any = None, **_: Any) -> None:
    if sender is not None:
        metrics.RETRIES.labels(metrics.short_name(sender.name)).inc()
