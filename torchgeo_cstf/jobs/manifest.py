"""The result of a job: a small JSON manifest (never image bytes).

Every job ends with a manifest, stored as its Celery result and, on success,
as ``manifest.json`` in the job's output directory::

    {"job_id": "cstf-detect-…", "kind": "detect", "status": "succeeded",
     "outputs": {"detections": "/data/out/cstf-detect-…/detections.gpkg", …},
     "summary": {"objects": 42, …}, "error": null, "worker": "w1@host"}

A failed job has ``status`` ``failed`` (or ``cancelled``) and ``error``
``{"code": "NO_CRS", "message": "…"}``: errors are data, the worker goes on.
"""

from __future__ import annotations

import socket
from typing import Any, Literal

Status = Literal['succeeded', 'failed', 'cancelled']


def manifest(
    job_id: str,
    kind: str,
    status: Status,
    *,
    outputs: dict[str, str] | None = None,
    summary: dict[str, Any] | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A job's result manifest.

    Args:
        job_id: the job's id.
        kind: ``detect``, ``match`` or ``pipeline``.
        status: ``succeeded``, ``failed`` or ``cancelled``.
        outputs: output files by role (absolute paths).
        summary: small figures (counts, RMSE, seconds).
        error: ``{"code", "message"}`` of a failure.

    Returns:
        The manifest (JSON-serialisable).
    """
    return {
        'job_id': job_id,
        'kind': kind,
        'status': status,
        'outputs': outputs or {},
        'summary': summary or {},
        'error': error,
        'worker': socket.gethostname(),
    }


def failure(
    job_id: str, kind: str, code: str, message: str, *, cancelled: bool = False
) -> dict[str, Any]:
    """The manifest of a job that failed with a typed error ``code``."""
    return manifest(
        job_id,
        kind,
        'cancelled' if cancelled else 'failed',
        error={'code': code, 'message': message},
    )
