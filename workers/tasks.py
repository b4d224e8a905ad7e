"""The Celery tasks: parse the job, check it, run it, turn every error into data.

``cstf.match`` and ``cstf.pipeline`` go to the ``matching`` queue,
``cstf.detect`` and its chunks to ``detection``, the chord callback
``cstf.merge_chunks`` and ``cstf.ping`` to ``light``.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Iterator
from typing import Any, cast, get_args

import torch
from celery import Task, chord
from celery.exceptions import Ignore, Reject, Retry, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from torchgeo_cstf.errors import (
    INCOMPLETE_CHUNKS,
    INTERNAL_ERROR,
    IO_ERROR,
    OUT_OF_MEMORY,
    TIME_LIMIT,
    CSTFError,
    JobCancelledError,
)
from torchgeo_cstf.inference import count_tiles
from torchgeo_cstf.jobs import (
    DetectionJob,
    JobTimes,
    Manifest,
    MatchingJob,
    PipelineJob,
    check_paths,
    parse_job,
)
from torchgeo_cstf.jobs.manifest import Kind
from torchgeo_cstf.jobs.spec import input_path
from torchgeo_cstf.jobs.stamp import published_at
from torchgeo_cstf.jobs.state import chunk_task_id, is_cancelled, record_chunk_progress

from . import run
from .app import app, settings
from .outputs import finished

logger = get_task_logger(__name__)

#: errno values worth a retry: the file system or network may recover
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.EBUSY,
        errno.EIO,
        errno.ESTALE,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)

Job = DetectionJob | MatchingJob | PipelineJob


def stopped_by_time_limit(err: BaseException) -> bool:
    """Whether the soft time limit raised ``err`` or the error it wraps.

    The limit interrupts whatever runs: code that catches and wraps errors
    (kombu's decoders raise ``DecodeError`` from it) must not turn a job that
    ran out of time into an internal error.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, SoftTimeLimitExceeded):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _redis() -> Any:
    return app.backend.client  # type: ignore[attr-defined]


#: error codes of exceptions that are not CSTFErrors, by type (first match)
ERROR_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (torch.OutOfMemoryError, OUT_OF_MEMORY.code),  # the device's memory
    (MemoryError, OUT_OF_MEMORY.code),  # the host's
)


def _error_code(err: BaseException) -> str | None:
    return next((code for kind, code in ERROR_CODES if isinstance(err, kind)), None)


def _transient(err: BaseException) -> bool:
    """I/O and connection errors that may pass: worth a retry, not a failure."""
    return isinstance(
        err,
        ConnectionError
        | TimeoutError
        | RedisConnectionError
        | RedisTimeoutError
        | OperationalError,
    ) or (isinstance(err, OSError) and err.errno in TRANSIENT_ERRNOS)


@contextlib.contextmanager
def _advisory(job_id: str) -> Iterator[None]:
    """Progress and cancel checks never fail a job: Redis may be restarting."""
    try:
        yield
    except (RedisError, OperationalError) as err:
        logger.warning('%s: progress not recorded (%s)', job_id, err)


def _publish(
    task: Task[Any, Any], job_id: str, stage: str, done: int, total: int
) -> None:
    """Store progress as the job's state meta; raise once the job is cancelled."""
    cancelled = False
    with _advisory(job_id):
        cancelled = is_cancelled(_redis(), job_id)
        task.update_state(
            task_id=job_id,
            state='PROGRESS',
            meta={'stage': stage, 'done': done, 'total': total},
        )
    if cancelled:
        raise JobCancelledError(f'{job_id}: cancelled')


def _reporter(task: Task[Any, Any], job_id: str) -> run.Report:
    """Progress of a job that runs in one task (see :func:`_publish`)."""

    def report(stage: str, done: int, total: int) -> None:
        _publish(task, job_id, stage, done, total)

    return report


