"""How many jobs each queue holds: waiting in Redis and reserved by workers.

Autoscaling on the length of a queue's Redis list alone (what KEDA's ``redis``
trigger reads) misses the jobs workers have already taken: with late
acknowledgement a running job's message sits in kombu's ``unacked`` hash until
the job ends. While N workers are busy and nothing waits, the list is empty
and a scaler would remove busy workers. The true depth is waiting + reserved;
:class:`QueueDepthCollector` exports both, and their sum, for Prometheus
(``cstf queue-metrics``). Messages of other priorities than 0 live in
sub-lists named queue + ``PRIORITY_SEPARATOR`` + priority: they are counted
too, although the job system sends none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from .settings import QUEUES
from .stamp import published_at

#: kombu's hash of reserved-but-unacknowledged messages (its default key)
UNACKED_KEY = 'unacked'
#: separator of kombu's priority sub-lists (``queue + SEP + priority``)
PRIORITY_SEPARATOR = '\x06\x16'
#: the gauges of :class:`QueueDepthCollector` → their help text
EXPORTED = {
    'cstf_redis_up': 'Whether the broker answered (1/0)',
    'cstf_queue_waiting': 'Jobs waiting in the queue',
    'cstf_queue_reserved': 'Jobs taken by workers and not acknowledged (running)',
    'cstf_queue_depth': 'Waiting + reserved jobs: what autoscaling reads',
    'cstf_queue_oldest_age_seconds': (
        'Seconds the oldest waiting job has waited (0: none waits)'
    ),
}


@dataclass(frozen=True)
class QueueDepth:
    """The jobs of one queue at one moment.

    Attributes:
        queue: the queue.
        waiting: messages in the queue's lists (all priorities).
        reserved: messages taken by workers and not acknowledged yet (the
            jobs running, or reserved by a worker that died and not yet
            restored).
        oldest_age: seconds since the oldest waiting message was published
            (``None``: nothing waits, or its publish time is unknown).
    """

    queue: str
    waiting: int
    reserved: int
    oldest_age: float | None

    @property
    def depth(self) -> int:
        """Waiting + reserved: the workers this queue keeps busy."""
        return self.waiting + self.reserved


def queue_lists(queue: str) -> list[str]:
    """The Redis lists of a queue: its own and its priority sub-lists."""
    return [queue] + [f'{queue}{PRIORITY_SEPARATOR}{p}' for p in range(1, 10)]


def reserved_by_queue(client: Any) -> dict[str, int]:
    """Count the unacknowledged messages of each queue (by routing key)."""
    counts: dict[str, int] = {}
    for raw in client.hvals(UNACKED_KEY):
        try:
            _, _, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        counts[str(routing_key)] = counts.get(str(routing_key), 0) + 1
    return counts


def _age(raw: bytes | None, now: float) -> float | None:
    if raw is None:
        return None
    try:
        headers = json.loads(raw).get('headers') or {}
    except (ValueError, AttributeError):
        return None
    published = published_at(headers)
    return None if published is None else max(0.0, now - published)


def queue_depths(
    client: Any, queues: Sequence[str] = QUEUES, now: float | None = None
) -> list[QueueDepth]:
    """The depth of each queue, read in one round trip (plus one for ``unacked``).

    Args:
        client: a ``redis.Redis`` client of the broker's database.
        queues: the queues.
        now: the time ages are measured at (default now).

    Returns:
        One :class:`QueueDepth` per queue, in the given order.
    """
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for key in queue_lists(queue):
            pipe.llen(key)
        pipe.lindex(queue, -1)  # kombu pushes left and pops right: the oldest
    replies = pipe.execute()
    reserved = reserved_by_queue(client)
    depths = []
    step = len(queue_lists(queues[0])) + 1 if queues else 0
    for index, queue in enumerate(queues):
        chunk = replies[index * step : (index + 1) * step]
        depths.append(
            QueueDepth(
                queue,
                waiting=int(sum(chunk[:-1])),
                reserved=reserved.get(queue, 0),
                oldest_age=_age(chunk[-1], now),
            )
        )
    return depths


class QueueDepthCollector(Collector):
    """Prometheus collector of :func:`queue_depths`, read at each scrape.

    Exports ``cstf_queue_waiting``, ``cstf_queue_reserved``,
    ``cstf_queue_depth`` (their sum: the scaling metric) and
    ``cstf_queue_oldest_age_seconds`` per queue, and ``cstf_redis_up`` (0 when
    Redis did not answer; the queue series are then absent rather than 0, so
    a scaler does not read an outage as an empty queue).

    Args:
        client: a ``redis.Redis`` client of the broker's database.
        queues: the queues to export.
    """

    def __init__(self, client: Any, queues: Sequence[str] = QUEUES) -> None:
        """Keep the client; nothing is read before the first scrape."""
        self.client = client
        self.queues = tuple(queues)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Read the queues once and yield the metric families."""
        up = GaugeMetricFamily('cstf_redis_up', EXPORTED['cstf_redis_up'])
        try:
            depths = queue_depths(self.client, self.queues)
        except (RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _families(depths)


def _families(depths: Iterable[QueueDepth]) -> Iterator[GaugeMetricFamily]:
    families = {
        field: GaugeMetricFamily(name, EXPORTED[name], labels=['queue'])
        for field, name in (
            ('waiting', 'cstf_queue_waiting'),
            ('reserved', 'cstf_queue_reserved'),
            ('depth', 'cstf_queue_depth'),
            ('oldest_age', 'cstf_queue_oldest_age_seconds'),
        )
    }
    for item in depths:
        families['waiting'].add_metric([item.queue], item.waiting)
        families['reserved'].add_metric([item.queue], item.reserved)
        families['depth'].add_metric([item.queue], item.depth)
        families['oldest_age'].add_metric([item.queue], item.oldest_age or 0.0)
    yield from families.values()
