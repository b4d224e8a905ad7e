"""Submit jobs to the workers and follow them (no torch, no GDAL: starts fast)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import cached_property
from typing import Any, Literal, cast

from celery import Celery
from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from ..errors import BrokerUnavailableError
from .settings import JobSettings, redact
from .spec import DetectionJob, MatchingJob, PipelineJob, absolute, check_paths, job_id
from .stamp import stamp_published_messages
from .state import (
    forget_submission,
    is_cancelled,
    is_submitted,
    mark_submitted,
    request_cancel,
)

JobState = Literal[
    'queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled', 'unknown'
]
#: states after which nothing changes
FINAL_STATES = ('succeeded', 'failed', 'cancelled')


@contextlib.contextmanager
def reachable(settings: JobSettings) -> Iterator[None]:
    """Turn connection failures into :class:`BrokerUnavailableError`."""
    try:
        yield
    except (RedisConnectionError, OperationalError) as err:
        raise BrokerUnavailableError(
            f'cannot reach Redis at {redact(settings.result_backend)}: {err}; is '
            'redis-server running and CSTF_BROKER_URL/CSTF_RESULT_BACKEND right?'
        ) from None


class JobClient:
    """Sends jobs to the queues and reads their state; one per configuration.

    Args:
        settings: broker, backend and allowed roots (default from the
            environment, see :class:`JobSettings`).
    """

    def __init__(self, settings: JobSettings | None = None) -> None:
        """Keep the settings; the connection opens on first use."""
        self.settings = settings or JobSettings.from_env()

    @cached_property
    def app(self) -> Celery:
        """The client's Celery application (same configuration as the workers)."""
        app = Celery('cstf-client', set_as_current=False)
        app.conf.update(self.settings.celery_config())
        stamp_published_messages()
        return app

    @property
    def redis(self) -> Any:
        """The Redis client of the result backend (job markers live there)."""
        return cast(Any, self.app.backend).client

    def submit(
        self, job: DetectionJob | MatchingJob | PipelineJob, *, force: bool = False
    ) -> JobHandle:
        """Check a job and queue it, once.

        A job already submitted (same id: same inputs, parameters and model)
        is not queued again: its handle is returned with ``submitted`` False.

        Args:
            job: the job.
            force: queue it again even if it was submitted before (for
                example after a transient failure).

        Returns:
            The job's handle.

        Raises:
            PathNotAllowedError: a path outside the allowed roots.
            InputNotFoundError: a missing input.
        """
        job = absolute(job)
        check_paths(
            job, self.settings.allowed_roots, self.settings.allowed_url_prefixes
        )
        identifier = job_id(job)
        spec = job.model_dump(mode='json')
        with reachable(self.settings):
            if force:
                forget_submission(self.redis, identifier)
                self.app.backend.forget(identifier)
            fresh = mark_submitted(
                self.redis, identifier, spec, self.settings.result_expires
            )
            if fresh:
                self.send(identifier, spec)
        return JobHandle(identifier, self, submitted=fresh)

    def send(self, identifier: str, spec: dict[str, Any]) -> None:
        """Put a job's message on its queue (its task: ``cstf.<kind>``)."""
        self.app.send_task(f'cstf.{spec["kind"]}', args=[spec], task_id=identifier)

    def job(self, identifier: str) -> JobHandle:
        """The handle of a job by id."""
        return JobHandle(identifier, self, submitted=False)


class JobHandle:
    """A submitted job: its state, progress and result manifest.

    Args:
        job_id: the job's id.
        client: the client that talks to Redis.
        submitted: whether this call queued it (False: it was queued before).
    """

    def __init__(self, job_id: str, client: JobClient, *, submitted: bool) -> None:
        """Keep the id; see the class docstring."""
        self.id = job_id
        self.client = client
        self.submitted = submitted

    def __repr__(self) -> str:
        """``JobHandle(<id>, <state>)``."""
        return f'JobHandle({self.id!r}, {self.state!r})'

    @property
    def _result(self) -> AsyncResult[Any]:
        return AsyncResult(self.id, app=self.client.app)

    @property
    def state(self) -> JobState:
        """``queued``, ``running``, ``succeeded``, ``failed``, ``cancelling``,
        ``cancelled`` or ``unknown`` (never submitted, or expired).
        """  # noqa: D205
        with reachable(self.client.settings):
            return self._state()

    def _state(self) -> JobState:
        """``queued``, ``running``, ``succeeded``, ``failed``, ``cancelling``,
        ``cancelled`` or ``unknown`` (never submitted, or expired).
        """  # noqa: D205
        result = self._result
        celery_state = str(result.state)
        if celery_state == 'SUCCESS':
            status: JobState = cast(Any, result.result)['status']
            return status
        if celery_state in ('FAILURE', 'REVOKED'):
            return 'failed'
        if is_cancelled(self.client.redis, self.id):
            return 'cancelling'
        if celery_state in ('STARTED', 'PROGRESS'):
            return 'running'
        if celery_state == 'RETRY' or is_submitted(self.client.redis, self.id):
            return 'queued'
        return 'unknown'

    @property
    def progress(self) -> float | None:
        """Per cent of tiles done (detection) or of stages done; None if unknown."""
        result = self._result
        celery_state = str(result.state)
        if celery_state == 'SUCCESS':
            return 100.0
        meta = result.info if celery_state == 'PROGRESS' else None
        if not isinstance(meta, dict) or not meta.get('total'):
            return None
        return 100.0 * float(meta['done']) / float(meta['total'])

    @property
    def info(self) -> dict[str, Any]:
        """The latest progress metadata (``stage``, ``done``, ``total``), if any."""
        result = self._result
        meta = result.info if str(result.state) == 'PROGRESS' else None
        return dict(meta) if isinstance(meta, dict) else {}

    @property
    def manifest(self) -> dict[str, Any] | None:
        """The result manifest once the job has ended (see :mod:`.manifest`)."""
        result = self._result
        celery_state = str(result.state)
        if celery_state == 'SUCCESS':
            value: dict[str, Any] = cast(Any, result.result)
            return value
        if celery_state == 'FAILURE':
            return {
                'job_id': self.id,
                'status': 'failed',
                'outputs': {},
                'summary': {},
                'error': {'code': 'INTERNAL_ERROR', 'message': str(result.result)},
            }
        return None

    def wait(self, timeout: float | None = None, poll: float = 0.25) -> dict[str, Any]:
        """Wait for the job to end and return its manifest.

        Args:
            timeout: seconds to wait at most (default forever).
            poll: seconds between checks.

        Returns:
            The manifest (check its ``status``).

        Raises:
            TimeoutError: the job has not ended within ``timeout``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with reachable(self.client.settings):
                found = self.manifest
            if found is not None:
                return found
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f'{self.id}: still {self.state} after {timeout:g} s')
            time.sleep(poll)

    def cancel(self) -> None:
        """Ask the workers to stop the job.

        A queued job ends ``cancelled`` as soon as a worker takes it; a
        running one at its next check (between batches of tiles, between
        stages). A job that has ended is left as it is.
        """
        if self.state in FINAL_STATES:
            return
        with reachable(self.client.settings):
            request_cancel(
                self.client.redis, self.id, self.client.settings.result_expires
            )
