"""Find the jobs whose message Redis lost, and queue them again.

kombu's Redis transport takes a message off its queue's list (``BRPOP``) and
only then records it as unacknowledged; a Redis that dies between the two has
removed a message that no worker holds, and its job (or one chunk of a chunked
detection) never ends by itself (``docs/jobs.md``). Such a job is *lost*:
submitted, not ended, and no message of it anywhere — not waiting in a queue's
lists, not reserved by a worker (kombu's ``unacked`` hash holds every message a
worker has taken and not acknowledged, running or waiting for its retry).

A job's messages are its own (task id = job id: the job, its pipeline's
detection stage, a chunked detection's merge) and its chunks'
(``<job id>-chunk-<n>``). A message in flight — between ``BRPOP`` and the
``unacked`` record, or a chord's merge about to be sent — is missing for
milliseconds: a job counts as lost only when two looks ``grace`` seconds apart
both find nothing of it.

Queuing a lost job again sends its stored spec under the same id: its
submission and any cancel request stay (a lost job being cancelled then ends
``cancelled``), its progress is cleared, and the outputs are written once (the
worker's idempotence: ``OUT/<job id>/``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from typing import Any

from ..errors import InputError
from .client import FINAL_STATES, JobClient, reachable
from .depth import UNACKED_KEY, queue_lists
from .settings import QUEUES
from .state import job_of_task, progress_key, submitted_key

#: seconds between the two looks that must both find nothing of a lost job
GRACE = 10.0


def _task_id(message: Any) -> str | None:
    """The task id in a kombu message (a JSON object), or None without one."""
    headers = message.get('headers') if isinstance(message, dict) else None
    task_id = headers.get('id') if isinstance(headers, dict) else None
    return task_id if isinstance(task_id, str) else None


def _loads(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def held_task_ids(broker: Any, queues: Iterable[str] = QUEUES) -> set[str]:
    """Task ids of every message waiting in the queues or held by a worker.

    Args:
        broker: a ``redis.Redis`` client of the broker's database.
        queues: the queues (each with its priority sub-lists).

    Returns:
        The ids; messages that are not JSON or carry no id are skipped.
    """
    pipe = broker.pipeline(transaction=False)
    for queue in queues:
        for key in queue_lists(queue):
            pipe.lrange(key, 0, -1)
    pipe.hvals(UNACKED_KEY)
    *waiting, reserved = pipe.execute()
    messages = [_loads(raw) for replies in waiting for raw in replies]
    for raw in reserved:  # unacked: [message, exchange, routing key]
        entry = _loads(raw)
        messages.append(entry[0] if isinstance(entry, list) and entry else None)
    return {i for i in map(_task_id, messages) if i is not None}


def unfinished_jobs(client: JobClient) -> list[str]:
    """Ids of the submitted jobs that have not ended (queued, running, cancelling)."""
    prefix = submitted_key('')
    ids = []
    with reachable(client.settings):
        for key in client.redis.scan_iter(match=f'{prefix}*', count=500):
            job_id = (key.decode() if isinstance(key, bytes) else key)[len(prefix) :]
            if client.job(job_id).state not in FINAL_STATES:
                ids.append(job_id)
    return sorted(ids)


def find_lost_jobs(client: JobClient) -> list[str]:
    """One look: the unfinished jobs of which no message is waiting or held.

    A job found here may still be a message in flight; :func:`recover_lost_jobs`
    looks twice.
    """
    candidates = unfinished_jobs(client)
    if not candidates:
        return []
    with reachable(client.settings):
        held = {job_of_task(i) for i in held_task_ids(client.settings.broker_redis())}
    return [job_id for job_id in candidates if job_id not in held]


def requeue(client: JobClient, job_id: str) -> bool:
    """Send a lost job's stored spec again under its id.

    Returns:
        False when there was nothing to send: the submission expired since it
        was found (``CSTF_RESULT_EXPIRES``).
    """
    with reachable(client.settings):
        raw = client.redis.get(submitted_key(job_id))
        if raw is None:
            return False
        spec = json.loads(raw)
        client.redis.delete(progress_key(job_id))
        client.app.backend.forget(job_id)
        client.send(job_id, spec)
    return True


def recover_lost_jobs(
    client: JobClient, grace: float = GRACE, *, dry_run: bool = False
) -> list[str]:
    """Queue again every job whose messages are gone (see the module docstring).

    Args:
        client: the job client (broker, backend).
        grace: seconds between the two looks that must both find a job lost.
        dry_run: only report the lost jobs.

    Returns:
        The ids of the lost jobs, queued again unless ``dry_run`` (a job whose
        submission expired meanwhile is left out: nothing to send).

    Raises:
        InputError: a negative or non-finite ``grace``.
        BrokerUnavailableError: Redis cannot be reached.
    """
    if not 0 <= grace < math.inf:
        raise InputError('grace', f'must be 0 or more seconds, got {grace}')
    first = find_lost_jobs(client)
    if not first:
        return []
    time.sleep(grace)
    lost = sorted(set(first) & set(find_lost_jobs(client)))
    if dry_run:
        return lost
    return [job_id for job_id in lost if requeue(client, job_id)]


__all__ = [
    'GRACE',
    'find_lost_jobs',
    'held_task_ids',
    'recover_lost_jobs',
    'requeue',
    'unfinished_jobs',
]
