"""Submit jobs from Python: one function per kind of job, and a handle by id."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .client import JobClient, JobHandle
from .spec import DetectionJob, DetectionParameters, MatchingJob, PipelineJob, build

Path = str | os.PathLike[str]


Parameters = DetectionParameters | Mapping[str, Any] | None


def _client(client: JobClient | None) -> JobClient:
    return client or JobClient()


def _parameters(
    parameters: Parameters, fields: Mapping[str, Any]
) -> DetectionParameters:
    """Detection parameters from a model or mapping, updated by keyword fields."""
    given = (
        parameters.model_dump()
        if isinstance(parameters, DetectionParameters)
        else dict(parameters or {})
    )
    return build(DetectionParameters, **{**given, **fields})


def submit_detection(
    scene: Path,
    *,
    output_dir: Path,
    reference: Path | None = None,
    client: JobClient | None = None,
    force: bool = False,
    parameters: Parameters = None,
    **fields: Any,
) -> JobHandle:
    """Queue a detection job for one scene.

    Args:
        scene: the scene (GeoTIFF).
        output_dir: the job writes into ``output_dir/<job id>/``.
        reference: an earlier acquisition on the same grid (temporal fusion).
        client: the client (default one configured from the environment).
        force: queue again even if the same job was submitted before.
        parameters: the detection parameters (a :class:`DetectionParameters`
            or a mapping of its fields), as :func:`submit_pipeline` takes them.
        **fields: fields of :class:`DetectionParameters` (``detector``,
            ``tile``, ``overlap``, ``score_threshold``, ``crs``, ...); they
            override ``parameters``.

    Returns:
        The job's handle.
    """
    job = build(
        DetectionJob,
        scene=os.fspath(scene),
        reference=None if reference is None else os.fspath(reference),
        output_dir=os.fspath(output_dir),
        parameters=_parameters(parameters, fields),
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
        **options: ``matcher``, ``method``, ``window``, ``windows``,
            ``transform``.

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
    parameters: Parameters = None,
    **options: Any,
) -> JobHandle:
    """Queue co-registration of a new acquisition, then detection with temporal fusion.

    Args:
        reference: the earlier acquisition (the target grid).
        query: the new acquisition.
        output_dir: the job writes into ``output_dir/<job id>/``.
        client: the client (default one configured from the environment).
        force: queue again even if the same job was submitted before.
        parameters: the detection parameters (a :class:`DetectionParameters`
            or a mapping of its fields), as :func:`submit_detection` takes them.
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
        parameters=_parameters(parameters, {}),
        **options,
    )
    return _client(client).submit(job, force=force)


def get_job(identifier: str, client: JobClient | None = None) -> JobHandle:
    """The handle of a job by id (to follow, wait for or cancel it)."""
    return _client(client).job(identifier)
