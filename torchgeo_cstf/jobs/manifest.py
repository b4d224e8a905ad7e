"""The result of a job: a small JSON manifest (never image bytes).

Every task ends with a :class:`Manifest`, stored (as JSON) as its Celery result
and, for a finished job, as ``manifest.json`` in the job's output directory::

    {"job_id": "cstf-detect-…", "kind": "detect", "status": "succeeded",
     "outputs": {"detections": "/data/out/cstf-detect-…/detections.gpkg", …},
     "summary": {"objects": 42, …}, "error": null, "worker": "w1@host",
     "times": {"published": …, "started": …, "finished": …}}

A failed job has ``status`` ``failed`` (or ``cancelled``) and ``error``
``{"code": "NO_CRS", "message": "…"}``: errors are data, the worker goes on.
A chunk of a large scene reports the same way: its part file is its output
``part`` and its ``summary`` holds the chunk's index and the record the merge
needs.
"""

from __future__ import annotations

import socket
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

Status = Literal['succeeded', 'failed', 'cancelled']
Kind = Literal['detect', 'match', 'pipeline']


class JobFailure(BaseModel):
    """Why a job failed: a stable code (see ``errors.py``) and a message for people."""

    model_config = ConfigDict(extra='forbid', frozen=True)

    code: str
    message: str


class JobTimes(BaseModel):
    """When the task's message was published, and when the task started and finished.

    Seconds since the epoch; ``published`` is ``None`` for a message sent
    without the publish-time header.
    """

    model_config = ConfigDict(extra='forbid', frozen=True)

    published: float | None = None
    started: float
    finished: float


class Manifest(BaseModel):
    """A job's (or a chunk's) result.

    Attributes:
        job_id: the job's id.
        kind: ``detect``, ``match`` or ``pipeline`` (the spec's
            ``result_kind``: a pipeline's detection stage reports ``pipeline``).
        status: ``succeeded``, ``failed`` or ``cancelled``.
        outputs: output files by role (absolute paths).
        summary: small figures (counts, RMSE, seconds).
        error: the failure, when ``status`` is not ``succeeded``.
        worker: the worker (Celery node name, or the host name) that made it.
        times: publish, start and finish times.
    """

    model_config = ConfigDict(extra='forbid', frozen=True)

    job_id: str
    kind: Kind
    status: Status
    outputs: dict[str, str] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    error: JobFailure | None = None
    worker: str = Field(default_factory=socket.gethostname)
    times: JobTimes | None = None

    @classmethod
    def succeeded(
        cls,
        job_id: str,
        kind: Kind,
        *,
        outputs: dict[str, str] | None = None,
        summary: dict[str, Any] | None = None,
    ) -> Self:
        """The manifest of a job that succeeded."""
        return cls(
            job_id=job_id,
            kind=kind,
            status='succeeded',
            outputs=outputs or {},
            summary=summary or {},
        )

    @classmethod
    def failed(
        cls,
        job_id: str,
        kind: Kind,
        code: str,
        message: str,
        *,
        cancelled: bool = False,
        outputs: dict[str, str] | None = None,
        summary: dict[str, Any] | None = None,
    ) -> Self:
        """The manifest of a job that failed with a typed error ``code``.

        ``outputs`` and ``summary`` are what it wrote before failing that
        explains the failure (e.g. the tie points of a co-registration that
        found no consistent transform).
        """
        return cls(
            job_id=job_id,
            kind=kind,
            status='cancelled' if cancelled else 'failed',
            error=JobFailure(code=code, message=message),
            outputs=outputs or {},
            summary=summary or {},
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form (what Celery stores and ``manifest.json`` holds)."""
        return self.model_dump(mode='json')
