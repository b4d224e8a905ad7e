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

from .client import FINAL_STATES, JobClient, JobHandle, JobState
from .manifest import JobFailure, JobTimes, Manifest
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
from .submit import get_job, submit_detection, submit_matching, submit_pipeline

__all__ = (
    'FINAL_STATES',
    'GPU_QUEUES',
    'QUEUES',
    'ROUTES',
    'DetectionJob',
    'DetectionParameters',
    'JobClient',
    'JobFailure',
    'JobHandle',
    'JobSettings',
    'JobState',
    'JobTimes',
    'Manifest',
    'MatchingJob',
    'PipelineJob',
    'WorkerSettings',
    'build',
    'check_paths',
    'get_job',
    'job_id',
    'parse_job',
    'submit_detection',
    'submit_matching',
    'submit_pipeline',
)