def _guarded(
    task: Task[Any, Any],
    spec: Any,
    job_id: str,
    body: Callable[[Job], Manifest],
    kind_hint: Kind,
    *,
    reuse: bool = True,
) -> dict[str, Any]:
    """Run ``body`` on the parsed, checked job; every failure becomes a manifest.

    With ``reuse``, a job whose outputs a previous delivery already wrote
    returns that delivery's manifest without running again. A new manifest
    names the worker (node name) that made it and its ``times`` (seconds
    since the epoch): ``published`` (when this task's message was sent),
    ``started`` and ``finished``.
    """
    started = time.time()
    given = spec.get('kind') if isinstance(spec, dict) else None
    kind: Kind = cast(Kind, given) if given in get_args(Kind) else kind_hint
    try:
        job = parse_job(spec)
        kind = job.result_kind
        check_paths(job, settings.allowed_roots, settings.allowed_url_prefixes)
        done = finished(run.job_dir(job.output_dir, job_id)) if reuse else None
        if done is not None:
            logger.info('%s: outputs already written; not run again', job_id)
            return done.to_json()
        cancelled = False
        with _advisory(job_id):  # Redis may be restarting: run, check later
            cancelled = is_cancelled(_redis(), job_id)
        if cancelled:
            raise JobCancelledError(f'{job_id}: cancelled before it started')
        result = body(job)
    except JobCancelledError as err:
        result = Manifest.failed(job_id, kind, err.code, str(err), cancelled=True)
    except CSTFError as err:
        logger.info('%s failed: %s %s', job_id, err.code, err)
        result = Manifest.failed(job_id, kind, err.code, str(err))
    except (Ignore, Reject, Retry):  # control flow: replaced, retried, rejected
        raise
    except Exception as err:
        if stopped_by_time_limit(err):
            result = Manifest.failed(
                job_id,
                kind,
                TIME_LIMIT.code,
                f'stopped after the soft time limit of {settings.soft_time_limit} s',
            )
        elif _transient(err) and task.request.retries < settings.max_retries:
            countdown = settings.retry_backoff * 2**task.request.retries
            logger.warning('%s: %s; retry in %d s', job_id, err, countdown)
            raise task.retry(exc=err, countdown=countdown) from err
        elif _transient(err):
            message = f'{err} (after {settings.max_retries} retries)'
            result = Manifest.failed(job_id, kind, IO_ERROR.code, message)
        elif (code := _error_code(err)) is not None:
            result = Manifest.failed(job_id, kind, code, f'{type(err).__name__}: {err}')
        else:
            logger.exception('%s: unexpected error', job_id)
            message = f'{type(err).__name__}: {err}'
            result = Manifest.failed(job_id, kind, INTERNAL_ERROR.code, message)
    published = published_at(task.request)
    times = JobTimes(
        published=None if published is None else round(published, 3),
        started=round(started, 3),
        finished=round(time.time(), 3),
    )
    update: dict[str, Any] = {'times': times}
    if task.request.hostname:
        update['worker'] = str(task.request.hostname)
    return result.model_copy(update=update).to_json()


@app.task(name='cstf.ping')
def ping() -> dict[str, Any]:
    """A no-op job: the queue's round trip (health checks, benchmarks)."""
    return {'status': 'succeeded', 'pong': True}


