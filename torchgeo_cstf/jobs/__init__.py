"""Submit matching and detection jobs to the Celery workers, and follow them.

This client imports neither torch nor GDAL. Jobs are small JSON specs with
paths; workers (the ``workers`` package, started with ``cstf worker``) run
them and return a manifest of outputs.

Example::

    from torchgeo_cstf.jobs import submit_pipeline

    job = submit_pipeline('/data/ref.tif', '/data/new.tif', output_dir='/data/out')
    print(job.state, job.progress)
    manifest = job.wait(timeout=600)
"""

from __future__ import annotations

import os
from typing import Any

from .client import FINAL_STATES, JobClient, JobHandle, JobState
from .manifest import failure, manifest
from .settings import GPU_QUEUES, QUEUES, ROUTES, JobSettings, WorkerSettings
from .spec import (
    DetectionJob,
    DetectionParameters,
    MatchingJob,
    PipelineJob,
    build,
    check_paths,
    job_id,
    parse_job,
)

__all__ = (
    'FINAL_STATES',
    'GPU_QUEUES',
    'QUEUES',
    'ROUTES',
    'DetectionJob',
    'DetectionParameters',
    'JobClient',
    'JobHandle',
    'JobSettings',
    'JobState',
    'MatchingJob',
    'PipelineJob',
    'WorkerSettings',
    'build',
    'check_paths',
    'failure',
    'get_job',
    'job_id',
    'manifest',
    'parse_job',
    'submit_detection',
    'submit_matching',
    'submit_pipeline',
)

Path = str | os.PathLike[str]


def _client(client: JobClient | None) -> JobClient:
    return client or JobClient()


def submit_detection(
    scene: Path,
    *,
    output_dir: Path,
    reference: Path | None = None,
    client: JobClient | None = None,
    force: bool = False,
    **parameters: Any,
) -> JobHandle:
    """Queue a detection job for one scene.

    Args:
        scene: the scene (GeoTIFF).
        output_dir: the job writes into ``output_dir/<job id>/``.
        reference: an earlier acquisition on the same grid (temporal fusion).
        client: the client (default one configured from the environment).
        force: queue again even if the same job was submitted before.
        **parameters: fields of :class:`DetectionParameters` (``detector``,
            ``tile``, ``overlap``, ``score_threshold``, ``crs``, ...).

    Returns:
        The job's handle.
    """
    job = build(
        DetectionJob,
        scene=os.fspath(scene),
        reference=None if reference is None else os.fspath(reference),
        output_dir=os.fspath(output_dir),
        parameters=build(DetectionParameters, **parameters),
    )
    return _client(client).submit(job, force=force)


def submit_matching(
    reference: Path,
    query: Path,
    *,
    output_dir: Path,
    client: JobClient | None = None,
    force: bool = False,
    **options: Any,
) -> JobHandle:
    """Queue a co-registration of ``query`` onto ``reference``.

    Args:
        reference: the reference raster (the target grid).
        query: the raster to align.
        output_dir: the job writes into ``output_dir/<job id>/``.
        client: the client (default one configured from the environment).
        force: queue again even if the same job was submitted before.
        **options: ``matcher``, ``window``, ``windows``, ``transform``.

    Returns:
        The job's handle.
    """
    job = build(
        MatchingJob,
        reference=os.fspath(reference),
        query=os.fspath(query),
        output_dir=os.fspath(output_dir),
        **options,
    )
    return _client(client).submit(job, force=force)


def submit_pipeline(
    reference: Path,
    query: Path,
    *,
    output_dir: Path,
    client: JobClient | None = None,
    force: bool = False,
    parameters: dict[str, Any] | None = None,
    **options: Any,
) -> JobHandle:
    """Queue co-registration of a new acquisition, then detection with temporal fusion.

    Args:
        reference: the earlier acquisition (the target grid).
        query: the new acquisition.
        output_dir: the job writes into ``output_dir/<job id>/``.
        client: the client (default one configured from the environment).
        force: queue again even if the same job was submitted before.
        parameters: fields of :class:`DetectionParameters`.
        **options: matching options (``matcher``, ``window``, ``windows``,
            ``transform``).

    Returns:
        The job's handle.
    """
    job = build(
        PipelineJob,
        reference=os.fspath(reference),
        query=os.fspath(query),
        output_dir=os.fspath(output_dir),
        parameters=build(DetectionParameters, **(parameters or {})),
        **options,
    )
    return _client(client).submit(job, force=force)


def get_job(identifier: str, client: JobClient | None = None) -> JobHandle:
    """The handle of a job by id (to follow, wait for or cancel it)."""
    return _client(client).job(identifier)
