"""A heartbeat file for liveness and readiness probes, written by a consumer bootstep.

Asking a worker whether it lives (``celery inspect ping``) costs an app import
and a broadcast through the broker per probe, and a busy single-process worker
does not answer. Instead, the worker's consumer touches a file every
``CSTF_HEARTBEAT_INTERVAL`` seconds from its event loop, and writes its state
into it: ``ready`` while it consumes, ``stopping`` once a shutdown or a lost
broker connection stopped it. ``python -m workers.probe`` reads the file:
its age says whether the event loop runs, its content whether the worker takes
jobs. A prefork worker's event loop runs while jobs run in its children; a
``solo`` worker's does not, so give a solo worker a liveness age above the
time limit. While the broker is unreachable the consumer retries its
connection instead of running its loop: the file says ``stopping`` and ages,
so a liveness probe restarts a worker cut off for longer than its age limit.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from torchgeo_cstf.jobs.liveness import READY, STOPPING, write_state
from torchgeo_cstf.jobs.settings import WorkerSettings


class Heartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: ``ready`` + a beat every interval; ``stopping`` on stop."""

    requires = ('celery.worker.consumer.tasks:Tasks',)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        """Read the file's path and interval from the environment."""
        super().__init__(parent, **kwargs)
        settings = WorkerSettings.from_env()
        self.path = settings.heartbeat_file
        self.interval = settings.heartbeat_interval
        self.state = STOPPING
        self.timer_entry: Any = None

    def _beat(self) -> None:
        if self.path is not None:
            write_state(self.path, self.state)

    def start(self, parent: Any) -> None:
        """The consumer takes jobs (first start, or after a reconnection)."""
        if self.path is None:
            return
        self.state = READY
        self._beat()
        self._cancel()
        self.timer_entry = parent.timer.call_repeatedly(
            self.interval, self._beat, priority=10
        )

    def _cancel(self) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def stop(self, parent: Any) -> None:
        """Shutdown, or a lost connection: not ready, no beat until started again.

        (A consumer that restarts clears its timer, so the beat is set again
        by :meth:`start`.)
        """
        if self.path is None:
            return
        self._cancel()
        self.state = STOPPING
        self._beat()

    def shutdown(self, parent: Any) -> None:
        """The worker exits."""
        self.stop(parent)