@app.task(name='cstf.match', bind=True)
def match(self: Task[Any, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Co-register a query onto a reference (a :class:`MatchingJob`)."""
    job_id = str(self.request.id)

    def body(job: Job) -> Manifest:
        assert isinstance(job, MatchingJob)
        return run.coregister_job(job, job_id, _reporter(self, job_id))

    return _guarded(self, spec, job_id, body, 'match')


@app.task(name='cstf.detect', bind=True)
def detect(self: Task[Any, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Detect objects in a scene (a :class:`DetectionJob`).

    Scenes of more than ``CSTF_CHUNK_TILES`` tiles fan out into chunks on the
    ``detection`` queue, merged by ``cstf.merge_chunks``; this task is
    replaced by that chord and its id becomes the callback's.
    """
    job_id = str(self.request.id)

    def body(job: Job) -> Manifest:
        assert isinstance(job, DetectionJob)
        params = job.parameters
        total = count_tiles(input_path(job.scene), params.tiling)
        size = settings.chunk_tiles
        if total <= size:
            return run.detect_scene_job(job, job_id, _reporter(self, job_id))
        chunks = [
            detect_chunk.si(
                spec, job_id, index, start, min(start + size, total), total
            ).set(task_id=chunk_task_id(job_id, index))
            for index, start in enumerate(range(0, total, size))
        ]
        self.update_state(
            state='PROGRESS', meta={'stage': 'detect', 'done': 0, 'total': total}
        )
        logger.info('%s: %d tiles in %d chunks', job_id, total, len(chunks))
        merge = merge_chunks.s(spec, job_id, len(chunks))
        raise self.replace(chord(chunks, merge))

    return _guarded(self, spec, job_id, body, 'detect')


@app.task(name='cstf.detect_chunk', bind=True)
def detect_chunk(
    self: Task[Any, Any],
    spec: dict[str, Any],
    job_id: str,
    chunk: int,
    start: int,
    stop: int,
    total: int,
) -> dict[str, Any]:
    """Detect objects in tiles ``start``–``stop - 1`` of the ``total`` of a scene."""

    def report(stage: str, done: int, _: int) -> None:
        tiles_done = done
        with _advisory(job_id):
            tiles_done = record_chunk_progress(
                _redis(), job_id, chunk, done, total, settings.result_expires
            )
        _publish(self, job_id, stage, tiles_done, total)

    def body(job: Job) -> Manifest:
        assert isinstance(job, DetectionJob)
        return run.detect_chunk_job(job, job_id, chunk, range(start, stop), report)

    return _guarded(self, spec, job_id, body, 'detect', reuse=False)


@app.task(name='cstf.merge_chunks', bind=True)
def merge_chunks(
    self: Task[Any, Any],
    chunks: list[dict[str, Any]],
    spec: dict[str, Any],
    job_id: str,
    expected: int,
) -> dict[str, Any]:
    """Chord callback: merge the chunks' detections into one output.

    Each of the ``expected`` chunks must be present exactly once: a chunk
    delivered twice is counted once, a missing one fails the job with
    ``INCOMPLETE_CHUNKS`` rather than writing a partial result.
    """

    def body(job: Job) -> Manifest:
        assert isinstance(job, DetectionJob)
        kind = job.result_kind
        results = [Manifest.model_validate(chunk) for chunk in chunks]
        failed = [r for r in results if r.status != 'succeeded']
        unique = {int(r.summary['chunk']): r for r in results if r not in failed}
        if not failed and sorted(unique) != list(range(expected)):
            missing = sorted(set(range(expected)) - set(unique))
            run.discard_chunks(job, job_id)
            return Manifest.failed(
                job_id,
                kind,
                INCOMPLETE_CHUNKS.code,
                f'chunks {missing} of {expected} have no result; submit the job '
                'again with force',
            )
        total = sum(int(r.summary.get('tiles', 0)) for r in unique.values())
        self.update_state(
            state='PROGRESS', meta={'stage': 'merge', 'done': total, 'total': total}
        )
        if failed:
            run.discard_chunks(job, job_id)
            first = failed[0]
            assert first.error is not None
            return Manifest.failed(
                job_id,
                kind,
                first.error.code,
                first.error.message,
                cancelled=first.status == 'cancelled',
            )
        return run.write_merged_chunks(job, job_id, list(unique.values()))

    return _guarded(self, spec, job_id, body, 'detect')


@app.task(name='cstf.pipeline', bind=True)
def pipeline(self: Task[Any, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Co-register a new acquisition, then detect with temporal fusion.

    The detection stage replaces this task on the ``detection`` queue, with
    the same id.
    """
    job_id = str(self.request.id)

    def body(job: Job) -> Manifest:
        assert isinstance(job, PipelineJob)
        stage = run.pipeline_first_stage(job, job_id, _reporter(self, job_id))
        raise self.replace(detect.si(stage.model_dump(mode='json')))

    return _guarded(self, spec, job_id, body, 'pipeline')
