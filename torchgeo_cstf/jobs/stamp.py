"""The publish time of every job message, for queue-wait measurements.

Each message sent by a client or a worker (a submitted job, the chunks of a
large scene, a chord's merge, a replaced stage) carries the time it was
published in the header ``cstf_published`` (seconds since the epoch). Workers
turn it into the ``cstf_job_queue_wait_seconds`` histogram and the manifests'
``times``; the queue exporter into the age of a queue's oldest message. The
clocks of clients and workers should agree (NTP): the wait is the difference
of two hosts' clocks.
"""

from __future__ import annotations

import time
from typing import Any

from celery.signals import before_task_publish

#: the message header that holds the publish time
PUBLISHED_HEADER = 'cstf_published'


def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_HEADER, time.time())


def stamp_published_messages() -> None:
    """Put the publish time into every task message this process sends (idempotent)."""
    before_task_publish.connect(_stamp, weak=False, dispatch_uid=PUBLISHED_HEADER)


def published_at(headers: Any) -> float | None:
    """The publish time in a message's headers (or a task request), if any."""
    value = (
        headers.get(PUBLISHED_HEADER)
        if isinstance(headers, dict)
        else getattr(headers, PUBLISHED_HEADER, None)
    )
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
