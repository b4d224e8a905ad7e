"""Job markers kept next to the results in Redis: submitted, cancelled, progress.

Celery's result backend stores a job's state and result under its id; these
few extra keys (same Redis, same expiry) let a client tell a queued job from an
unknown one, cancel a job cooperatively on any worker, and sum the progress
of a job split into chunks.
"""

from __future__ import annotations

import json
from typing import Any

#: key prefix of every marker
PREFIX = 'cstf'


#: between a chunked detection's job id and its chunk's index in the chunk's task id
CHUNK_SEPARATOR = '-chunk-'


def chunk_task_id(job_id: str, chunk: int) -> str:
    """The task id of chunk ``chunk`` of a chunked detection."""
    return f'{job_id}{CHUNK_SEPARATOR}{chunk}'


def job_of_task(task_id: str) -> str:
    """The job a task id belongs to: a chunk's job, else the id itself."""
    return task_id.split(CHUNK_SEPARATOR, 1)[0]


def submitted_key(job_id: str) -> str:
    """Key holding a submitted job's spec (set once, when first submitted)."""
    return f'{PREFIX}:job:{job_id}'


def cancel_key(job_id: str) -> str:
    """Key whose presence asks every worker to stop the job."""
    return f'{PREFIX}:cancel:{job_id}'


def progress_key(job_id: str) -> str:
    """Hash of tiles done per chunk of a chunked detection (and ``total``)."""
    return f'{PREFIX}:progress:{job_id}'


def mark_submitted(
    client: Any, job_id: str, spec: dict[str, Any], expires: int
) -> bool:
    """Record a submission; False when the job was already submitted."""
    return bool(
        client.set(submitted_key(job_id), json.dumps(spec), nx=True, ex=expires)
    )


def forget_submission(client: Any, job_id: str) -> None:
    """Drop the submission marker (to submit the job again)."""
    client.delete(submitted_key(job_id), cancel_key(job_id), progress_key(job_id))


def is_submitted(client: Any, job_id: str) -> bool:
    """Whether the job was submitted (and its marker has not expired)."""
    return bool(client.exists(submitted_key(job_id)))


def request_cancel(client: Any, job_id: str, expires: int) -> None:
    """Ask workers to stop the job (checked before it starts and between batches)."""
    client.set(cancel_key(job_id), '1', ex=expires)


def is_cancelled(client: Any, job_id: str) -> bool:
    """Whether cancelling the job was requested."""
    return bool(client.exists(cancel_key(job_id)))


def record_chunk_progress(
    client: Any, job_id: str, chunk: int, done: int, total: int, expires: int
) -> int:
    """Store one chunk's tiles done; returns the job's tiles done over all chunks."""
    key = progress_key(job_id)
    pipe = client.pipeline()
    pipe.hset(key, mapping={str(chunk): done, 'total': total})
    pipe.expire(key, expires)
    pipe.hgetall(key)
    values: dict[bytes, bytes] = pipe.execute()[-1]
    return sum(int(v) for k, v in values.items() if k != b'total')
